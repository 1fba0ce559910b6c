package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

func TestPurgeEndedKeepsRecentAndLiveSessions(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	b := e.login(adaEmail, adaPassword)
	c := e.login(adaEmail, adaPassword)
	logout := func(p authn.TokenPair) {
		t.Helper()
		if err := e.svc.Logout(e.ctx, authn.LogoutInput{RefreshToken: p.RefreshToken}, meta); err != nil {
			t.Fatal(err)
		}
	}
	logout(a)
	e.clock.Advance(23 * time.Hour)
	logout(b)
	e.clock.Advance(2 * time.Hour) // a ended 25h ago, b 2h ago, c is live

	n, err := e.svc.PurgeEnded(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeEnded = %d, %v; want 1 (only the session ended over a day ago)", n, err)
	}
	if _, ok := e.store.Session(a.Session.ID); ok {
		t.Fatal("session ended 25h ago was kept")
	}
	if s, ok := e.store.Session(b.Session.ID); !ok || !s.Revoked() {
		t.Fatal("a session revoked 2h ago was purged; its tokens must still be recognised")
	}
	e.refresh(c.RefreshToken) // the live session is untouched and keeps working

	// The purged session's token is simply invalid.
	_, err = e.svc.Refresh(e.ctx, a.RefreshToken, meta)
	wantErr(t, "refresh token of a purged session", err, session.ErrRefreshInvalid)

	// Once idle-expired for more than a day, a never-revoked session goes too.
	e.clock.Advance(idleTTL + 25*time.Hour)
	n, err = e.svc.PurgeEnded(e.ctx)
	if err != nil || n != 2 {
		t.Fatalf("second PurgeEnded = %d, %v; want 2 (b, and c expired)", n, err)
	}
	if len(e.store.SessionsOf(a.User.ID)) != 0 {
		t.Fatal("sessions left after the second purge")
	}
	if _, ok := e.store.User(a.User.ID); !ok {
		t.Fatal("purge removed the account")
	}
}

func TestPurgeEndedErasesSealedSuccessorsAfterGrace(t *testing.T) {
	e := newEnv(t)
	a := e.register(adaEmail, adaPassword)
	e.refresh(a.RefreshToken)
	if _, err := e.svc.PurgeEnded(e.ctx); err != nil {
		t.Fatal(err)
	}
	if e.storedSession(a.Session.ID).SuccessorSealed == nil {
		t.Fatal("the purge erased a seal within its grace interval")
	}
	e.clock.Advance(grace + time.Second)
	if _, err := e.svc.PurgeEnded(e.ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.storedSession(a.Session.ID); s.SuccessorSealed != nil || s.Revoked() {
		t.Fatalf("after the grace interval and a purge: %+v", s)
	}
	// The predecessor is now plain reuse.
	_, err := e.svc.Refresh(e.ctx, a.RefreshToken, meta)
	wantErr(t, "predecessor after the erase", err, session.ErrRefreshReused)
}

// purgeRecorder is a throttle store that remembers the purge's cut-off.
type purgeRecorder struct {
	memThrottle
	before time.Time
}

func (p *purgeRecorder) PurgeStale(_ context.Context, before time.Time) (int, error) {
	p.before = before
	return 0, nil
}

// TestPurgeKeepsThrottleRecordsForTheLongestPolicy: the throttle table also
// holds the email-change counts (an hour's window), so the purge must not
// drop records after the login window (30 minutes here): that would reset
// an email-change limit halfway through its hour.
func TestPurgeKeepsThrottleRecordsForTheLongestPolicy(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	rec := &purgeRecorder{memThrottle: memThrottle{m: map[string]throttle.State{}}}
	login := throttle.Policy{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	emailChange := throttle.Policy{MaxFailures: 10, Window: time.Hour, Lockout: time.Hour}
	svc := newService(clock, store, fakes.NewTokens(clock, accessTTL), func(d *deps) {
		d.Throttle, d.ThrottlePolicy, d.SharedPolicies = rec, login, []throttle.Policy{emailChange}
	})
	if _, err := svc.PurgeEnded(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(-2 * time.Hour); !rec.before.Equal(want) {
		t.Fatalf("throttle records purged before %v; want before %v (the email-change window and lockout)", rec.before, want)
	}
}
