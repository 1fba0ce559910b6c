package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

var t0 = time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)

const (
	adaEmail    = "ada@example.com"
	adaPassword = "correct horse battery"
	newPassword = "tr0ub4dor & 3"
)

var (
	authMeta = authn.Meta{IP: "203.0.113.7", UserAgent: "TestAgent/1.0"}
	meta     = account.Meta{IP: "198.51.100.4", UserAgent: "Settings/3"}
)

// env runs the account service next to the auth service on one fake store,
// so accounts and sessions are made and observed the way clients do.
type env struct {
	t      *testing.T
	ctx    context.Context
	clock  *fakes.Clock
	store  *fakes.Store
	hasher *fakes.Hasher
	auth   *authInteractors
	svc    interactors
}

// deps are the ports and settings the account interactors of a test are
// built from; each interactor takes the ones it calls.
type deps struct {
	Users              *fakes.Users
	Sessions           account.SessionRevoker
	Audit              *fakes.Audit
	Tx                 account.Transactor
	Hasher             account.PasswordHasher
	Clock              account.Clock
	Guard              account.PasswordGuard
	Throttle           account.Throttle
	EmailChangePolicy  throttle.Policy
	Cache              account.SessionCache
	EventRetention     time.Duration
	Mail               account.EmailChangeMail
	Locales            []string
	ConfirmEmailChange bool
	StepUp             auth.StepUpPolicy
}

// interactors are the account interactors the tests act through.
type interactors struct {
	*account.ProfileReader
	*account.ProfileEditor
	*account.PasswordChanger
	*account.EmailChanger
	*account.AccountDeleter
	*account.SecurityEventListing
	*account.EventPurger
}

func newInteractors(d deps) interactors {
	return interactors{
		ProfileReader: account.NewProfileReader(d.Users),
		ProfileEditor: account.NewProfileEditor(d.Users, d.Tx, d.Clock, d.Locales),
		PasswordChanger: account.NewPasswordChanger(account.PasswordChangerDeps{
			Users: d.Users, Hasher: d.Hasher, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
			Guard: d.Guard, Cache: d.Cache, StepUp: d.StepUp,
		}),
		EmailChanger: account.NewEmailChanger(account.EmailChangerDeps{
			Users: d.Users, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Throttle: d.Throttle,
			Policy: d.EmailChangePolicy, Mail: d.Mail, Confirm: d.ConfirmEmailChange, StepUp: d.StepUp,
		}),
		AccountDeleter:       account.NewAccountDeleter(d.Users, d.Audit, d.Tx, d.Clock, d.Cache, d.StepUp),
		SecurityEventListing: account.NewSecurityEventListing(d.Audit),
		EventPurger:          account.NewEventPurger(d.Audit, d.Clock, d.EventRetention),
	}
}

// authInteractors are the auth interactors the tests act through.
type authInteractors struct {
	*authn.Registrar
	*authn.PasswordLogin
	*authn.Refresher
	*authn.Authenticator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	hasher := fakes.NewHasher()
	tokens := fakes.NewTokens(clock, 15*time.Minute)
	policy := session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}
	codec := fakes.NewCodec()
	opener := authn.NewSessionOpener(authn.SessionOpenerDeps{
		Starter: store.Sessions, Capper: store.Sessions, Codec: codec, Tokens: tokens, Audit: store.Audit, Policy: policy,
	})
	authSvc := &authInteractors{
		Registrar: authn.NewRegistrar(authn.RegistrarDeps{
			Users: store.Users, Hasher: hasher, Sessions: opener, Audit: store.Audit, Tx: store, Clock: clock,
		}),
		PasswordLogin: authn.NewPasswordLogin(authn.PasswordLoginDeps{
			Users: store.Users, Hasher: hasher,
			SignInDeps: authn.SignInDeps{Sessions: opener, Audit: store.Audit, Tx: store, Clock: clock},
		}),
		Refresher: authn.NewRefresher(authn.RefresherDeps{
			Sessions: store.Sessions, Codec: codec, Tokens: tokens, Audit: store.Audit, Tx: store, Clock: clock, Policy: policy,
		}),
		Authenticator: authn.NewAuthenticator(tokens, store.Sessions, clock, nil),
	}
	svc := newInteractors(deps{
		StepUp: auth.StepUpPolicy{MaxAge: 10 * time.Minute},
		Users:  store.Users, Sessions: store.Sessions, Audit: store.Audit, Tx: store,
		Hasher: hasher, Clock: clock,
	})
	return &env{t: t, ctx: t.Context(), clock: clock, store: store, hasher: hasher, auth: authSvc, svc: svc}
}

// signUp registers an account and returns its first pair and principal.
func (e *env) signUp(email string) (authn.TokenPair, auth.Principal) {
	e.t.Helper()
	p, err := e.auth.Register(e.ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: email, Password: adaPassword}, Name: "Ada"}, authMeta)
	if err != nil {
		e.t.Fatalf("Register(%q): %v", email, err)
	}
	return p, e.principal(p.AccessToken)
}

func (e *env) login(email, password string) authn.TokenPair {
	e.t.Helper()
	p, err := e.auth.Login(e.ctx, authn.Credentials{Email: email, Password: password}, authMeta)
	if err != nil {
		e.t.Fatalf("Login(%q): %v", email, err)
	}
	return p
}

func (e *env) principal(access string) auth.Principal {
	return fakes.MustPrincipal(e.t, e.auth, access)
}

func (e *env) storedUser(id string) user.User { return e.store.MustUser(e.t, id) }

func TestMe(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp("Ada@Example.com")
	u, err := e.svc.Me(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != reg.User.ID || u.Email != adaEmail || u.Name != "Ada" || len(u.Roles) != 1 || u.Roles[0] != user.RoleUser {
		t.Fatalf("Me = %+v", u)
	}
	if err := e.store.Users.Delete(e.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// A principal carries the user loaded with its session check; one that
	// does not (or a request after deletion, whose check fails first) finds
	// no account.
	_, err = e.svc.Me(e.ctx, auth.Principal{Claims: p.Claims})
	wantErr(t, "Me of a deleted account", err, auth.ErrSessionRevoked)
}

func TestUpdateProfile(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	e.clock.Advance(time.Hour)
	name := func(s string) account.ProfileInput { return account.ProfileInput{Name: &s} }

	u, err := e.svc.UpdateProfile(e.ctx, p, name("  Augusta Ada King  "))
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Augusta Ada King" || !u.UpdatedAt.Equal(t0.Add(time.Hour)) || u.Locale != "en" {
		t.Fatalf("UpdateProfile = %+v; want trimmed name, updatedAt now, locale kept", u)
	}
	stored := e.storedUser(reg.User.ID)
	if stored.Name != "Augusta Ada King" || stored.Email != adaEmail || stored.PasswordHash != reg.User.PasswordHash {
		t.Fatalf("stored %+v; want only the name changed", stored)
	}

	for _, bad := range []string{"", "   ", strings.Repeat("n", 101), "Ada\nKing", "Ada\x00"} {
		_, err := e.svc.UpdateProfile(e.ctx, p, name(bad))
		wantField(t, err, "name")
		if got := e.storedUser(reg.User.ID).Name; got != "Augusta Ada King" {
			t.Fatalf("rejected name %q changed the stored name to %q", bad, got)
		}
	}
	u, err = e.svc.UpdateProfile(e.ctx, p, name(strings.Repeat("é", 100)))
	if err != nil || u.Name != strings.Repeat("é", 100) {
		t.Fatalf("100-character name: %q, %v", u.Name, err)
	}
	if _, err := e.svc.UpdateProfile(e.ctx, p, account.ProfileInput{}); err == nil {
		t.Fatal("an empty change passed")
	}
}

// The mail language is one of the configured locales, case-insensitively,
// stored as the locale is spelled; a bad one changes nothing, and a bad
// name beside it is reported too.
func TestUpdateLocale(t *testing.T) {
	e := newEnv(t)
	e.svc = newInteractors(deps{Users: e.store.Users, Tx: e.store, Clock: e.clock, Locales: []string{"en", "de"}})
	reg, p := e.signUp(adaEmail)
	de := "DE"
	u, err := e.svc.UpdateProfile(e.ctx, p, account.ProfileInput{Locale: &de})
	if err != nil || u.Locale != "de" || u.Name != "Ada" || e.storedUser(reg.User.ID).Locale != "de" {
		t.Fatalf("locale DE: %+v %v", u, err)
	}
	fr, empty := "fr", ""
	_, err = e.svc.UpdateProfile(e.ctx, p, account.ProfileInput{Locale: &fr, Name: &empty})
	var ve *user.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[1].Field != "locale" || ve.Fields[1].Message != "must be one of: en, de" {
		t.Fatalf("locale fr with an empty name: %v", err)
	}
	if got := e.storedUser(reg.User.ID); got.Locale != "de" || got.Name != "Ada" {
		t.Fatalf("a refused change changed %+v", got)
	}
}

func TestChangePasswordWrongCurrent(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	other := e.login(adaEmail, adaPassword)

	err := e.svc.ChangePassword(e.ctx, p, "not my password", newPassword, meta)
	wantField(t, err, "currentPassword")
	if errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatal("wrong current password must be a validation error, not invalid credentials (the caller is authenticated)")
	}
	if got := e.storedUser(reg.User.ID).PasswordHash; got != reg.User.PasswordHash {
		t.Fatal("password changed despite a wrong current password")
	}
	e.principal(other.AccessToken)
	if len(e.store.EventsOfType(reg.User.ID, audit.PasswordChanged)) != 0 {
		t.Fatal("password_changed recorded for a refused change")
	}
}

func TestChangePasswordWeakNew(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	for _, weak := range []string{"short", "1234567", strings.Repeat("x", 129), "ADA@example.com "} {
		err := e.svc.ChangePassword(e.ctx, p, adaPassword, weak, meta)
		wantField(t, err, "newPassword")
	}
	if got := e.storedUser(reg.User.ID).PasswordHash; got != reg.User.PasswordHash {
		t.Fatal("a weak new password was stored")
	}
}

func TestChangePasswordToSameIsRejected(t *testing.T) {
	e := newEnv(t)
	_, p := e.signUp(adaEmail)
	other := e.login(adaEmail, adaPassword)
	err := e.svc.ChangePassword(e.ctx, p, adaPassword, adaPassword, meta)
	wantField(t, err, "newPassword")
	// Nothing happened: the other session is still live.
	e.principal(other.AccessToken)
}

func TestChangePasswordSucceeds(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	second := e.login(adaEmail, adaPassword)
	third := e.login(adaEmail, adaPassword)
	bob, _ := e.signUp("bob@example.com")
	e.clock.Advance(time.Minute)

	if err := e.svc.ChangePassword(e.ctx, p, adaPassword, newPassword, meta); err != nil {
		t.Fatal(err)
	}
	if got := e.storedUser(reg.User.ID).PasswordHash; got != fakes.Encoded(1, newPassword) {
		t.Fatalf("stored hash %q; want the new password's", got)
	}
	_, err := e.auth.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authMeta)
	wantErr(t, "login with the old password", err, auth.ErrInvalidCredentials)
	e.login(adaEmail, newPassword)

	// Every other session ended; the caller's keeps working.
	for _, other := range []authn.TokenPair{second, third} {
		s, _ := e.store.Session(other.Session.ID)
		if !s.Revoked() || s.RevokeReason != session.ReasonPasswordChange {
			t.Fatalf("other session %s: revoked=%v reason=%q", s.ID, s.Revoked(), s.RevokeReason)
		}
		_, err := e.auth.Authenticate(e.ctx, other.AccessToken)
		wantErr(t, "access token of another session", err, auth.ErrSessionRevoked)
		_, err = e.auth.Refresh(e.ctx, other.RefreshToken, authMeta)
		wantErr(t, "refresh token of another session", err, session.ErrRefreshInvalid)
	}
	e.principal(reg.AccessToken)
	if _, err := e.auth.Refresh(e.ctx, reg.RefreshToken, authMeta); err != nil {
		t.Fatalf("the caller's session stopped working: %v", err)
	}
	// Another user is untouched.
	e.principal(bob.AccessToken)

	evs := e.store.EventsOfType(reg.User.ID, audit.PasswordChanged)
	if len(evs) != 1 || evs[0].SessionID != reg.Session.ID || evs[0].IP != meta.IP || evs[0].UserAgent != meta.UserAgent {
		t.Fatalf("password_changed events %+v", evs)
	}
	if !evs[0].CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("event time %v", evs[0].CreatedAt)
	}
}

func TestChangeEmail(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	e.signUp("bob@example.com")
	e.clock.Advance(5 * time.Minute)

	for _, taken := range []string{"bob@example.com", "BOB@Example.com", "  Bob@example.COM "} {
		_, err := e.svc.ChangeEmail(e.ctx, p, taken, meta)
		wantErr(t, "ChangeEmail("+taken+")", err, user.ErrEmailTaken)
	}
	_, err := e.svc.ChangeEmail(e.ctx, p, "not an email", meta)
	wantField(t, err, "email")
	if got := e.storedUser(reg.User.ID).Email; got != adaEmail {
		t.Fatalf("refused changes moved the email to %q", got)
	}

	ch, err := e.svc.ChangeEmail(e.ctx, p, "  Countess@Lovelace.ORG ", meta)
	if err != nil {
		t.Fatal(err)
	}
	if u := ch.User; ch.Pending || u.Email != "countess@lovelace.org" || !u.UpdatedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("ChangeEmail = %+v; want normalized email, updatedAt now", ch)
	}
	if got := e.storedUser(reg.User.ID).Email; got != "countess@lovelace.org" {
		t.Fatalf("stored email %q", got)
	}
	e.login("Countess@lovelace.org", adaPassword)
	_, err = e.auth.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authMeta)
	wantErr(t, "login with the old email", err, auth.ErrInvalidCredentials)
	// The old address is free again.
	e.signUp(adaEmail)

	evs := e.store.EventsOfType(reg.User.ID, audit.EmailChanged)
	if len(evs) != 1 || evs[0].SessionID != reg.Session.ID || evs[0].IP != meta.IP {
		t.Fatalf("email_changed events %+v", evs)
	}
}

func TestChangeEmailToSameIsNoOp(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	e.clock.Advance(5 * time.Minute)
	for _, same := range []string{adaEmail, "ADA@Example.com"} {
		ch, err := e.svc.ChangeEmail(e.ctx, p, same, meta)
		if err != nil {
			t.Fatalf("ChangeEmail to own address %q: %v", same, err)
		}
		if u := ch.User; u.Email != adaEmail || !u.UpdatedAt.Equal(t0) {
			t.Fatalf("no-op change returned %+v; want unchanged", ch)
		}
	}
	if !e.storedUser(reg.User.ID).UpdatedAt.Equal(t0) {
		t.Fatal("no-op email change touched the account")
	}
	if n := len(e.store.EventsOfType(reg.User.ID, audit.EmailChanged)); n != 0 {
		t.Fatalf("%d email_changed events for a no-op", n)
	}
}

func TestDeleteAccount(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	other := e.login(adaEmail, adaPassword)
	_, _ = e.auth.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, authMeta)
	bob, _ := e.signUp("bob@example.com")
	before := e.store.Events(reg.User.ID)
	if len(before) == 0 {
		t.Fatal("setup recorded no events")
	}

	if err := e.svc.DeleteAccount(e.ctx, p, meta); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.User(reg.User.ID); ok {
		t.Fatal("user still stored")
	}
	if n := len(e.store.SessionsOf(reg.User.ID)); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	_, err := e.svc.Me(e.ctx, auth.Principal{Claims: p.Claims})
	wantErr(t, "Me after deletion", err, auth.ErrSessionRevoked)
	for _, pair := range []authn.TokenPair{reg, other} {
		_, err := e.auth.Authenticate(e.ctx, pair.AccessToken)
		wantErr(t, "access token after deletion", err, auth.ErrSessionRevoked)
		_, err = e.auth.Refresh(e.ctx, pair.RefreshToken, authMeta)
		wantErr(t, "refresh token after deletion", err, session.ErrRefreshInvalid)
	}
	_, err = e.auth.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authMeta)
	wantErr(t, "login after deletion", err, auth.ErrInvalidCredentials)

	after := e.store.Events(reg.User.ID)
	if len(after) != len(before)+1 {
		t.Fatalf("%d events after deletion; want the %d earlier ones kept plus account_deleted", len(after), len(before))
	}
	for i, ev := range after {
		if ev.UserID != reg.User.ID {
			t.Fatalf("event %d lost its user id: %+v", i, ev)
		}
		if ev.IP != "" || ev.UserAgent != "" {
			t.Fatalf("event %d (%s) still has client data %q %q", i, ev.Type, ev.IP, ev.UserAgent)
		}
		if i < len(before) && ev.Type != before[i].Type {
			t.Fatalf("event %d changed type from %s to %s", i, before[i].Type, ev.Type)
		}
	}
	last := after[len(after)-1]
	if last.Type != audit.AccountDeleted || last.SessionID != reg.Session.ID {
		t.Fatalf("last event %+v; want account_deleted for the caller's session", last)
	}
	// Another user's data is untouched.
	e.principal(bob.AccessToken)
	for _, ev := range e.store.Events(bob.User.ID) {
		if ev.IP == "" {
			t.Fatalf("another user's event was scrubbed: %+v", ev)
		}
	}
	// The address can be used again.
	e.signUp(adaEmail)
}

func TestDeleteAccountIsAtomic(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	_ = e.login(adaEmail, adaPassword)
	boom := errors.New("audit log down")
	e.store.Audit.FailAppend(boom)
	err := e.svc.DeleteAccount(e.ctx, p, meta)
	wantErr(t, "delete while the audit log fails", err, boom)
	e.store.Audit.FailAppend(nil)
	if _, ok := e.store.User(reg.User.ID); !ok {
		t.Fatal("a failed deletion removed the account")
	}
	for _, ev := range e.store.Events(reg.User.ID) {
		if ev.IP == "" {
			t.Fatal("a failed deletion scrubbed the events")
		}
	}
	e.principal(reg.AccessToken)
}

func TestSecurityEventsPagination(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.signUp(adaEmail)
	e.signUp("bob@example.com")
	e.login("bob@example.com", adaPassword)
	// The registration's event, then 7 for ada, one a minute.
	for i := range 7 {
		e.clock.Advance(time.Minute)
		if i%2 == 0 {
			e.login(adaEmail, adaPassword)
		} else {
			_, _ = e.auth.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, authMeta)
		}
	}
	last := e.login(adaEmail, adaPassword) // 8th, same minute as the 7th
	p := e.principal(last.AccessToken)
	all := e.store.Events(reg.User.ID)
	if len(all) != 9 {
		t.Fatalf("setup made %d events; want 9", len(all))
	}

	var got []audit.Event
	cursor := ""
	pages := 0
	for {
		page, err := e.svc.SecurityEvents(e.ctx, p, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Events) > 3 {
			t.Fatalf("page of %d events; limit 3", len(page.Events))
		}
		got = append(got, page.Events...)
		if page.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = page.NextCursor
	}
	if pages != 3 || len(got) != 9 {
		t.Fatalf("%d pages, %d events; want 3 pages (3+3+3) and all 9", pages, len(got))
	}
	for i := range got {
		want := all[len(all)-1-i] // newest first
		if got[i].ID != want.ID {
			t.Fatalf("event %d is %s at %v; want %s at %v (newest first, no gaps or repeats)", i, got[i].Type, got[i].CreatedAt, want.Type, want.CreatedAt)
		}
		if got[i].UserID != reg.User.ID {
			t.Fatalf("another user's event listed: %+v", got[i])
		}
	}

	one, err := e.svc.SecurityEvents(e.ctx, p, "", account.MaxEventPage)
	if err != nil || len(one.Events) != 9 || one.NextCursor != "" {
		t.Fatalf("limit %d: %d events, cursor %q, %v", account.MaxEventPage, len(one.Events), one.NextCursor, err)
	}
}

func TestSecurityEventsLimitValidation(t *testing.T) {
	e := newEnv(t)
	_, p := e.signUp(adaEmail)
	for _, limit := range []int{0, -1, account.MaxEventPage + 1, 1 << 30} {
		_, err := e.svc.SecurityEvents(e.ctx, p, "", limit)
		wantField(t, err, "limit")
	}
	for _, limit := range []int{1, account.MaxEventPage} {
		if _, err := e.svc.SecurityEvents(e.ctx, p, "", limit); err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}

// The assertions shared by the use-case tests.
var (
	wantErr   = fakes.WantErr
	wantField = fakes.WantField
)

// TestSensitiveOperationsNeedStepUp: the use cases themselves refuse a
// caller whose password proof is stale or whose token is not fresh, so
// the rule holds for any caller, not only the HTTP routes.
func TestSensitiveOperationsNeedStepUp(t *testing.T) {
	e := newEnv(t)
	reg, p := e.signUp(adaEmail)
	e.clock.Advance(11 * time.Minute)
	err := e.svc.ChangePassword(e.ctx, p, adaPassword, "a brand new passphrase", meta)
	wantErr(t, "ChangePassword with a stale proof", err, auth.ErrFreshAuthRequired)
	_, err = e.svc.ChangeEmail(e.ctx, p, "new@example.com", meta)
	wantErr(t, "ChangeEmail with a stale proof", err, auth.ErrFreshAuthRequired)
	err = e.svc.DeleteAccount(e.ctx, p, meta)
	wantErr(t, "DeleteAccount with a stale proof", err, auth.ErrFreshAuthRequired)

	notFresh := p
	notFresh.Claims.Fresh = false
	notFresh.Claims.AuthTime = e.clock.Now()
	err = e.svc.DeleteAccount(e.ctx, notFresh, meta)
	wantErr(t, "DeleteAccount with a refreshed token", err, auth.ErrFreshAuthRequired)
	if _, ok := e.store.User(reg.User.ID); !ok {
		t.Fatal("a refused deletion deleted the account")
	}
}

// emailMail records what the account use cases ask the mail of.
type emailMail struct {
	changed   []string // old addresses
	requested []string // requested new addresses
}

func (m *emailMail) EmailChanged(_ context.Context, _ user.User, old string) error {
	m.changed = append(m.changed, old)
	return nil
}

func (m *emailMail) EmailChangeRequested(_ context.Context, _ user.User, newEmail string) error {
	m.requested = append(m.requested, newEmail)
	return nil
}

// TestChangeEmailWithConfirmation (issue 21 item 8): with
// ConfirmEmailChange (REQUIRE_EMAIL_VERIFICATION) a change to any address,
// taken, free or the caller's own, answers the same (Pending), moves
// nothing, and queues the request; the account moves when the new address
// confirms (usecase/recovery).
func TestChangeEmailWithConfirmation(t *testing.T) {
	e := newEnv(t)
	mail := &emailMail{}
	svc := newInteractors(deps{
		StepUp: auth.StepUpPolicy{MaxAge: 10 * time.Minute},
		Users:  e.store.Users, Sessions: e.store.Sessions, Audit: e.store.Audit, Tx: e.store,
		Hasher: e.hasher, Clock: e.clock, Mail: mail, ConfirmEmailChange: true,
	})
	reg, p := e.signUp(adaEmail)
	e.signUp("bob@example.com")
	var answers []account.EmailChange
	for _, to := range []string{"Bob@example.com", "free@example.com", adaEmail} {
		ch, err := svc.ChangeEmail(e.ctx, p, to, meta)
		if err != nil {
			t.Fatalf("ChangeEmail(%s): %v", to, err)
		}
		answers = append(answers, ch)
	}
	for _, ch := range answers {
		if !ch.Pending || ch.User.Email != adaEmail || !ch.User.UpdatedAt.Equal(answers[0].User.UpdatedAt) {
			t.Fatalf("answers differ or moved the account: %+v", answers)
		}
	}
	if got := e.storedUser(reg.User.ID); got.Email != adaEmail {
		t.Fatalf("a requested change moved the account to %q", got.Email)
	}
	if strings.Join(mail.requested, ",") != "bob@example.com,free@example.com,ada@example.com" || len(mail.changed) != 0 {
		t.Fatalf("mail asked for %+v", mail)
	}
	if n := len(e.store.EventsOfType(reg.User.ID, audit.EmailChangeRequested)); n != 3 {
		t.Fatalf("%d email_change_requested events; want 3", n)
	}
	_, err := svc.ChangeEmail(e.ctx, p, "not an email", meta)
	wantField(t, err, "email")
}
