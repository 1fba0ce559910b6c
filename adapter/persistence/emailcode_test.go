package persistence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
)

// TestEmailCodeStore: one pending code per address (a new one replaces
// it, id and secrets included), the link taken once under concurrency,
// failures counted under the row lock, removal, the purge, and a code for
// an address without an account.
func TestEmailCodeStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewEmailCodeStore(s.db)
		u := mustCreateUser(t, s, "codes@example.com")
		pending := func(email, userID string) (emailcode.Pending, [32]byte) {
			_, hash := emailtoken.NewSecret()
			return emailcode.Pending{
				ID: id.New(), Email: email, UserID: userID, CredentialVersion: 3, TokenHash: hash,
				CodeSeal: [32]byte{byte(len(email)), 1}, CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute),
			}, hash
		}
		first, firstHash := pending(u.Email, u.ID)
		if err := store.Replace(ctx, first); err != nil {
			t.Fatal(err)
		}
		second, secondHash := pending(u.Email, u.ID)
		second.CodeSeal = [32]byte{9}
		if err := store.Replace(ctx, second); err != nil {
			t.Fatal(err)
		}
		if _, err := store.TakeByToken(ctx, firstHash); !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("the replaced link still works: %v", err)
		}
		// Reads by address and by link find the replacing code, and take
		// nothing.
		for range 2 {
			byEmail, err := store.ByEmail(ctx, u.Email)
			if err != nil || byEmail.ID != second.ID {
				t.Fatalf("by email: %+v, %v", byEmail, err)
			}
			byToken, err := store.ByToken(ctx, secondHash)
			if err != nil || byToken.ID != second.ID {
				t.Fatalf("by token: %+v, %v", byToken, err)
			}
		}
		if _, err := store.ByToken(ctx, firstHash); !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("the replaced code is still read: %v", err)
		}

		// Failures counted one by one; the row is the new one.
		for i := 1; i <= 2; i++ {
			err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
				return store.Update(ctx, u.Email, func(p *emailcode.Pending) (bool, error) {
					if p.ID != second.ID || p.CodeSeal != second.CodeSeal || p.UserID != u.ID || p.CredentialVersion != 3 {
						t.Errorf("read %+v, want the replacing code", p)
					}
					if p.Failures != i-1 {
						t.Errorf("failures %d, want %d", p.Failures, i-1)
					}
					p.Failures++
					return false, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// fn's error writes nothing.
		err := store.Update(ctx, u.Email, func(p *emailcode.Pending) (bool, error) {
			p.Failures = 99
			return true, emailcode.ErrCodeInvalid
		})
		if !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("fn's error: %v", err)
		}
		if err := store.Update(ctx, "none@example.com", func(*emailcode.Pending) (bool, error) { return false, nil }); !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("no pending code: %v", err)
		}

		// The link: of concurrent takes, exactly one wins.
		oneWins(t, s, 8, emailcode.ErrCodeInvalid, func(ctx context.Context) error {
			p, err := store.TakeByToken(ctx, secondHash)
			if err == nil && p.Failures != 2 {
				t.Errorf("taken with %d failures, want 2", p.Failures)
			}
			return err
		})

		// An address without an account; removal by Update, Delete, purge.
		anon, _ := pending("nobody@example.com", "")
		if err := store.Replace(ctx, anon); err != nil {
			t.Fatal(err)
		}
		err = store.Update(ctx, anon.Email, func(p *emailcode.Pending) (bool, error) {
			if p.UserID != "" {
				t.Errorf("user %q for an address without an account", p.UserID)
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Update(ctx, anon.Email, func(*emailcode.Pending) (bool, error) { return false, nil }); !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("removed code still there: %v", err)
		}
		gone, goneHash := pending(u.Email, u.ID)
		if err := store.Replace(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := store.Delete(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.TakeByToken(ctx, goneHash); !errors.Is(err, emailcode.ErrCodeInvalid) {
			t.Fatalf("deleted code: %v", err)
		}
		old, _ := pending(u.Email, u.ID)
		if err := store.Replace(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := store.PurgeExpired(ctx, base.Add(5*time.Minute)); err != nil || n != 0 {
			t.Fatalf("purge before expiry: %d, %v", n, err)
		}
		if n, err := store.PurgeExpired(ctx, base.Add(11*time.Minute)); err != nil || n != 1 {
			t.Fatalf("purge after expiry: %d, %v", n, err)
		}
	})
}
