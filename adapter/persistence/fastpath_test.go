package persistence_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

func rotateInput(hash [32]byte, raw string, now time.Time) (auth.RotateInput, string) {
	nextRaw, nextHash := session.NewRefreshSecret()
	return auth.RotateInput{
		Hash: hash, Now: now, IdleTTL: policy.IdleTTL, Next: nextHash,
		SuccessorSealed: session.SealSuccessor(raw, nextRaw, string(hash[:])),
		UserAgent:       "agent-2", IP: "198.51.100.7",
	}, nextRaw
}

// TestRotateCurrentAgreesWithThePolicy: the one-statement fast path leaves
// the family exactly as the domain's Decide+Touch and the locked Rotate do.
func TestRotateCurrentAgreesWithThePolicy(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "fast@example.com")
		sess, raw, tok := mustStartSession(t, s, u, base)
		now := base.Add(time.Hour)
		in, nextRaw := rotateInput(tok.Hash, raw, now)
		got, gotUser, ok, err := s.sessions.RotateCurrent(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !s.postgres {
			if ok {
				t.Fatal("SQLite took a fast path it does not have")
			}
			return
		}
		if !ok {
			t.Fatal("the current token of an active session was not rotated")
		}
		want := sess
		if d := policy.Decide(sess, tok, now); d != session.Rotate {
			t.Fatalf("policy says %v", d)
		}
		want.Generation++
		policy.Touch(&want, now, "agent-2", "198.51.100.7")
		equal(t, "session", normSession(got), normSession(want))
		equal(t, "stored session", normSession(mustByID(t, s, sess.ID)), normSession(want))
		if gotUser.ID != u.ID || gotUser.Email != u.Email || len(gotUser.Roles) != 1 {
			t.Errorf("user %+v", gotUser)
		}
		// The used token is rotated and its seal opens to the successor.
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			_, used, err := s.sessions.LockByRefreshHash(ctx, tok.Hash)
			if err != nil {
				return err
			}
			if !used.RotatedAt.Equal(now.Truncate(time.Microsecond)) {
				t.Errorf("rotated at %v", used.RotatedAt)
			}
			succ, err := session.OpenSuccessor(raw, used.SuccessorSealed, string(tok.Hash[:]))
			if err != nil || succ != nextRaw {
				t.Errorf("seal opens to %q, %v", succ, err)
			}
			_, next, err := s.sessions.LockByRefreshHash(ctx, in.Next)
			if err != nil || next.Generation != 2 || !next.RotatedAt.IsZero() {
				t.Errorf("successor %+v %v", next, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The old token no longer takes the fast path; neither does a
		// revoked or expired session's current token.
		again, _ := rotateInput(tok.Hash, raw, now)
		if _, _, ok, err := s.sessions.RotateCurrent(ctx, again); ok || err != nil {
			t.Errorf("a used token took the fast path: %v %v", ok, err)
		}
		late, _ := rotateInput(in.Next, nextRaw, want.ExpiresAt())
		if _, _, ok, err := s.sessions.RotateCurrent(ctx, late); ok || err != nil {
			t.Errorf("an expired session took the fast path: %v %v", ok, err)
		}
	})
}

// TestRotateCurrentRace: thirty simultaneous fast-path rotations of one
// token rotate it once.
func TestRotateCurrentRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		if !s.postgres {
			return
		}
		warmPool(t, s, 30)
		u := mustCreateUser(t, s, "fastrace@example.com")
		_, raw, tok := mustStartSession(t, s, u, base)
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won int
		)
		for range 30 {
			wg.Go(func() {
				in, _ := rotateInput(tok.Hash, raw, base.Add(time.Minute))
				_, _, ok, err := s.sessions.RotateCurrent(context.Background(), in)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d fast rotations of one token, want 1", won)
		}
	})
}

func mustByID(t *testing.T, s *env, id string) session.Session {
	t.Helper()
	got, err := s.sessions.ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWithUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		u := mustCreateUser(t, s, "withuser@example.com")
		sess, _, _ := mustStartSession(t, s, u, base)
		got, gotUser, err := s.sessions.WithUser(context.Background(), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "session", normSession(got), normSession(sess))
		gotUser.CreatedAt, gotUser.UpdatedAt = norm(gotUser.CreatedAt), norm(gotUser.UpdatedAt)
		u.CreatedAt, u.UpdatedAt = norm(u.CreatedAt), norm(u.UpdatedAt)
		equal(t, "user", gotUser, u)
		for _, missing := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
			if _, _, err := s.sessions.WithUser(context.Background(), missing); err != session.ErrNotFound {
				t.Errorf("%s: %v", missing, err)
			}
		}
	})
}
