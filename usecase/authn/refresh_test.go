package authn_test

import (
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Hour)
	now := t0.Add(time.Hour)

	next, err := e.svc.Refresh(e.ctx, reg.RefreshToken, authn.Meta{IP: "198.51.100.9", UserAgent: "OtherAgent/2"})
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == reg.RefreshToken || len(next.RefreshToken) != session.RefreshTokenLength {
		t.Fatalf("rotated refresh token %q; want a new %d-character token", next.RefreshToken, session.RefreshTokenLength)
	}
	if next.Session.ID != reg.Session.ID || next.User.ID != reg.User.ID {
		t.Fatalf("refresh moved to session %q user %q; want the same session and user", next.Session.ID, next.User.ID)
	}

	c := e.claims(next.AccessToken)
	if c.Fresh {
		t.Error("access token minted by refresh is fresh; want fresh=false")
	}
	sameTime(t, "auth_time after refresh", c.AuthTime, t0)
	sameTime(t, "iat after refresh", c.IssuedAt, now)
	sameTime(t, "exp after refresh", c.ExpiresAt, now.Add(accessTTL))
	if c.SessionID != reg.Session.ID || c.Subject != reg.User.ID {
		t.Fatalf("claims sid=%q sub=%q", c.SessionID, c.Subject)
	}

	s := e.storedSession(reg.Session.ID)
	sameTime(t, "rotation time", s.RotatedAt, now)
	if len(s.SuccessorSealed) == 0 || s.TokenHash != sha256.Sum256([]byte(next.RefreshToken)) ||
		s.PrevTokenHash != sha256.Sum256([]byte(reg.RefreshToken)) {
		t.Error("the session does not hold the new token's hash, the old one's and the sealed successor")
	}
	if e.store.Stats().FastRotations != 1 {
		t.Errorf("%d fast rotations; want the fast path taken", e.store.Stats().FastRotations)
	}
	if s.Generation != 2 || s.UserAgent != "OtherAgent/2" || s.IP != "198.51.100.9" {
		t.Fatalf("stored session %+v; want generation 2 and the new client data", s)
	}
	sameTime(t, "lastUsedAt", s.LastUsedAt, now)
	sameTime(t, "idle expiry", s.IdleExpiresAt, now.Add(idleTTL))
	sameTime(t, "answered session expiry", next.Session.ExpiresAt(), now.Add(idleTTL))

	// The new token rotates in turn.
	e.clock.Advance(time.Hour)
	third := e.refresh(next.RefreshToken)
	if third.RefreshToken == next.RefreshToken || third.RefreshToken == reg.RefreshToken {
		t.Fatal("second rotation did not issue a new token")
	}
	if e.storedSession(reg.Session.ID).Generation != 3 {
		t.Fatal("second rotation did not advance the generation")
	}
}

func TestRefreshReplayWithinGraceReturnsSameSuccessor(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)
	first := e.refresh(reg.RefreshToken)

	for _, after := range []time.Duration{0, 5 * time.Second, grace} {
		e.clock.Set(t0.Add(time.Minute + after))
		again, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
		if err != nil {
			t.Fatalf("predecessor %v after rotation: %v; want the same successor again", after, err)
		}
		if again.RefreshToken != first.RefreshToken {
			t.Fatalf("replay %v after rotation gave another successor", after)
		}
		if again.Session.ID != reg.Session.ID {
			t.Fatalf("replay answered for session %q", again.Session.ID)
		}
		c := e.claims(again.AccessToken)
		if c.Fresh || !c.AuthTime.Equal(t0) {
			t.Fatalf("replayed access token fresh=%v auth_time=%v; want false, %v", c.Fresh, c.AuthTime, t0)
		}
		e.principal(again.AccessToken)
	}
	if r := e.store.Stats().Rotations; r != 1 {
		t.Fatalf("%d rotations; replays must not rotate", r)
	}
	if s := e.storedSession(reg.Session.ID); s.Revoked() || s.Generation != 2 {
		t.Fatalf("session after replays: %+v", s)
	}
	// The one lineage continues.
	e.refresh(first.RefreshToken)
}

func TestRefreshReuseAfterGraceRevokesSession(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)
	next := e.refresh(reg.RefreshToken)
	e.clock.Advance(grace + time.Second)

	_, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "old token after the grace interval", err, session.ErrRefreshReused)

	s := e.storedSession(reg.Session.ID)
	if !s.Revoked() || s.RevokeReason != session.ReasonReuseDetected {
		t.Fatalf("session after reuse: revoked=%v reason=%q; want revoked for reuse", s.Revoked(), s.RevokeReason)
	}
	_, err = e.svc.Refresh(e.ctx, next.RefreshToken, meta)
	wantErr(t, "newest token after reuse detection", err, session.ErrRefreshInvalid)
	_, err = e.svc.Authenticate(e.ctx, next.AccessToken)
	wantErr(t, "access token of the revoked session", err, auth.ErrSessionRevoked)

	evs := e.store.EventsOfType(reg.User.ID, audit.RefreshReuseDetected)
	if len(evs) != 1 || evs[0].SessionID != reg.Session.ID || evs[0].IP != meta.IP {
		t.Fatalf("refresh_reuse_detected events %+v; want one for the session", evs)
	}
	// Presenting the stolen token again changes nothing more.
	_, err = e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "old token of a revoked session", err, session.ErrRefreshInvalid)
	if n := len(e.store.EventsOfType(reg.User.ID, audit.RefreshReuseDetected)); n != 1 {
		t.Fatalf("%d reuse events; want 1", n)
	}
	// Other sessions of the user are untouched.
	other := e.login(adaEmail, adaPassword)
	e.refresh(other.RefreshToken)
}

func TestRefreshGrandparentWithinGraceIsReuse(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	second := e.refresh(reg.RefreshToken)
	third := e.refresh(second.RefreshToken)

	_, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "grandparent token within grace", err, session.ErrRefreshReused)
	if !e.storedSession(reg.Session.ID).Revoked() {
		t.Fatal("session not revoked after grandparent reuse")
	}
	_, err = e.svc.Refresh(e.ctx, third.RefreshToken, meta)
	wantErr(t, "newest token after reuse", err, session.ErrRefreshInvalid)
}

func TestRefreshIdleExpiry(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)

	e.clock.Advance(idleTTL - time.Second)
	p := e.refresh(reg.RefreshToken) // just in time: idle restarts

	e.clock.Advance(idleTTL)
	_, err := e.svc.Refresh(e.ctx, p.RefreshToken, meta)
	wantErr(t, "refresh after the idle lifetime", err, session.ErrRefreshInvalid)
	if e.storedSession(reg.Session.ID).Revoked() || len(e.store.EventsOfType(reg.User.ID, audit.RefreshReuseDetected)) != 0 {
		t.Fatal("an expired session's token was treated as reuse")
	}
	// Past its end, even the predecessor is just invalid, not reuse.
	_, err = e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
	wantErr(t, "predecessor after the idle lifetime", err, session.ErrRefreshInvalid)
}

func TestRefreshAbsoluteExpiryDespiteRegularUse(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	raw := reg.RefreshToken
	var last authn.TokenPair
	for day := 6; day < 30; day += 6 {
		e.clock.Set(t0.Add(time.Duration(day) * 24 * time.Hour))
		last = e.refresh(raw)
		raw = last.RefreshToken
	}
	// Refreshed on day 24: the idle lifetime would reach day 31, capped at 30.
	sameTime(t, "session expiry after the last refresh", last.Session.ExpiresAt(), t0.Add(absoluteTTL))

	e.clock.Set(t0.Add(absoluteTTL - time.Second))
	last = e.refresh(raw)
	raw = last.RefreshToken

	e.clock.Set(t0.Add(absoluteTTL))
	_, err := e.svc.Refresh(e.ctx, raw, meta)
	wantErr(t, "refresh at the absolute lifetime", err, session.ErrRefreshInvalid)
	_, err = e.svc.Authenticate(e.ctx, last.AccessToken)
	wantErr(t, "access token of the ended session", err, auth.ErrSessionRevoked)
}

func TestRefreshMalformedOrUnknown(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	unknown := strings.Repeat("A", session.RefreshTokenLength)
	for _, raw := range []string{"", "garbage", reg.RefreshToken + "x", reg.RefreshToken[1:], " " + reg.RefreshToken[1:], reg.AccessToken, unknown} {
		_, err := e.svc.Refresh(e.ctx, raw, meta)
		wantErr(t, "Refresh("+raw+")", err, session.ErrRefreshInvalid)
	}
	if e.store.Stats().Rotations != 0 || e.storedSession(reg.Session.ID).Revoked() {
		t.Fatal("a bad token changed the session")
	}
	e.refresh(reg.RefreshToken)
}

func TestRefreshAfterLogoutOrAccountDeletion(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: a.RefreshToken}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(e.ctx, a.RefreshToken, meta)
	wantErr(t, "refresh after logout", err, session.ErrRefreshInvalid)

	b := e.register("grace@example.com", adaPassword)
	if err := e.store.Users.Delete(e.ctx, b.User.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(e.ctx, b.RefreshToken, meta)
	wantErr(t, "refresh after account deletion", err, session.ErrRefreshInvalid)
}

func TestRefreshConcurrentWithOneToken(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	e.clock.Advance(time.Minute)

	const n = 50
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		pairs [n]authn.TokenPair
		errs  [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			pairs[i], errs[i] = e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
		})
	}
	close(start)
	wg.Wait()

	successor := ""
	for i := range n {
		// Within the grace interval every racer is answered: none may be
		// logged out, none may see an internal error.
		if errs[i] != nil {
			t.Fatalf("racer %d: %v; want success within the grace interval", i, errs[i])
		}
		if successor == "" {
			successor = pairs[i].RefreshToken
		}
		if pairs[i].RefreshToken != successor {
			t.Fatalf("racers got different successors: two live lineages")
		}
		if pairs[i].Session.ID != reg.Session.ID {
			t.Fatalf("racer %d answered for session %q", i, pairs[i].Session.ID)
		}
	}
	if r := e.store.Stats().Rotations; r != 1 {
		t.Fatalf("%d rotations for %d parallel refreshes of one token; want exactly 1", r, n)
	}
	if g := e.storedSession(reg.Session.ID).Generation; g != 2 {
		t.Fatalf("session generation %d; want 2", g)
	}
	if e.storedSession(reg.Session.ID).Revoked() {
		t.Fatal("parallel refreshes revoked the session")
	}
	e.refresh(successor)
}

// Parallel refreshes of one token spread over more than the grace interval:
// the early ones share the successor, the late ones are reuse, and the
// session ends up revoked with a single lineage ever issued.
func TestRefreshConcurrentAcrossGrace(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adaEmail, adaPassword)
	const n = 20
	var wg sync.WaitGroup
	results := make(chan error, 2*n)
	successors := make(chan string, 2*n)
	run := func() {
		for range n {
			wg.Go(func() {
				p, err := e.svc.Refresh(e.ctx, reg.RefreshToken, meta)
				if err == nil {
					successors <- p.RefreshToken
				}
				results <- err
			})
		}
	}
	run()
	wg.Wait()
	e.clock.Advance(grace + time.Second)
	run()
	wg.Wait()
	close(results)
	close(successors)

	var ok, reused, invalid int
	for err := range results {
		switch {
		case err == nil:
			ok++
		case errorsIs(err, session.ErrRefreshReused):
			reused++
		case errorsIs(err, session.ErrRefreshInvalid):
			invalid++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != n || reused != 1 || invalid != n-1 {
		t.Fatalf("ok=%d reused=%d invalid=%d; want %d, 1, %d", ok, reused, invalid, n, n-1)
	}
	distinct := map[string]bool{}
	for s := range successors {
		distinct[s] = true
	}
	if len(distinct) != 1 || e.store.Stats().Rotations != 1 {
		t.Fatalf("%d distinct successors, %d rotations; want 1 and 1", len(distinct), e.store.Stats().Rotations)
	}
}
