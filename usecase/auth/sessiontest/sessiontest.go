// Package sessiontest is the contract of a session store, written once and
// run on every store: the in-memory fake, SQLite (file and memory) and
// PostgreSQL. It holds each store's one-step refresh (RotateCurrent) and its
// update function to session.Policy, case by case, and runs the refresh
// interactor over both paths and under races.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/auth"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// Harness is one fresh, empty store under test.
type Harness struct {
	Sessions auth.SessionStore
	Users    auth.UserRepository
	Audit    auth.AuditLog
	Tx       auth.Transactor
	// SeedLegacy stores what a store kept, before the authenticated token
	// format, of a token of generation gen in sessionID: its hash.
	SeedLegacy func(t *testing.T, sessionID string, gen int64, hash [32]byte)
	// Footprint, when set, returns the rows and bytes the store holds for
	// sessionID, every table together.
	Footprint func(t *testing.T, sessionID string) (rows, bytes int64)
}

// Policy is the session policy of the contract.
var Policy = session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// T0 is when every scenario starts: whole microseconds, UTC, so what a
// store gives back compares equal.
var T0 = time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)

var testKey = bytes.Repeat([]byte{0x5a}, session.RefreshKeyBytes)

// Run runs the whole contract; open returns a fresh store for each subtest.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("decide/fast path", func(t *testing.T) { runDecide(t, open, true) })
	t.Run("decide/update function", func(t *testing.T) { runDecide(t, open, false) })
	for _, path := range []struct {
		name string
		slow bool
	}{{"fast", false}, {"locked", true}} {
		t.Run("refresh/"+path.name, func(t *testing.T) { runRefresh(t, open, path.slow) })
	}
	t.Run("legacy tokens", func(t *testing.T) { runLegacy(t, open) })
	t.Run("races", func(t *testing.T) { runRaces(t, open) })
	t.Run("update function", func(t *testing.T) { runUpdate(t, open) })
	t.Run("erase sealed", func(t *testing.T) { runErase(t, open) })
	t.Run("listing and cap", func(t *testing.T) { runListing(t, open) })
	t.Run("liveness", func(t *testing.T) { runLiveness(t, open) })
}

// runLiveness checks the access check's narrow read against the session
// as stored: live, revoked, idle-expired and past its absolute lifetime,
// with its user and never the user's password hash.
func runLiveness(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u := mkUser(t, h)
	cases := []struct {
		name string
		edit func(*session.Session)
	}{
		{"live", noChange},
		{"revoked", func(s *session.Session) { s.Revoke(T0.Add(time.Minute), session.ReasonLogout) }},
		{"idle expiry before absolute", func(s *session.Session) { s.IdleExpiresAt = T0.Add(time.Hour) }},
		{"absolute before idle", func(s *session.Session) { s.AbsoluteExpiresAt = T0.Add(30 * time.Minute) }},
	}
	for _, tc := range cases {
		s := Policy.Start(id.New(), u.ID, T0, "agent", "192.0.2.1")
		s.TokenHash = hashOf(9)
		tc.edit(&s)
		if err := h.Sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, gotUser, err := h.Sessions.Liveness(ctx, s.ID)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := s.Liveness()
		if got.ID != want.ID || got.UserID != want.UserID || !got.RevokedAt.Equal(want.RevokedAt) ||
			!got.IdleExpiresAt.Equal(want.IdleExpiresAt) || !got.AbsoluteExpiresAt.Equal(want.AbsoluteExpiresAt) {
			t.Errorf("%s: liveness %+v; want %+v", tc.name, got, want)
		}
		for _, now := range []time.Time{T0, T0.Add(45 * time.Minute), T0.Add(2 * time.Hour), T0.Add(Policy.AbsoluteTTL)} {
			if got.Active(now) != s.Active(now) {
				t.Errorf("%s at %v: active %v; the session says %v", tc.name, now, got.Active(now), s.Active(now))
			}
		}
		if gotUser.ID != u.ID || gotUser.Email != u.Email || len(gotUser.Roles) != len(u.Roles) || gotUser.PasswordHash != "" {
			t.Errorf("%s: user %+v; want %s/%s with roles %v and no password hash", tc.name, gotUser, u.ID, u.Email, u.Roles)
		}
	}
	if _, _, err := h.Sessions.Liveness(ctx, id.New()); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("liveness of an unknown session = %v", err)
	}
	if _, _, err := h.Sessions.Liveness(ctx, "not-a-uuid"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("liveness of a malformed id = %v", err)
	}
}

// runListing pages through an account's active sessions and caps them.
func runListing(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u, other := mkUser(t, h), mkUser(t, h)
	now := T0.Add(time.Hour)
	var want []session.Session
	mk := func(userID string, at time.Time, edit func(*session.Session)) session.Session {
		s := Policy.Start(id.New(), userID, at, "", "")
		s.TokenHash = hashOf(1)
		edit(&s)
		if err := h.Sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for i := range 7 {
		// Pairs share a creation time: ties are ordered by ID.
		want = append(want, mk(u.ID, T0.Add(time.Duration(i/2)*time.Minute), noChange))
	}
	mk(u.ID, T0, func(s *session.Session) { s.Revoke(T0, session.ReasonLogout) })
	mk(u.ID, T0.Add(-Policy.IdleTTL), noChange) // expired at now
	mk(other.ID, T0, noChange)
	slices.SortFunc(want, func(a, b session.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := h.Sessions.ListActive(ctx, u.ID, now, cursor, 3)
		if err != nil || len(page.Sessions) > 3 || pages > 3 {
			t.Fatalf("page %d: %d sessions, %v", pages, len(page.Sessions), err)
		}
		for _, s := range page.Sessions {
			got = append(got, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	var wantIDs []string
	for _, s := range want {
		wantIDs = append(wantIDs, s.ID)
	}
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("pages:\n got  %v\n want %v", got, wantIDs)
	}
	if _, err := h.Sessions.ListActive(ctx, u.ID, now, "bm90IGEgY3Vyc29y", 3); !errors.Is(err, session.ErrInvalidCursor) {
		t.Fatalf("a cursor nobody issued: %v", err)
	}
	ids, err := h.Sessions.RevokeBeyond(ctx, u.ID, 5, session.ReasonSessionLimit, now)
	if err != nil {
		t.Fatal(err)
	}
	oldest := []string{wantIDs[5], wantIDs[6]}
	slices.Sort(oldest)
	if !slices.Equal(ids, oldest) {
		t.Fatalf("RevokeBeyond revoked %v; want the two oldest %v", ids, oldest)
	}
	page, err := h.Sessions.ListActive(ctx, u.ID, now, "", 100)
	if err != nil || len(page.Sessions) != 5 {
		t.Fatalf("after the cap: %d sessions, %v", len(page.Sessions), err)
	}
	if s := w0(t, h, wantIDs[6]); s.RevokeReason != session.ReasonSessionLimit {
		t.Fatalf("capped session: %+v", s)
	}
	if ids, err := h.Sessions.RevokeBeyond(ctx, u.ID, 5, session.ReasonSessionLimit, now); err != nil || len(ids) != 0 {
		t.Fatalf("second RevokeBeyond: %v, %v", ids, err)
	}
}

// mkUser stores an account and returns it.
func mkUser(t *testing.T, h Harness) user.User {
	t.Helper()
	u := user.User{
		ID: id.New(), Email: id.New()[:8] + "@example.com", Name: "Ada", Roles: []string{user.RoleUser},
		PasswordHash: fakes.Encoded(1, "correct horse battery"), CreatedAt: T0, UpdatedAt: T0,
	}
	if err := h.Users.Create(context.Background(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

func hashOf(b byte) [32]byte { return [32]byte{b, 0xee, 0x01, b} }

// generation3 is a session at generation 3: token h(3) current, h(2)
// rotated at rotated into it with its successor sealed.
func generation3(userID string, rotated time.Time) session.Session {
	s := Policy.Start(id.New(), userID, T0, "agent-1", "192.0.2.1")
	s.Generation = 3
	s.TokenHash, s.PrevTokenHash = hashOf(3), hashOf(2)
	s.RotatedAt, s.SuccessorSealed = rotated, []byte("sealed successor of generation 2")
	Policy.Touch(&s, rotated, "", "")
	return s
}

// decideCase is one case of session.Policy.Decide as a store sees it.
type decideCase struct {
	name  string
	state func(s *session.Session)
	tok   func(s session.Session) session.Presented
	now   func(s session.Session) time.Time
	want  session.Decision
}

var rotated2 = T0.Add(2 * time.Hour)

func current(s session.Session) session.Presented {
	return session.Presented{Hash: s.TokenHash, SessionID: s.ID, Generation: s.Generation}
}
func parent(s session.Session) session.Presented {
	return session.Presented{Hash: s.PrevTokenHash, SessionID: s.ID, Generation: s.Generation - 1}
}
func grandparent(s session.Session) session.Presented {
	return session.Presented{Hash: hashOf(1), SessionID: s.ID, Generation: s.Generation - 2}
}
func at(d time.Duration) func(session.Session) time.Time {
	return func(session.Session) time.Time { return rotated2.Add(d) }
}
func noChange(*session.Session) {}

var decideCases = []decideCase{
	{"rotate", noChange, current, at(time.Minute), session.Rotate},
	{"rotate just before idle expiry", noChange, current,
		func(s session.Session) time.Time { return s.IdleExpiresAt.Add(-time.Microsecond) }, session.Rotate},
	{"replay in grace", noChange, parent, at(5 * time.Second), session.Replay},
	{"replay at the grace boundary", noChange, parent, at(Policy.ReuseGrace), session.Replay},
	{"reuse just after grace", noChange, parent, at(Policy.ReuseGrace + time.Microsecond), session.RevokeForReuse},
	{"reuse long after grace", noChange, parent, at(time.Hour), session.RevokeForReuse},
	{"predecessor without a seal", func(s *session.Session) { s.SuccessorSealed = nil }, parent, at(time.Second), session.RevokeForReuse},
	{"ancestor reuse", noChange, grandparent, at(time.Minute), session.RevokeForReuse},
	{"ancestor within grace", noChange, grandparent, at(0), session.RevokeForReuse},
	{"not the issued current token", noChange,
		func(s session.Session) session.Presented {
			p := current(s)
			p.Hash = hashOf(9)
			return p
		}, at(time.Minute), session.Reject},
	{"idle expiry", noChange, current, func(s session.Session) time.Time { return s.IdleExpiresAt }, session.Reject},
	{"idle expiry, ancestor", noChange, grandparent,
		func(s session.Session) time.Time { return s.IdleExpiresAt.Add(time.Hour) }, session.Reject},
	{"absolute expiry though recently used",
		func(s *session.Session) { Policy.Touch(s, s.AbsoluteExpiresAt.Add(-time.Hour), "", "") },
		current, func(s session.Session) time.Time { return s.AbsoluteExpiresAt }, session.Reject},
	{"revoked", func(s *session.Session) { s.Revoke(rotated2.Add(time.Second), session.ReasonLogout) },
		current, at(time.Minute), session.Reject},
	{"revoked, predecessor in grace", func(s *session.Session) { s.Revoke(rotated2.Add(time.Second), session.ReasonLogout) },
		parent, at(2 * time.Second), session.Reject},
	{"revoked, ancestor", func(s *session.Session) { s.Revoke(rotated2.Add(time.Second), session.ReasonLogout) },
		grandparent, at(time.Hour), session.Reject},
}

// runDecide stores each case's session, presents its token through one path
// and checks the store's answer and what it then holds against the policy.
func runDecide(t *testing.T, open func(t *testing.T) Harness, fast bool) {
	h := open(t)
	ctx := context.Background()
	u := mkUser(t, h)
	for _, tc := range decideCases {
		t.Run(tc.name, func(t *testing.T) {
			s := generation3(u.ID, rotated2)
			tc.state(&s)
			if err := h.Sessions.Create(ctx, s); err != nil {
				t.Fatalf("create: %v", err)
			}
			tok, now := tc.tok(s), tc.now(s)
			if got := Policy.Decide(s, tok, now); got != tc.want {
				t.Fatalf("the case is wrong: Decide = %v, want %v", got, tc.want)
			}
			next, sealed := hashOf(4), []byte("sealed successor of generation 3")
			want := s
			if tc.want == session.Rotate {
				Policy.Rotate(&want, next, sealed, now, "agent-2", "")
			}
			if fast {
				got, gotUser, ok, err := h.Sessions.RotateCurrent(ctx, auth.RotateInput{
					Token: tok, Policy: Policy, Now: now, Next: next, SuccessorSealed: sealed, UserAgent: "agent-2",
				})
				if err != nil || ok != (tc.want == session.Rotate) {
					t.Fatalf("RotateCurrent = ok %v, %v; want ok %v", ok, err, tc.want == session.Rotate)
				}
				if ok {
					same(t, "returned session", got, want)
					if gotUser.ID != u.ID || gotUser.Email != u.Email || gotUser.PasswordHash != "" {
						t.Fatalf("returned user %+v; want %+v without its password hash", gotUser, u)
					}
				}
			} else {
				if tc.want == session.RevokeForReuse {
					want.Revoke(now, session.ReasonReuseDetected)
				}
				err := h.Sessions.Update(ctx, s.ID, func(cur *session.Session) error {
					switch Policy.Decide(*cur, tok, now) {
					case session.Rotate:
						Policy.Rotate(cur, next, sealed, now, "agent-2", "")
					case session.RevokeForReuse:
						cur.Revoke(now, session.ReasonReuseDetected)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
			}
			stored, _, err := h.Sessions.WithUser(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			same(t, "stored session", stored, want)
		})
	}
	// Unknown sessions: the fast path declines, the update function says so.
	ghost := session.Presented{Hash: hashOf(3), SessionID: id.New(), Generation: 3}
	if _, _, ok, err := h.Sessions.RotateCurrent(ctx, auth.RotateInput{Token: ghost, Policy: Policy, Now: T0, Next: hashOf(4)}); ok || err != nil {
		t.Fatalf("RotateCurrent of an unknown session = %v, %v", ok, err)
	}
	if err := h.Sessions.Update(ctx, ghost.SessionID, func(*session.Session) error { return nil }); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Update of an unknown session = %v; want ErrNotFound", err)
	}
}

// same compares sessions as a store gives them back.
func same(t *testing.T, what string, got, want session.Session) {
	t.Helper()
	if len(want.SuccessorSealed) == 0 {
		want.SuccessorSealed = nil
	}
	if len(got.SuccessorSealed) == 0 {
		got.SuccessorSealed = nil
	}
	for _, p := range []*session.Session{&got, &want} {
		for _, tm := range []*time.Time{&p.CreatedAt, &p.LastUsedAt, &p.IdleExpiresAt, &p.AbsoluteExpiresAt, &p.AuthTime, &p.RevokedAt, &p.RotatedAt} {
			if !tm.IsZero() {
				*tm = tm.UTC()
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// slowOnly is a store whose fast path always declines, so every refresh
// takes the update function.
type slowOnly struct{ auth.SessionStore }

func (slowOnly) RotateCurrent(context.Context, auth.RotateInput) (session.Session, user.User, bool, error) {
	return session.Session{}, user.User{}, false, nil
}

// fastCounter counts the fast path's rotations.
type fastCounter struct {
	auth.SessionStore
	mu sync.Mutex
	n  int
}

func (f *fastCounter) RotateCurrent(ctx context.Context, in auth.RotateInput) (session.Session, user.User, bool, error) {
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
	logins    *auth.PasswordLogin
	refresher *auth.Refresher
	revoker   *auth.SessionRevoker
	counts    *fastCounter
}

func newWorld(t *testing.T, h Harness, slow bool) *world {
	clock := fakes.NewClock(T0)
	codec, err := session.NewRefreshCodec(testKey)
	if err != nil {
		t.Fatal(err)
	}
	counts := &fastCounter{SessionStore: h.Sessions}
	var store auth.SessionStore = counts
	if slow {
		store = slowOnly{h.Sessions}
	}
	tokens := fakes.NewTokens(clock, 15*time.Minute)
	opener := auth.NewSessionOpener(auth.SessionOpenerDeps{
		Starter: store, Capper: store, Codec: codec, Tokens: tokens, Audit: h.Audit, Policy: Policy,
	})
	return &world{
		t: t, h: h, clock: clock, codec: codec, counts: counts,
		logins: auth.NewPasswordLogin(auth.PasswordLoginDeps{
			Users: h.Users, Hasher: fakes.NewHasher(), Sessions: opener, Audit: h.Audit, Tx: h.Tx, Clock: clock,
		}),
		refresher: auth.NewRefresher(auth.RefresherDeps{
			Sessions: store, Codec: codec, Tokens: tokens, Audit: h.Audit, Tx: h.Tx, Clock: clock, Policy: Policy,
		}),
		revoker: auth.NewSessionRevoker(auth.SessionRevokerDeps{
			Sessions: store, Codec: codec, Audit: h.Audit, Tx: h.Tx, Clock: clock, Policy: Policy,
		}),
	}
}

var meta = auth.Meta{IP: "203.0.113.7", UserAgent: "ContractAgent/1.0"}

func (w *world) login() auth.TokenPair {
	w.t.Helper()
	u := mkUser(w.t, w.h)
	p, err := w.logins.Login(context.Background(), auth.Credentials{Email: u.Email, Password: "correct horse battery"}, meta)
	if err != nil {
		w.t.Fatalf("login: %v", err)
	}
	return p
}

func (w *world) refresh(raw string) (auth.TokenPair, error) {
	return w.refresher.Refresh(context.Background(), raw, meta)
}

func (w *world) mustRefresh(raw string) auth.TokenPair {
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
		if err := w.revoker.Logout(context.Background(), auth.LogoutInput{RefreshToken: out.RefreshToken}, meta); err != nil {
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
			if err := w.revoker.Logout(context.Background(), auth.LogoutInput{RefreshToken: raw}, meta); err != nil {
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

// runRaces runs parallel refreshes with one token, and a refresh against a
// logout.
func runRaces(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("parallel refreshes keep one lineage", func(t *testing.T) {
		w := newWorld(t, open(t), false)
		p := w.login()
		const n = 16
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[string]int{}
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				r, err := w.refresh(p.RefreshToken)
				if err != nil {
					t.Errorf("parallel refresh: %v", err)
					return
				}
				mu.Lock()
				got[r.RefreshToken]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if len(got) != 1 {
			t.Fatalf("%d distinct successors from %d parallel refreshes; want 1", len(got), n)
		}
		if s := w.stored(p.Session.ID); s.Generation != 2 || s.Revoked() {
			t.Fatalf("after the race: %+v", s)
		}
		for succ := range got {
			w.mustRefresh(succ)
		}
	})
	t.Run("rotation against logout", func(t *testing.T) {
		w := newWorld(t, open(t), false)
		for range 5 {
			p := w.login()
			var wg sync.WaitGroup
			var rerr error
			var r auth.TokenPair
			wg.Go(func() { r, rerr = w.refresh(p.RefreshToken) })
			wg.Go(func() {
				if err := w.revoker.Logout(context.Background(), auth.LogoutInput{RefreshToken: p.RefreshToken}, meta); err != nil {
					t.Errorf("logout: %v", err)
				}
			})
			wg.Wait()
			if rerr != nil && !errors.Is(rerr, session.ErrRefreshInvalid) {
				t.Fatalf("refresh racing a logout: %v", rerr)
			}
			if s := w.stored(p.Session.ID); !s.Revoked() {
				t.Fatalf("the logout was lost: %+v", s)
			}
			if rerr == nil {
				_, err := w.refresh(r.RefreshToken)
				wantErr(t, "successor after logout", err, session.ErrRefreshInvalid)
			}
		}
	})
}

// runUpdate checks the update function's own contract.
func runUpdate(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u := mkUser(t, h)
	s := generation3(u.ID, rotated2)
	if err := h.Sessions.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := h.Sessions.Update(ctx, s.ID, func(cur *session.Session) error {
		cur.Revoke(rotated2, session.ReasonLogout)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v; want fn's error", err)
	}
	same(t, "after a failed update", w0(t, h, s.ID), s)

	// Inside a caller's transaction that then fails, nothing stays.
	err = h.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := h.Sessions.Update(ctx, s.ID, func(cur *session.Session) error {
			cur.AuthTime = rotated2
			return nil
		}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	same(t, "after a rolled back transaction", w0(t, h, s.ID), s)

	err = h.Sessions.Update(ctx, s.ID, func(cur *session.Session) error {
		cur.AuthTime = rotated2
		cur.UserAgent = "changed"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := s
	want.AuthTime, want.UserAgent = rotated2, "changed"
	same(t, "after an update", w0(t, h, s.ID), want)

	// Parallel increments through the update function lose none.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			err := h.Sessions.Update(ctx, s.ID, func(cur *session.Session) error {
				cur.Generation++
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if g := w0(t, h, s.ID).Generation; g != s.Generation+10 {
		t.Fatalf("10 parallel updates moved the generation from %d to %d", s.Generation, g)
	}
}

func w0(t *testing.T, h Harness, sessionID string) session.Session {
	t.Helper()
	s, _, err := h.Sessions.WithUser(context.Background(), sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runErase checks that sealed successors go once their grace has passed.
func runErase(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u := mkUser(t, h)
	recent := generation3(u.ID, rotated2)
	old := generation3(u.ID, rotated2.Add(-time.Hour))
	for _, s := range []session.Session{recent, old} {
		if err := h.Sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	n, err := h.Sessions.EraseSealed(ctx, rotated2.Add(-Policy.ReuseGrace), 1)
	if err != nil || n != 1 {
		t.Fatalf("EraseSealed = %d, %v; want 1", n, err)
	}
	if w0(t, h, old.ID).SuccessorSealed != nil {
		t.Fatal("the seal past its grace is still stored")
	}
	if w0(t, h, recent.ID).SuccessorSealed == nil {
		t.Fatal("the seal within its grace was erased")
	}
}

// Growth refreshes one session n times through the interactor and reports
// the store's footprint after each count in at.
func Growth(t *testing.T, h Harness, n int, at []int) map[int][2]int64 {
	w := newWorld(t, h, false)
	p := w.login()
	out := map[int][2]int64{}
	for i := 1; i <= n; i++ {
		w.clock.Advance(time.Minute)
		p = w.mustRefresh(p.RefreshToken)
		for _, a := range at {
			if a == i {
				r, b := h.Footprint(t, p.Session.ID)
				out[i] = [2]int64{r, b}
			}
		}
	}
	return out
}

// Service returns the refresh interactor over h with the contract's policy,
// a fake clock starting at start (advance moves it) and the test key.
func Service(t *testing.T, h Harness, start time.Time) (refresher *auth.Refresher, advance func(time.Duration)) {
	w := newWorld(t, h, false)
	w.clock.Set(start)
	return w.refresher, w.clock.Advance
}

// TestKey is the refresh-token key of Service.
func TestKey() []byte { return bytes.Clone(testKey) }
