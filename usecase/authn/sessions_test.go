package authn_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)

	p := e.principal(reg.AccessToken)
	if p.UserID() != reg.User.ID || p.SessionID() != reg.Session.ID || !p.Claims.Fresh {
		t.Fatalf("principal %+v; want user %s session %s", p.Claims, reg.User.ID, reg.Session.ID)
	}

	_, err := e.svc.Authenticate(e.ctx, "")
	wantErr(t, "no token", err, auth.ErrUnauthenticated)

	tampered := reg.AccessToken[:len(reg.AccessToken)-2] + "xx"
	_, err = e.svc.Authenticate(e.ctx, tampered)
	wantErr(t, "tampered token", err, auth.ErrTokenInvalid)
	_, err = e.svc.Authenticate(e.ctx, reg.RefreshToken)
	wantErr(t, "refresh token as access token", err, auth.ErrTokenInvalid)

	e.clock.Advance(accessTTL)
	_, err = e.svc.Authenticate(e.ctx, reg.AccessToken)
	wantErr(t, "expired token", err, auth.ErrTokenExpired)
}

func TestAuthenticateRevokedSession(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: reg.RefreshToken}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Authenticate(e.ctx, reg.AccessToken)
	wantErr(t, "access token after logout", err, auth.ErrSessionRevoked)
}

func TestAuthenticateDeletedSession(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	if err := e.store.Users.Delete(e.ctx, reg.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.store.Session(reg.Session.ID); ok {
		t.Fatal("fake store kept the session of a deleted user")
	}
	_, err := e.svc.Authenticate(e.ctx, reg.AccessToken)
	wantErr(t, "access token of a deleted session", err, auth.ErrSessionRevoked)
}

// A validly signed token naming another user's session is not accepted.
func TestAuthenticateSessionOfAnotherUser(t *testing.T) {
	e := newEnv(t)
	ada := e.register(adaEmail, adaPassword)
	bob := e.register("bob@example.com", adaPassword)
	c := e.claims(bob.AccessToken)
	c.SessionID = ada.Session.ID
	forged, err := e.tokens.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(e.ctx, forged)
	wantErr(t, "token of bob naming ada's session", err, auth.ErrSessionRevoked)
}

func TestLogoutByRefreshToken(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	other := e.login(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)

	if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: reg.RefreshToken}, meta); err != nil {
		t.Fatal(err)
	}
	s := e.storedSession(reg.Session.ID)
	if !s.Revoked() || s.RevokeReason != session.ReasonLogout {
		t.Fatalf("session after logout: %+v", s)
	}
	sameTime(t, "revokedAt", s.RevokedAt, t0.Add(time.Minute))
	_, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "refresh after logout", err, session.ErrRefreshInvalid)
	_, err = e.svc.Authenticate(e.ctx, reg.AccessToken)
	wantErr(t, "access after logout", err, auth.ErrSessionRevoked)

	evs := e.store.EventsOfType(reg.User.ID, audit.SessionRevoked)
	if len(evs) != 1 || evs[0].SessionID != reg.Session.ID {
		t.Fatalf("session_revoked events %+v; want one for %s", evs, reg.Session.ID)
	}
	// Logging out twice is fine and records nothing more.
	if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: reg.RefreshToken}, meta); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if n := len(e.store.EventsOfType(reg.User.ID, audit.SessionRevoked)); n != 1 {
		t.Fatalf("%d session_revoked events after a repeated logout; want 1", n)
	}
	// The other session lives on.
	e.refresh(other.RefreshToken)
}

func TestLogoutWithRotatedTokenEndsTheFamily(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	next := e.refresh(reg.RefreshToken)
	if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: reg.RefreshToken}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(e.ctx, next.RefreshToken, meta)
	wantErr(t, "newest token after logout with its predecessor", err, session.ErrRefreshInvalid)
}

func TestLogoutByPrincipal(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	other := e.login(adaEmail, adaPassword)
	p := e.principal(reg.AccessToken)

	if err := e.svc.Logout(e.ctx, authn.LogoutInput{Principal: &p}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "refresh after bearer logout", err, session.ErrRefreshInvalid)
	_, err = e.svc.Authenticate(e.ctx, reg.AccessToken)
	wantErr(t, "access after bearer logout", err, auth.ErrSessionRevoked)
	e.principal(other.AccessToken)
}

func TestLogoutUnknownOrMissing(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	for _, raw := range []string{strings.Repeat("A", session.RefreshTokenLength), "not a token"} {
		if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: raw}, meta); err != nil {
			t.Fatalf("Logout(%q) = %v; want nil", raw, err)
		}
	}
	if e.storedSession(reg.Session.ID).Revoked() {
		t.Fatal("logout with an unknown token revoked a session")
	}
	err := e.svc.Logout(e.ctx, authn.LogoutInput{}, meta)
	wantErr(t, "logout with nothing", err, auth.ErrUnauthenticated)
}

func TestLogoutAll(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	b := e.login(adaEmail, adaPassword)
	c := e.login(adaEmail, adaPassword)
	bob := e.register("bob@example.com", adaPassword)
	p := e.principal(b.AccessToken)

	if err := e.svc.LogoutAll(e.ctx, p, meta); err != nil {
		t.Fatal(err)
	}
	for _, pair := range []authn.TokenPair{a, b, c} {
		if s := e.storedSession(pair.Session.ID); !s.Revoked() || s.RevokeReason != session.ReasonLogoutAll {
			t.Fatalf("session %s after logout-all: revoked=%v reason=%q", s.ID, s.Revoked(), s.RevokeReason)
		}
		_, err := e.svc.Refresh(e.ctx, pair.RefreshToken, meta)
		wantErr(t, "refresh after logout-all", err, session.ErrRefreshInvalid)
		_, err = e.svc.Authenticate(e.ctx, pair.AccessToken)
		wantErr(t, "access after logout-all", err, auth.ErrSessionRevoked)
	}
	list, err := e.svc.ListSessions(e.ctx, p, "", authn.MaxSessionPage)
	if err != nil || len(list.Sessions) != 0 {
		t.Fatalf("ListSessions after logout-all = %d sessions, %v; want none", len(list.Sessions), err)
	}
	evs := e.store.EventsOfType(a.User.ID, audit.LogoutAll)
	if len(evs) != 1 || evs[0].SessionID != b.Session.ID {
		t.Fatalf("logout_all events %+v", evs)
	}
	// Another user is not affected.
	e.principal(bob.AccessToken)
	e.refresh(bob.RefreshToken)
}

func TestListSessions(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)
	b, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authn.Meta{IP: "198.51.100.2", UserAgent: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	c := e.login(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)
	d := e.login(adaEmail, adaPassword)
	bob := e.register("bob@example.com", adaPassword)

	p := e.principal(b.AccessToken)
	if err := e.svc.RevokeSession(e.ctx, p, c.Session.ID, meta); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListSessions(e.ctx, p, "", authn.MaxSessionPage)
	if err != nil || list.NextCursor != "" {
		t.Fatal(err, list.NextCursor)
	}
	var ids []string
	for _, v := range list.Sessions {
		ids = append(ids, v.ID)
		if v.Current != (v.ID == b.Session.ID) {
			t.Errorf("session %s current=%v; only the caller's (%s) is current", v.ID, v.Current, b.Session.ID)
		}
		if v.ID == b.Session.ID && (v.UserAgent != "Phone" || v.IP != "198.51.100.2") {
			t.Errorf("caller's session shows client %q %q", v.UserAgent, v.IP)
		}
	}
	want := []string{d.Session.ID, b.Session.ID, a.Session.ID}
	if !slices.Equal(ids, want) {
		t.Fatalf("ListSessions = %v; want the active ones newest first %v (revoked %s and bob's %s excluded)", ids, want, c.Session.ID, bob.Session.ID)
	}

	// An expired session drops out of the list too.
	e.clock.Set(t0.Add(idleTTL).Add(30 * time.Second))
	list, err = e.svc.ListSessions(e.ctx, p, "", authn.MaxSessionPage)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list.Sessions {
		if v.ID == a.Session.ID {
			t.Fatalf("idle-expired session %s still listed", a.Session.ID)
		}
	}
}

func TestRevokeSession(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	b := e.login(adaEmail, adaPassword)
	bob := e.register("bob@example.com", adaPassword)
	p := e.principal(a.AccessToken)

	err := e.svc.RevokeSession(e.ctx, p, bob.Session.ID, meta)
	wantErr(t, "revoking another user's session", err, session.ErrNotFound)
	if e.storedSession(bob.Session.ID).Revoked() {
		t.Fatal("another user's session was revoked")
	}
	e.refresh(bob.RefreshToken)

	err = e.svc.RevokeSession(e.ctx, p, id.New(), meta)
	wantErr(t, "revoking an unknown session", err, session.ErrNotFound)

	if err := e.svc.RevokeSession(e.ctx, p, b.Session.ID, meta); err != nil {
		t.Fatal(err)
	}
	if s := e.storedSession(b.Session.ID); !s.Revoked() || s.RevokeReason != session.ReasonRevokedByUser {
		t.Fatalf("revoked session %+v", s)
	}
	_, err = e.svc.Refresh(e.ctx, b.RefreshToken, meta)
	wantErr(t, "refresh of the revoked session", err, session.ErrRefreshInvalid)
	e.principal(a.AccessToken)
	evs := e.store.EventsOfType(a.User.ID, audit.SessionRevoked)
	if len(evs) != 1 || evs[0].SessionID != b.Session.ID {
		t.Fatalf("session_revoked events %+v", evs)
	}
	// It is no longer listed, so revoking it again is not found (as in the spec).
	err = e.svc.RevokeSession(e.ctx, p, b.Session.ID, meta)
	wantErr(t, "revoking an ended session", err, session.ErrNotFound)
}

func TestReauthenticateWrongPassword(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	p := e.principal(reg.AccessToken)
	e.clock.Advance(time.Hour)

	pair, err := e.svc.Reauthenticate(e.ctx, p, authn.ReauthInput{Password: "wrong password"}, meta)
	wantErr(t, "reauthenticate with a wrong password", err, auth.ErrInvalidCredentials)
	if pair.AccessToken != "" {
		t.Fatal("a failed reauthentication returned an access token")
	}
	if n := len(e.store.EventsOfType(reg.User.ID, audit.LoginFailed)); n != 1 {
		t.Fatalf("%d login_failed events; want 1", n)
	}
	sameTime(t, "session auth_time", e.storedSession(reg.Session.ID).AuthTime, t0)
}

func TestReauthenticate(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(10 * time.Minute)
	refreshed := e.refresh(reg.RefreshToken)
	p := e.principal(refreshed.AccessToken)
	if p.Claims.Fresh {
		t.Fatal("refreshed token is fresh")
	}

	e.clock.Advance(time.Hour)
	reauthAt := t0.Add(70 * time.Minute)
	pair, err := e.svc.Reauthenticate(e.ctx, p, authn.ReauthInput{Password: adaPassword}, meta)
	if err != nil {
		t.Fatal(err)
	}
	c := e.claims(pair.AccessToken)
	if !c.Fresh || c.SessionID != reg.Session.ID || c.Subject != reg.User.ID {
		t.Fatalf("reauthenticated claims fresh=%v sid=%q sub=%q; want fresh, same session and user", c.Fresh, c.SessionID, c.Subject)
	}
	sameTime(t, "auth_time after reauthenticate", c.AuthTime, reauthAt)
	if pair.RefreshToken != "" {
		t.Fatalf("reauthenticate returned a refresh token; the session keeps its own")
	}
	if pair.Session.ID != reg.Session.ID {
		t.Fatalf("reauthenticate answered for session %q", pair.Session.ID)
	}
	if err := (auth.StepUpPolicy{MaxAge: 10 * time.Minute}).Check(e.principal(pair.AccessToken).Claims, reauthAt); err != nil {
		t.Fatalf("reauthenticated token fails the step-up check: %v", err)
	}
	sameTime(t, "stored session auth_time", e.storedSession(reg.Session.ID).AuthTime, reauthAt)
	if n := len(e.store.EventsOfType(reg.User.ID, audit.Reauthenticated)); n != 1 {
		t.Fatalf("%d reauthenticated events; want 1", n)
	}

	// A later refresh carries the new auth_time, still not fresh.
	e.clock.Advance(time.Minute)
	later := e.refresh(refreshed.RefreshToken)
	lc := e.claims(later.AccessToken)
	if lc.Fresh {
		t.Fatal("refresh after reauthenticate minted a fresh token")
	}
	sameTime(t, "auth_time of a refresh after reauthenticate", lc.AuthTime, reauthAt)
	if later.Session.Generation != 3 {
		t.Fatalf("generation %d after reauthenticate and refresh; want 3 (reauthenticate does not rotate)", later.Session.Generation)
	}
}

func TestReauthenticateRevokedSession(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	p := e.principal(reg.AccessToken)
	if err := e.svc.Logout(e.ctx, authn.LogoutInput{Principal: &p}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Reauthenticate(e.ctx, p, authn.ReauthInput{Password: adaPassword}, meta)
	wantErr(t, "reauthenticate in a revoked session", err, auth.ErrSessionRevoked)
	if n := len(e.store.EventsOfType(reg.User.ID, audit.Reauthenticated)); n != 0 {
		t.Fatal("reauthentication of a revoked session was recorded")
	}
}

func TestReauthenticateDeletedAccount(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	p := e.principal(reg.AccessToken)
	if err := e.store.Users.Delete(e.ctx, reg.User.ID); err != nil {
		t.Fatal(err)
	}
	pair, err := e.svc.Reauthenticate(e.ctx, p, authn.ReauthInput{Password: adaPassword}, meta)
	wantErr(t, "reauthenticate after the account was deleted", err, auth.ErrSessionRevoked)
	if pair.AccessToken != "" {
		t.Fatal("an access token was minted for a deleted account")
	}
}

func TestListSessionsPages(t *testing.T) {
	e := newEnv(t)
	first := e.register(adaEmail, adaPassword)
	want := []string{first.Session.ID}
	for range 6 {
		want = append([]string{e.login(adaEmail, adaPassword).Session.ID}, want...) // same instant: ties by ID
	}
	slices.SortStableFunc(want, func(a, b string) int { return strings.Compare(b, a) })
	p := e.principal(first.AccessToken)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		list, err := e.svc.ListSessions(e.ctx, p, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Sessions) > 3 || pages > 3 {
			t.Fatalf("page of %d sessions, page %d", len(list.Sessions), pages)
		}
		for _, v := range list.Sessions {
			got = append(got, v.ID)
		}
		if list.NextCursor == "" {
			break
		}
		cursor = list.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v; want %v", got, want)
	}
	for _, bad := range []struct {
		cursor string
		limit  int
		field  string
	}{{"", 0, "limit"}, {"", 101, "limit"}, {"not-a-cursor", 10, "cursor"}, {"MTIzLm5vdC1hbi1pZA", 10, "cursor"}} {
		_, err := e.svc.ListSessions(e.ctx, p, bad.cursor, bad.limit)
		wantField(t, err, bad.field)
	}
}

func TestSessionsPerUserAreCapped(t *testing.T) {
	e := newEnv(t)
	e.svc = newService(e.clock, e.store, e.tokens, func(d *deps) { d.Hasher = e.hasher; d.MaxSessionsPerUser = 3 })
	first := e.register(adaEmail, adaPassword)
	var pairs []authn.TokenPair
	for range 4 {
		e.clock.Advance(time.Second)
		pairs = append(pairs, e.login(adaEmail, adaPassword))
	}
	// Five started, three kept: the two oldest are revoked.
	for _, old := range []authn.TokenPair{first, pairs[0]} {
		s := e.storedSession(old.Session.ID)
		if !s.Revoked() || s.RevokeReason != session.ReasonSessionLimit {
			t.Fatalf("oldest session %+v; want revoked for the limit", s)
		}
		_, err := e.svc.Refresh(e.ctx, old.RefreshToken, meta)
		wantErr(t, "refresh of a session over the limit", err, session.ErrRefreshInvalid)
	}
	p := e.principal(pairs[3].AccessToken)
	list, err := e.svc.ListSessions(e.ctx, p, "", authn.MaxSessionPage)
	if err != nil || len(list.Sessions) != 3 {
		t.Fatalf("%d active sessions, %v; want 3", len(list.Sessions), err)
	}
	if evs := e.store.EventsOfType(first.User.ID, audit.SessionRevoked); len(evs) != 2 {
		t.Fatalf("%d session_revoked events; want one per session over the limit", len(evs))
	}
}
