package sessiontest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
)

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
