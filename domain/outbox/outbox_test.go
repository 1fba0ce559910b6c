package outbox

import (
	"testing"
	"time"
)

func TestRetryBacksOffThenGivesUp(t *testing.T) {
	r := Retry{Base: 30 * time.Second, Max: time.Hour, MaxAttempts: 10}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		next, ok := r.Next(i+1, now)
		if !ok || next.Sub(now) != w {
			t.Errorf("after attempt %d: %s %v, want %s", i+1, next.Sub(now), ok, w)
		}
	}
	if _, ok := r.Next(10, now); ok {
		t.Error("attempt 10 of 10 is retried")
	}
}
