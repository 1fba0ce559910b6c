package persistence_test

import (
	"context"
	"errors"
	"testing"

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
