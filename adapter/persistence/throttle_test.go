package persistence_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/throttle"
)

var throttlePolicy = throttle.Policy{BackoffAfter: 5, BaseDelay: time.Second, MaxFailures: 10, Window: 15 * time.Minute, Lockout: 15 * time.Minute}

// attempt runs one throttled attempt the way the login use case does.
func attempt(s *env, lt *persistence.LoginThrottle, key string, now time.Time) error {
	return s.tx.WithinTx(context.Background(), func(ctx context.Context) error {
		return lt.Update(ctx, key, func(st *throttle.State) error {
			if wait, ok := throttlePolicy.Admit(*st, now); !ok {
				return &throttle.LimitedError{RetryAfter: wait}
			}
			*st = throttlePolicy.Fail(*st, now)
			return nil
		})
	})
}

func TestLoginThrottleStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		lt := persistence.NewLoginThrottle(s.db)
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

		t.Run("round trip, refusal and reset", func(t *testing.T) {
			for i := range 5 {
				if err := attempt(s, lt, "account:a@b.co", now); err != nil {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			var limited *throttle.LimitedError
			if err := attempt(s, lt, "account:a@b.co", now); !errors.As(err, &limited) || limited.RetryAfter != time.Second {
				t.Fatalf("sixth attempt: %v", err)
			}
			// Refusals are not stored: one second later the next is admitted.
			if err := attempt(s, lt, "account:a@b.co", now.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			// Reset deletes the record.
			err := s.tx.WithinTx(context.Background(), func(ctx context.Context) error {
				return lt.Update(ctx, "account:a@b.co", func(st *throttle.State) error { *st = throttle.State{}; return nil })
			})
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			s.db.Table("login_throttle").Where("key = ? AND failures > 0", "account:a@b.co").Count(&n)
			if n != 0 {
				t.Errorf("%d records after reset", n)
			}
		})

		t.Run("parallel attempts are all counted", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range 8 {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = attempt(s, lt, "account:burst@b.co", now) }()
			}
			wg.Wait()
			admitted := 0
			for _, err := range errs {
				var limited *throttle.LimitedError
				switch {
				case err == nil:
					admitted++
				case errors.As(err, &limited):
				default:
					t.Errorf("attempt error %v", err)
				}
			}
			// Five are admitted at once, the rest must wait: a burst cannot
			// slip past the back-off.
			if admitted != 5 {
				t.Errorf("%d of 8 parallel attempts admitted, want 5", admitted)
			}
		})

		t.Run("purge", func(t *testing.T) {
			if err := attempt(s, lt, "account:old@b.co", now.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			n, err := lt.PurgeStale(context.Background(), now.Add(-30*time.Minute))
			if err != nil || n < 1 {
				t.Fatalf("purged %d, %v", n, err)
			}
		})
	})
}

func TestIPCounts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		c := persistence.NewIPCounts(s.db)
		ctx := context.Background()
		w := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		got, err := c.Add(ctx, w, map[string]int64{"1.1.1.1": 3, "2001:db8::1": 1})
		if err != nil || got["1.1.1.1"] != 3 || got["2001:db8::1"] != 1 {
			t.Fatalf("first add: %v %v", got, err)
		}
		got, err = c.Add(ctx, w, map[string]int64{"1.1.1.1": 2})
		if err != nil || got["1.1.1.1"] != 5 {
			t.Fatalf("second add: %v %v", got, err)
		}
		// Another window counts separately.
		got, _ = c.Add(ctx, w.Add(time.Minute), map[string]int64{"1.1.1.1": 1})
		if got["1.1.1.1"] != 1 {
			t.Errorf("next window: %v", got)
		}
		if err := c.Prune(ctx, w.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		var n int64
		s.db.Table("ip_rate_windows").Count(&n)
		if n != 1 {
			t.Errorf("%d rows after prune, want 1", n)
		}
	})
}
