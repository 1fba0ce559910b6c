package authn_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

func TestRegisterValidation(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		password string
		userName string
		field    string
	}{
		{"invalid email", "not-an-email", adaPassword, "", "email"},
		{"empty email", "", adaPassword, "", "email"},
		{"password of 7 characters", adaEmail, "1234567", "", "password"},
		{"password of 129 characters", adaEmail, strings.Repeat("p", 129), "", "password"},
		{"password of 7 two-byte characters", adaEmail, "ééééééé", "", "password"},
		{"password equal to the email", "Grace.Hopper@Example.com", "grace.hopper@example.com", "", "password"},
		{"password equal to the email as typed", " Grace.Hopper@Example.com ", "Grace.Hopper@Example.com", "", "password"},
		{"name of 101 characters", adaEmail, adaPassword, strings.Repeat("n", 101), "name"},
		{"name with a control character", adaEmail, adaPassword, "Ada\x00", "name"},
		{"name of only spaces", adaEmail, adaPassword, "   ", "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.Register(e.ctx, authn.RegisterInput{
				Credentials: authn.Credentials{Email: tc.email, Password: tc.password}, Name: tc.userName,
			}, meta)
			wantField(t, err, tc.field)
			if n := e.store.UserCount(); n != 0 {
				t.Fatalf("a rejected registration created %d account(s)", n)
			}
		})
	}
}

func TestRegisterEmailTaken(t *testing.T) {
	e := newEnv(t)
	e.register(adaEmail, adaPassword)
	for _, email := range []string{adaEmail, "ADA@example.com", "  Ada@Example.COM  "} {
		_, err := e.svc.Register(e.ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: email, Password: "another password"}}, meta)
		wantErr(t, "Register("+email+")", err, user.ErrEmailTaken)
	}
	if n := e.store.UserCount(); n != 1 {
		t.Fatalf("%d accounts after duplicate registrations; want 1", n)
	}
	// The first account still logs in with its own password.
	e.login(adaEmail, adaPassword)
}

func TestRegisterReturnsFreshPairAndStoresAccount(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.Register(e.ctx, authn.RegisterInput{
		Credentials: authn.Credentials{Email: "  Ada.Lovelace@Example.COM ", Password: adaPassword},
		Name:        "  Ada Lovelace ",
	}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Email != "ada.lovelace@example.com" || p.User.Name != "Ada Lovelace" || !slices.Equal(p.User.Roles, []string{user.RoleUser}) {
		t.Fatalf("user = %+v; want normalized email, trimmed name, role user", p.User)
	}
	sameTime(t, "user.CreatedAt", p.User.CreatedAt, t0)
	stored := e.storedUser(p.User.ID)
	if stored.Email != "ada.lovelace@example.com" {
		t.Fatalf("stored email %q; want normalized", stored.Email)
	}
	if stored.PasswordHash != fakes.Encoded(1, adaPassword) {
		t.Fatalf("stored password hash %q; want the hasher's output for the password", stored.PasswordHash)
	}

	c := e.claims(p.AccessToken)
	if !c.Fresh {
		t.Error("access token after register is not fresh")
	}
	sameTime(t, "auth_time", c.AuthTime, t0)
	sameTime(t, "iat", c.IssuedAt, t0)
	sameTime(t, "exp", c.ExpiresAt, t0.Add(accessTTL))
	if p.ExpiresIn != accessTTL {
		t.Errorf("ExpiresIn = %v; want %v", p.ExpiresIn, accessTTL)
	}
	if c.Subject != p.User.ID || c.SessionID != p.Session.ID || c.ID == "" {
		t.Errorf("claims sub=%q sid=%q jti=%q; want user %q, session %q, a token id", c.Subject, c.SessionID, c.ID, p.User.ID, p.Session.ID)
	}
	if !slices.Equal(c.Methods, []string{auth.MethodPassword}) || !slices.Equal(c.Roles, []string{user.RoleUser}) {
		t.Errorf("amr=%v roles=%v", c.Methods, c.Roles)
	}
	if len(p.RefreshToken) != session.RefreshTokenLength {
		t.Fatalf("refresh token %q; want %d characters", p.RefreshToken, session.RefreshTokenLength)
	}

	s := e.storedSession(p.Session.ID)
	if s.UserID != p.User.ID || s.UserAgent != meta.UserAgent || s.IP != meta.IP || s.Generation != 1 {
		t.Fatalf("stored session %+v", s)
	}
	sameTime(t, "session expiry", p.Session.ExpiresAt(), t0.Add(idleTTL))

	// The pair works.
	e.principal(p.AccessToken)
	e.refresh(p.RefreshToken)
}

func TestRegisterWithoutName(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.Register(e.ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Name != "" {
		t.Fatalf("name %q; want empty", p.User.Name)
	}
}

func TestRegisterAcceptsUnicodePasswordByCharacters(t *testing.T) {
	e := newEnv(t)
	// 8 characters, 10 bytes; and 128 emoji (512 bytes), not truncated.
	e.register("a@example.com", "pässwörd")
	e.login("a@example.com", "pässwörd")

	// One repeated character is refused as a password, so the long one
	// ends in a different emoji: 128 characters in all.
	long := strings.Repeat("🔑", 127) + "🔒"
	e.register("b@example.com", long)
	e.login("b@example.com", long)
	_, err := e.svc.Login(e.ctx, authn.Credentials{Email: "b@example.com", Password: string([]rune(long)[:127])}, meta)
	wantErr(t, "login with the password's first 127 characters", err, auth.ErrInvalidCredentials)
}

func TestLoginSucceeds(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Hour)
	now := t0.Add(time.Hour)

	p := e.login("  ADA@Example.com ", adaPassword)
	if p.User.ID != reg.User.ID {
		t.Fatalf("logged in as %q; want %q", p.User.ID, reg.User.ID)
	}
	if p.Session.ID == reg.Session.ID {
		t.Fatal("login reused the registration's session; it must start a new one")
	}
	c := e.claims(p.AccessToken)
	if !c.Fresh || c.SessionID != p.Session.ID {
		t.Fatalf("claims fresh=%v sid=%q; want fresh, session %q", c.Fresh, c.SessionID, p.Session.ID)
	}
	sameTime(t, "auth_time", c.AuthTime, now)
	if p.RefreshToken == reg.RefreshToken || len(p.RefreshToken) != session.RefreshTokenLength {
		t.Fatalf("refresh token %q", p.RefreshToken)
	}
	// Both sessions are live.
	if !e.storedSession(reg.Session.ID).Active(now) {
		t.Fatal("login ended the earlier session")
	}
	e.principal(p.AccessToken)

	// One for the registration (which proves the password too), one for the login.
	ok := e.store.EventsOfType(reg.User.ID, audit.LoginSucceeded)
	if len(ok) != 2 || ok[0].SessionID != reg.Session.ID {
		t.Fatalf("%d login_succeeded events %+v; want the registration's and the login's", len(ok), ok)
	}
	ev := ok[1]
	if ev.SessionID != p.Session.ID || ev.IP != meta.IP || ev.UserAgent != meta.UserAgent {
		t.Fatalf("login_succeeded event %+v; want session %s with client data", ev, p.Session.ID)
	}
	sameTime(t, "event time", ev.CreatedAt, now)
}

func TestLoginWrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	before := e.hasher.Calls()

	_, errWrong := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta)
	wantErr(t, "wrong password", errWrong, auth.ErrInvalidCredentials)
	afterWrong := e.hasher.Calls()
	if afterWrong.Verify != before.Verify+1 {
		t.Fatalf("wrong password: %d Verify calls; want 1", afterWrong.Verify-before.Verify)
	}

	_, errUnknown := e.svc.Login(e.ctx, authn.Credentials{Email: "nobody@example.com", Password: "whatever pw"}, meta)
	wantErr(t, "unknown email", errUnknown, auth.ErrInvalidCredentials)
	if errWrong.Error() != errUnknown.Error() {
		t.Fatalf("wrong password says %q, unknown email says %q; want one answer", errWrong, errUnknown)
	}
	afterUnknown := e.hasher.Calls()
	if afterUnknown.VerifyDummy != afterWrong.VerifyDummy+1 {
		t.Fatalf("unknown email: %d VerifyDummy calls; want 1 (same hashing work as a wrong password)", afterUnknown.VerifyDummy-afterWrong.VerifyDummy)
	}

	_, errShape := e.svc.Login(e.ctx, authn.Credentials{Email: "not an email", Password: "whatever pw"}, meta)
	wantErr(t, "malformed email", errShape, auth.ErrInvalidCredentials)
	if c := e.hasher.Calls(); c.VerifyDummy != afterUnknown.VerifyDummy+1 {
		t.Fatalf("malformed email: %d VerifyDummy calls; want 1", c.VerifyDummy-afterUnknown.VerifyDummy)
	}

	// One failure recorded, for the existing account only; no new session.
	failed := e.store.EventsOfType(reg.User.ID, audit.LoginFailed)
	if len(failed) != 1 || failed[0].IP != meta.IP || failed[0].UserAgent != meta.UserAgent || failed[0].SessionID != "" {
		t.Fatalf("login_failed events %+v; want one with client data and no session", failed)
	}
	for _, ev := range e.store.AllEvents() {
		if ev.UserID != reg.User.ID {
			t.Fatalf("event %+v recorded for something other than the existing account", ev)
		}
		if ev.Type == audit.LoginSucceeded && ev.SessionID != reg.Session.ID {
			t.Fatalf("a failed login recorded %+v", ev)
		}
	}
	if n := len(e.store.SessionsOf(reg.User.ID)); n != 1 {
		t.Fatalf("%d sessions after failed logins; want only the registration's", n)
	}
}

func TestLoginRehashesWhenHashIsOutdated(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.hasher.SetVersion(2)
	e.clock.Advance(time.Minute)

	e.login(adaEmail, adaPassword)
	u := e.storedUser(reg.User.ID)
	if u.PasswordHash != fakes.Encoded(2, adaPassword) {
		t.Fatalf("stored hash %q after login; want it upgraded to %q", u.PasswordHash, fakes.Encoded(2, adaPassword))
	}
	// The same password in a new hash is no change of the account: the
	// upgrade writes the hash alone.
	sameTime(t, "updatedAt after rehash", u.UpdatedAt, t0)
	if u.CredentialVersion != 0 {
		t.Fatalf("the upgrade moved the credential version to %d", u.CredentialVersion)
	}
	// The upgraded hash keeps working and is not rehashed again.
	hashes := e.hasher.Calls().Hash
	e.login(adaEmail, adaPassword)
	if c := e.hasher.Calls(); c.Hash != hashes {
		t.Fatalf("login with an up-to-date hash hashed %d time(s)", c.Hash-hashes)
	}
}

func TestLoginRehashSwitch(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Hour)

	// Not needed: nothing written.
	hashes := e.hasher.Calls().Hash
	e.login(adaEmail, adaPassword)
	if e.hasher.Calls().Hash != hashes || !e.storedUser(reg.User.ID).UpdatedAt.Equal(t0) {
		t.Fatal("login rewrote a hash that did not need it")
	}
	// A wrong password never rehashes, even when the hash is outdated.
	e.hasher.SetNeedsRehash(true)
	_, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta)
	wantErr(t, "wrong password", err, auth.ErrInvalidCredentials)
	if e.hasher.Calls().Hash != hashes {
		t.Fatal("a failed login rehashed the password")
	}
	// Needed: rehashed and written.
	e.hasher.SetVersion(2)
	e.login(adaEmail, adaPassword)
	if e.hasher.Calls().Hash != hashes+1 {
		t.Fatalf("%d Hash calls on a login needing rehash; want 1", e.hasher.Calls().Hash-hashes)
	}
	if got := e.storedUser(reg.User.ID).PasswordHash; got != fakes.Encoded(2, adaPassword) {
		t.Fatalf("stored hash %q; want the upgraded one", got)
	}
}

func TestLoginIsAtomic(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	boom := errors.New("audit log down")
	e.store.Audit.FailAppend(boom)
	_, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta)
	wantErr(t, "login while the audit log fails", err, boom)
	if n := len(e.store.SessionsOf(reg.User.ID)); n != 1 {
		t.Fatalf("%d sessions after a failed login; the session must roll back with the event", n)
	}
}

func TestUserAgentIsBoundedAndStaysValidUTF8(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)

	long := strings.Repeat("a", 600)
	p, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authn.Meta{UserAgent: long})
	if err != nil {
		t.Fatal(err)
	}
	if ua := e.storedSession(p.Session.ID).UserAgent; ua != long[:512] {
		t.Fatalf("stored user agent of %d bytes; want the first 512", len(ua))
	}

	// A multi-byte character straddling byte 512 must not be cut in half:
	// PostgreSQL refuses invalid UTF-8 in text columns, which would fail the
	// login, and the session list would show a broken character.
	straddling := strings.Repeat("a", 511) + "é" + "tail"
	p, err = e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authn.Meta{UserAgent: straddling})
	if err != nil {
		t.Fatal(err)
	}
	ua := e.storedSession(p.Session.ID).UserAgent
	if !utf8.ValidString(ua) || len(ua) > 512 || !strings.HasPrefix(straddling, ua) {
		t.Fatalf("stored user agent %q (%d bytes, valid UTF-8: %v); want a valid prefix of at most 512 bytes", ua[500:], len(ua), utf8.ValidString(ua))
	}
	for _, ev := range e.store.EventsOfType(reg.User.ID, audit.LoginSucceeded) {
		if !utf8.ValidString(ev.UserAgent) {
			t.Fatalf("event user agent is not valid UTF-8: %q", ev.UserAgent[500:])
		}
	}
}

// A password change that commits between the password check and the
// session's start wins: the login fails as with a wrong password and opens
// no session, so the change's "revoke every other session" misses none.
func TestLoginRacingACredentialChangeOpensNoSession(t *testing.T) {
	clock, store := fakes.NewClock(t0), fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	var userID string
	svc := newService(clock, store, tokens, func(d *deps) {
		d.Hasher = bumpingHasher{PasswordHasher: fakes.NewHasher(), users: store.Users, userID: &userID}
	})
	reg, err := svc.Register(t.Context(), authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}, Name: "Ada"}, meta)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	userID = reg.User.ID
	_, err = svc.Login(t.Context(), authn.Credentials{Email: adaEmail, Password: adaPassword}, meta)
	wantErr(t, "login racing a credential change", err, auth.ErrInvalidCredentials)
	if n := len(store.SessionsOf(userID)); n != 1 {
		t.Fatalf("%d sessions after the raced login, want only the registration's", n)
	}
}
