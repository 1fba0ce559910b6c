package persistence_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/recovery"
)

func TestEmailTokenStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewEmailTokenStore(s.db)
		u := mustCreateUser(t, s, "tok@example.com")
		raw, hash := recovery.NewSecret()
		tok := recovery.Issue(hash, recovery.PurposePasswordReset, u.ID, u.Email, base, 30*time.Minute)
		if err := store.Insert(ctx, tok); err != nil {
			t.Fatal(err)
		}
		want := tok
		want.CreatedAt, want.ExpiresAt = norm(tok.CreatedAt), norm(tok.ExpiresAt)

		got, err := store.ByHash(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "by hash", got, want)
		if h2, ok := recovery.HashSecret(raw); !ok || h2 != hash {
			t.Fatal("the raw token does not hash to the stored hash")
		}

		// Single use: of many concurrent takes, exactly one gets the token.
		warmPool(t, s, 8)
		var wins, invalid atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
					_, err := store.Take(ctx, hash)
					return err
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, recovery.ErrLinkInvalid):
					invalid.Add(1)
				default:
					t.Errorf("take: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || invalid.Load() != 7 {
			t.Fatalf("takes: %d won, %d invalid; want 1 and 7", wins.Load(), invalid.Load())
		}
		if _, err := store.ByHash(ctx, hash); !errors.Is(err, recovery.ErrLinkInvalid) {
			t.Fatalf("a taken token is still there: %v", err)
		}

		// A take rolled back leaves the token usable.
		_, hash2 := recovery.NewSecret()
		if err := store.Insert(ctx, recovery.Issue(hash2, recovery.PurposeVerifyEmail, u.ID, u.Email, base, time.Hour)); err != nil {
			t.Fatal(err)
		}
		errAbort := errors.New("abort")
		_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if _, err := store.Take(ctx, hash2); err != nil {
				t.Fatal(err)
			}
			return errAbort
		})
		if _, err := store.ByHash(ctx, hash2); err != nil {
			t.Fatalf("a rolled-back take used the token up: %v", err)
		}

		// DeleteForUser is per purpose; PurgeExpired by expiry.
		_, hash3 := recovery.NewSecret()
		if err := store.Insert(ctx, recovery.Issue(hash3, recovery.PurposePasswordReset, u.ID, u.Email, base, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteForUser(ctx, u.ID, recovery.PurposePasswordReset); err != nil {
			t.Fatal(err)
		}
		if _, err := store.ByHash(ctx, hash3); !errors.Is(err, recovery.ErrLinkInvalid) {
			t.Fatal("DeleteForUser left a reset token")
		}
		if _, err := store.ByHash(ctx, hash2); err != nil {
			t.Fatal("DeleteForUser(reset) removed a verification token")
		}
		n, err := store.PurgeExpired(ctx, base.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purge: %d, %v; want 1", n, err)
		}

		// Deleting the account deletes its tokens.
		_, hash4 := recovery.NewSecret()
		if err := store.Insert(ctx, recovery.Issue(hash4, recovery.PurposeVerifyEmail, u.ID, u.Email, base, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.users.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if c := count(t, s, "email_tokens"); c != 0 {
			t.Fatalf("%d tokens outlived their account", c)
		}
	})
}

func TestMailOutbox(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		ob := persistence.NewMailOutbox(s.db)
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		lease := time.Minute

		msg := outbox.Message{ID: id.New(), Kind: outbox.KindVerifyEmail, To: "a@example.com", Locale: "de",
			Link: "http://x/#/verify-email?token=abc", TTL: 24 * time.Hour, CreatedAt: now}
		// Written in a transaction that rolls back: nothing queued.
		_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := ob.Enqueue(ctx, msg, now); err != nil {
				t.Fatal(err)
			}
			return errors.New("abort")
		})
		if c := count(t, s, "mail_outbox"); c != 0 {
			t.Fatalf("a rolled-back enqueue left %d rows", c)
		}
		if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return ob.Enqueue(ctx, msg, now) }); err != nil {
			t.Fatal(err)
		}
		later := outbox.Message{ID: id.New(), Kind: outbox.KindEmailChanged, To: "b@example.com", CreatedAt: now}
		if err := ob.Enqueue(ctx, later, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		got, err := ob.Claim(ctx, now, lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := msg
		want.Attempts = 1
		if len(got) != 1 {
			t.Fatalf("claimed %d messages, want the one due", len(got))
		}
		equal(t, "claimed", got[0], want)

		// Claimed: nobody else gets it until the lease ends.
		if again, err := ob.Claim(ctx, now.Add(lease/2), lease, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice within the lease: %v, %v", again, err)
		}
		// A crash mid-send: after the lease it is claimed again.
		again, err := ob.Claim(ctx, now.Add(lease+time.Millisecond), lease, 10)
		if err != nil || len(again) != 1 || again[0].ID != msg.ID || again[0].Attempts != 2 {
			t.Fatalf("after the lease: %+v, %v", again, err)
		}
		t2 := now.Add(lease + time.Millisecond)
		if err := ob.Retry(ctx, msg.ID, t2.Add(10*time.Second), "421 try later"); err != nil {
			t.Fatal(err)
		}
		if early, _ := ob.Claim(ctx, t2.Add(5*time.Second), lease, 10); len(early) != 0 {
			t.Fatal("a retried message came back before its time")
		}
		third, err := ob.Claim(ctx, t2.Add(10*time.Second), lease, 10)
		if err != nil || len(third) != 1 || third[0].Attempts != 3 {
			t.Fatalf("retry: %+v, %v", third, err)
		}
		if err := ob.Delivered(ctx, msg.ID); err != nil {
			t.Fatal(err)
		}
		// The other message; given up, it stays for operators without its link.
		last, err := ob.Claim(ctx, now.Add(2*time.Hour), lease, 10)
		if err != nil || len(last) != 1 || last[0].ID != later.ID || last[0].Locale != "en" {
			t.Fatalf("second message (queued without a locale: the default): %+v, %v", last, err)
		}
		if err := ob.GiveUp(ctx, later.ID, "550 no such user"); err != nil {
			t.Fatal(err)
		}
		if none, _ := ob.Claim(ctx, now.Add(100*time.Hour), lease, 10); len(none) != 0 {
			t.Fatal("a given-up message was claimed")
		}
		var rows []struct {
			Status, Link, LastError string
		}
		if err := s.db.Raw("SELECT status, link, last_error FROM mail_outbox").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Status != "failed" || rows[0].LastError != "550 no such user" {
			t.Fatalf("outbox after give-up: %+v", rows)
		}
	})
}

// TestMailOutboxClaimsAreExclusive: instances claiming at once never get
// the same message, and together they get every one.
func TestMailOutboxClaimsAreExclusive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		ob := persistence.NewMailOutbox(s.db)
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		const total = 60
		for range total {
			if err := ob.Enqueue(ctx, outbox.Message{ID: id.New(), Kind: outbox.KindEmailChanged, To: "x@example.com", CreatedAt: now}, now); err != nil {
				t.Fatal(err)
			}
		}
		warmPool(t, s, 6)
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for {
					msgs, err := ob.Claim(ctx, now, time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(msgs) == 0 {
						return
					}
					mu.Lock()
					for _, m := range msgs {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != total {
			t.Fatalf("claimed %d distinct messages, want %d", len(seen), total)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("message %s claimed %d times", id, n)
			}
		}
	})
}
