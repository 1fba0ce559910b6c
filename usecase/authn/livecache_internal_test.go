package authn

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// TestLivenessCacheKeepsOnlyTheLastTTL: entries older than the TTL go at
// the next sweep, so the cache holds the sessions of the last second, not
// every session seen since start (at a million accounts that was up to
// 100,000 entries, tens of MiB, whatever the traffic of the last second).
func TestLivenessCacheKeepsOnlyTheLastTTL(t *testing.T) {
	c := NewLivenessCache(time.Second)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	put := func(n int, at time.Time, prefix string) {
		for i := range n {
			c.put(session.Liveness{ID: fmt.Sprintf("%s-%d", prefix, i)}, user.User{}, at)
		}
	}
	put(5000, t0, "old")
	if n := len(c.m); n != 5000 {
		t.Fatalf("%d entries within one TTL, want all 5,000", n)
	}
	later := t0.Add(2 * time.Second)
	put(5000, later, "new")
	if n := len(c.m); n > 5000 {
		t.Errorf("%d entries after the old ones expired, want at most the 5,000 new ones", n)
	}
	if _, ok := c.get("new-4999", later); !ok {
		t.Error("a fresh entry was dropped")
	}
	if _, ok := c.get("old-1", later); ok {
		t.Error("an expired entry was served")
	}
}
