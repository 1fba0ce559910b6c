package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// slowOnly is a store whose fast path always declines, so every refresh
// takes the update function.
type slowOnly struct{ authn.SessionStore }

func (slowOnly) RotateCurrent(context.Context, authn.RotateInput) (session.Session, user.User, bool, error) {
	return session.Session{}, user.User{}, false, nil
}

// fastCounter counts the fast path's rotations.
type fastCounter struct {
	authn.SessionStore
	mu sync.Mutex
	n  int
}

func (f *fastCounter) RotateCurrent(ctx context.Context, in authn.RotateInput) (session.Session, user.User, bool, error) {
	s, u, ok, err := f.SessionStore.RotateCurrent(ctx, in)
	if ok {
		f.mu.Lock()
		f.n++
		f.mu.Unlock()
	}
	return s, u, ok, err
}

func (f *fastCounter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// world is the refresh interactor over a store under test, with the login
// that starts its sessions and the logout that ends them.
type world struct {
	t         *testing.T
	h         Harness
	clock     *fakes.Clock
	codec     *session.RefreshCodec
	logins    *authn.PasswordLogin
	refresher *authn.Refresher
	revoker   *authn.SessionRevoker
	counts    *fastCounter
}

func newWorld(t *testing.T, h Harness, slow bool) *world {
	clock := fakes.NewClock(T0)
	codec, err := session.NewRefreshCodec(testKey)
	if err != nil {
		t.Fatal(err)
	}
	counts := &fastCounter{SessionStore: h.Sessions}
	var store authn.SessionStore = counts
	if slow {
		store = slowOnly{h.Sessions}
	}
	tokens := fakes.NewTokens(clock, 15*time.Minute)
	opener := authn.NewSessionOpener(authn.SessionOpenerDeps{
		Starter: store, Capper: store, Codec: codec, Tokens: tokens, Audit: h.Audit, Policy: Policy,
	})
	return &world{
		t: t, h: h, clock: clock, codec: codec, counts: counts,
		logins: authn.NewPasswordLogin(authn.PasswordLoginDeps{
			Users: h.Users, Hasher: fakes.NewHasher(),
			SignInDeps: authn.SignInDeps{Sessions: opener, Audit: h.Audit, Tx: h.Tx, Clock: clock},
		}),
		refresher: authn.NewRefresher(authn.RefresherDeps{
			Sessions: store, Codec: codec, Tokens: tokens, Audit: h.Audit, Tx: h.Tx, Clock: clock, Policy: Policy,
		}),
		revoker: authn.NewSessionRevoker(authn.SessionRevokerDeps{
			Sessions: store, Codec: codec, Audit: h.Audit, Tx: h.Tx, Clock: clock, Policy: Policy,
		}),
	}
}

var meta = authn.Meta{IP: "203.0.113.7", UserAgent: "ContractAgent/1.0"}

func (w *world) login() authn.TokenPair {
	w.t.Helper()
	u := mkUser(w.t, w.h)
	p, err := w.logins.Login(context.Background(), authn.Credentials{Email: u.Email, Password: "correct horse battery"}, meta)
	if err != nil {
		w.t.Fatalf("login: %v", err)
	}
	return p
}

func (w *world) refresh(raw string) (authn.TokenPair, error) {
	return w.refresher.Refresh(context.Background(), raw, meta)
}

func (w *world) mustRefresh(raw string) authn.TokenPair {
	w.t.Helper()
	p, err := w.refresh(raw)
	if err != nil {
		w.t.Fatalf("refresh: %v", err)
	}
	return p
}

func (w *world) stored(sessionID string) session.Session {
	w.t.Helper()
	s, _, err := w.h.Sessions.WithUser(context.Background(), sessionID)
	if err != nil {
		w.t.Fatalf("session %s: %v", sessionID, err)
	}
	return s
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v; want %v", what, err, target)
	}
}

// runRefresh runs the refresh interactor's outcomes over one path.
func runRefresh(t *testing.T, open func(t *testing.T) Harness, slow bool) {
	t.Run("rotation, replay in grace, reuse after grace", func(t *testing.T) {
		w := newWorld(t, open(t), slow)
		first := w.login()
		w.clock.Advance(time.Minute)
		second := w.mustRefresh(first.RefreshToken)
		if second.RefreshToken == first.RefreshToken || second.Session.ID != first.Session.ID || second.Session.Generation != 2 {
			t.Fatalf("rotation: %+v", second.Session)
		}
		if !slow && w.counts.count() != 1 {
			t.Fatalf("the store declined the fast path for the current token (%d fast rotations)", w.counts.count())
		}
		w.clock.Advance(Policy.ReuseGrace)
		again := w.mustRefresh(first.RefreshToken)
		if again.RefreshToken != second.RefreshToken {
			t.Fatal("the predecessor within grace got another successor: two lineages")
		}
		w.clock.Advance(time.Microsecond)
		_, err := w.refresh(first.RefreshToken)
		wantErr(t, "predecessor after grace", err, session.ErrRefreshReused)
		if s := w.stored(first.Session.ID); !s.Revoked() || s.RevokeReason != session.ReasonReuseDetected {
			t.Fatalf("reuse left the session %+v", s)
		}
		_, err = w.refresh(second.RefreshToken)
		wantErr(t, "current token of a session revoked for reuse", err, session.ErrRefreshInvalid)
	})

	t.Run("any ancestor revokes", func(t *testing.T) {
		w := newWorld(t, open(t), slow)
		p := w.login()
		tokens := []string{p.RefreshToken}
		for range 6 {
			w.clock.Advance(time.Minute)
			p = w.mustRefresh(p.RefreshToken)
			tokens = append(tokens, p.RefreshToken)
		}
		_, err := w.refresh(tokens[1])
		wantErr(t, "generation 2 of 7", err, session.ErrRefreshReused)
		_, err = w.refresh(tokens[6])
		wantErr(t, "current after reuse", err, session.ErrRefreshInvalid)
	})

	t.Run("grandparent within grace is reuse", func(t *testing.T) {
		w := newWorld(t, open(t), slow)
		p1 := w.login()
		p2 := w.mustRefresh(p1.RefreshToken)
		w.mustRefresh(p2.RefreshToken)
		_, err := w.refresh(p1.RefreshToken)
		wantErr(t, "grandparent", err, session.ErrRefreshReused)
	})

	t.Run("expiry and revocation", func(t *testing.T) {
		w := newWorld(t, open(t), slow)
		idle := w.login()
		w.clock.Advance(Policy.IdleTTL)
		_, err := w.refresh(idle.RefreshToken)
		wantErr(t, "idle-expired", err, session.ErrRefreshInvalid)
		if w.stored(idle.Session.ID).Revoked() {
			t.Fatal("an expired token revoked its session")
		}

		w.clock.Set(T0)
		abs := w.login()
		for now := T0; ; {
			now = now.Add(Policy.IdleTTL - time.Hour)
			if !now.Before(abs.Session.AbsoluteExpiresAt) {
				break
			}
			w.clock.Set(now)
			abs = w.mustRefresh(abs.RefreshToken)
		}
		w.clock.Set(abs.Session.AbsoluteExpiresAt)
		_, err = w.refresh(abs.RefreshToken)
		wantErr(t, "absolute-expired", err, session.ErrRefreshInvalid)

		w.clock.Set(T0)
		out := w.login()
		if err := w.revoker.Logout(context.Background(), authn.LogoutInput{RefreshToken: out.RefreshToken}, meta); err != nil {
			t.Fatal(err)
		}
		_, err = w.refresh(out.RefreshToken)
		wantErr(t, "logged out", err, session.ErrRefreshInvalid)
	})

	t.Run("tokens nobody issued change nothing", func(t *testing.T) {
		w := newWorld(t, open(t), slow)
		p := w.login()
		w.clock.Advance(time.Minute)
		cur := w.mustRefresh(p.RefreshToken)
		w.clock.Advance(time.Hour)
		other, _ := session.NewRefreshCodec(bytes.Repeat([]byte{1}, session.RefreshKeyBytes))
		// Right session and an old generation, under another key: would be
		// reuse if it were genuine.
		forged, _, _ := other.Issue(p.Session.ID, 1)
		tampered := []byte(cur.RefreshToken)
		tampered[50] ^= 0x01
		legacyUnknown, _ := session.NewLegacyRefreshSecret()
		for _, raw := range []string{forged, string(tampered), cur.RefreshToken[:len(cur.RefreshToken)-1], legacyUnknown, "", "garbage"} {
			_, err := w.refresh(raw)
			wantErr(t, fmt.Sprintf("refresh(%q)", raw), err, session.ErrRefreshInvalid)
			if raw == "" {
				continue
			}
			if err := w.revoker.Logout(context.Background(), authn.LogoutInput{RefreshToken: raw}, meta); err != nil {
				t.Fatalf("logout(%q) = %v", raw, err)
			}
		}
		if s := w.stored(p.Session.ID); s.Revoked() || s.Generation != 2 {
			t.Fatalf("a token nobody issued changed the session: %+v", s)
		}
		w.mustRefresh(cur.RefreshToken)
	})
}

// runLegacy checks that tokens of the format before the MAC keep working
// until they rotate, and are recognised as ancestors afterwards.
func runLegacy(t *testing.T, open func(t *testing.T) Harness) {
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", slow), func(t *testing.T) {
			h := open(t)
			w := newWorld(t, h, slow)
			u := mkUser(t, h)
			g1, h1 := session.NewLegacyRefreshSecret()
			g2, h2 := session.NewLegacyRefreshSecret()
			// As the migration leaves a session at generation 2 rotated a
			// moment ago: the current hash and the predecessor's in the row.
			s := Policy.Start(id.New(), u.ID, T0, "old-agent", "192.0.2.9")
			s.Generation, s.TokenHash, s.PrevTokenHash, s.RotatedAt = 2, h2, h1, T0
			s.SuccessorSealed = session.SealSuccessor(g1, g2, string(h1[:]))
			if err := h.Sessions.Create(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			h.SeedLegacy(t, s.ID, 1, h1)
			h.SeedLegacy(t, s.ID, 2, h2)

			w.clock.Advance(time.Second)
			replay := w.mustRefresh(g1)
			if replay.RefreshToken != g2 {
				t.Fatal("a legacy predecessor within grace did not get its legacy successor")
			}
			next := w.mustRefresh(g2)
			if len(next.RefreshToken) != session.RefreshTokenLength || next.Session.Generation != 3 {
				t.Fatalf("legacy rotation gave %q at generation %d", next.RefreshToken, next.Session.Generation)
			}
			if again := w.mustRefresh(g2); again.RefreshToken != next.RefreshToken {
				t.Fatal("the legacy predecessor within grace got another successor")
			}
			w.clock.Advance(time.Minute)
			newer := w.mustRefresh(next.RefreshToken)
			_, err := w.refresh(g1)
			wantErr(t, "legacy ancestor", err, session.ErrRefreshReused)
			_, err = w.refresh(newer.RefreshToken)
			wantErr(t, "after reuse", err, session.ErrRefreshInvalid)
		})
	}
}
