package sessiontest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

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
				got, gotUser, ok, err := h.Sessions.RotateCurrent(ctx, authn.RotateInput{
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
	if _, _, ok, err := h.Sessions.RotateCurrent(ctx, authn.RotateInput{Token: ghost, Policy: Policy, Now: T0, Next: hashOf(4)}); ok || err != nil {
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
