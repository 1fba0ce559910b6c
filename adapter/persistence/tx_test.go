package persistence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

func TestTransactor(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		boom := errors.New("boom")

		// A nested WithinTx joins the outer transaction: the outer rollback
		// undoes what the inner one wrote.
		inner := newUser("inner@example.com")
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
				return s.users.Create(ctx, inner)
			}); err != nil {
				return err
			}
			if _, err := s.users.ByID(ctx, inner.ID); err != nil {
				t.Errorf("the transaction does not see its own write: %v", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if _, err := s.users.ByID(ctx, inner.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("nested write survived the rollback: %v", err)
		}

		// A panic rolls back too, and the pool stays usable.
		p := newUser("panic@example.com")
		func() {
			defer func() { _ = recover() }()
			_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
				_ = s.users.Create(ctx, p)
				panic("boom")
			})
		}()
		if _, err := s.users.ByID(ctx, p.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("write survived a panic: %v", err)
		}

		ok := newUser("ok@example.com")
		if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return s.users.Create(ctx, ok) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.users.ByID(ctx, ok.ID); err != nil {
			t.Fatalf("committed write missing: %v", err)
		}
	})
}

// TestReadsDoNotWaitForAWriteTransaction: an access check (a plain read)
// runs while another request's transaction is open, and sees only what
// was committed; afterwards it sees the commit. On SQLite in memory there
// is one connection, so the read can only come after the transaction.
func TestReadsDoNotWaitForAWriteTransaction(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		old := mustCreateUser(t, s, "old@example.com")
		fresh := newUser("fresh@example.com")
		oneConn := !s.postgres && strings.Contains(t.Name(), "memory")

		inTx, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.tx.WithinTx(ctx, func(ctx context.Context) error {
				if err := s.users.Create(ctx, fresh); err != nil {
					return err
				}
				close(inTx)
				<-release
				return nil
			})
		}()
		<-inTx
		if !oneConn {
			// A deadline turns a read stuck behind the transaction (which
			// waits for this read) into a failure instead of a hang.
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := s.users.ByID(rctx, old.ID); err != nil {
				t.Errorf("read during another request's transaction: %v", err)
			}
			if _, err := s.users.ByID(rctx, fresh.ID); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("read saw an uncommitted user: %v", err)
			}
			cancel()
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := s.users.ByID(ctx, fresh.ID); err != nil {
			t.Fatalf("read after commit does not see it: %v", err)
		}
	})
}
