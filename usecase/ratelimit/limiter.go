// Package ratelimit holds the per-client-IP request budget across the auth
// endpoints, counted in fixed windows and shared by every instance through
// the store.
//
// Why not one database write per request: the budget guards the hot refresh
// path too, and a write per request would cost as much as the refresh
// itself. Each instance counts locally and, every sync interval, adds its
// counts to the shared ones and reads the totals back; a client is refused
// once the last known total plus this instance's unsynced count reaches the
// limit. So the fleet enforces one budget, late by at most one sync interval.
package ratelimit

import (
	"context"
	"hash/fnv"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/domain/throttle"
)

// Store keeps the shared per-IP counts.
type Store interface {
	// Add adds deltas to the counts of the window starting at window and
	// returns the totals of those IPs after the addition.
	Add(ctx context.Context, window time.Time, deltas map[string]int64) (map[string]int64, error)
	// Prune deletes the counts of windows that started before before.
	Prune(ctx context.Context, before time.Time) error
}

// maxTracked bounds the clients tracked per window on one instance, so a
// flood from many addresses cannot grow memory without bound. Past it, a new
// client is counted in one of overflowBuckets shared buckets (chosen by a
// hash of its key): clients sharing a bucket share its budget, so the cap
// can only make the limit stricter, never leave a client uncounted.
const maxTracked = 200_000

// overflowBuckets is how many shared buckets take the clients past maxTracked.
const overflowBuckets = 4096

// Limiter enforces Limit requests per Window per IP.
type Limiter struct {
	limit  int64
	window time.Duration
	store  Store
	now    func() time.Time

	mu    sync.Mutex
	start time.Time // the current window's start
	// pending are counted here and not yet in totals; a Sync takes them
	// out only once the store's totals (which include them) are back, so
	// a client cannot spend them again while the store is slow to answer.
	pending map[string]int64
	totals  map[string]int64 // last totals read from the store
}

// New returns a Limiter; limit <= 0 means no limit.
func New(limit int, window time.Duration, store Store, now func() time.Time) *Limiter {
	return &Limiter{
		limit: int64(limit), window: window, store: store, now: now,
		pending: map[string]int64{}, totals: map[string]int64{},
	}
}

// Enabled reports whether the limiter limits anything.
func (l *Limiter) Enabled() bool { return l.limit > 0 && l.window > 0 }

// Limit is the budget of one client per window (0 when off).
func (l *Limiter) Limit() int64 { return l.limit }

// Window is the length of a budget window.
func (l *Limiter) Window() time.Duration { return l.window }

// Decision is the outcome of counting one request, with what it leaves of
// the client's budget, as far as this instance knows (the fleet's counts of
// the last sync plus its own since).
type Decision struct {
	// Allowed is whether the request fits in the budget.
	Allowed bool
	// Remaining is what is left of the budget in this window: after the
	// request when allowed, as it was when refused (a cheaper request may
	// still fit).
	Remaining int64
	// Reset is how long until the window ends and the budget is whole again.
	Reset time.Duration
}

// Allow counts one request from ip and reports whether it is within the
// budget; if not, how long until the window ends.
func (l *Limiter) Allow(ip string) (bool, time.Duration) { return l.AllowN(ip, 1) }

// AllowN counts a request of weight n from ip and reports whether it fits
// in the budget; if not, how long until the window ends.
func (l *Limiter) AllowN(ip string, n int64) (bool, time.Duration) {
	d := l.Take(ip, n)
	if d.Allowed {
		return true, 0
	}
	return false, d.Reset
}

// Take counts a request of weight n (a costly one counts as several) from
// ip and decides it. Clients are counted by throttle.ClientKey: IPv6 by /64.
func (l *Limiter) Take(ip string, n int64) Decision {
	if !l.Enabled() {
		return Decision{Allowed: true}
	}
	// A weight above the whole budget costs the whole budget, so a small
	// budget still admits one costly request per window.
	n = max(1, min(n, l.limit))
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	key := l.key(throttle.ClientKey(ip))
	used := l.totals[key] + l.pending[key]
	reset := l.start.Add(l.window).Sub(now)
	if used+n > l.limit {
		return Decision{Remaining: max(0, l.limit-used), Reset: reset}
	}
	l.pending[key] += n
	return Decision{Allowed: true, Remaining: l.limit - used - n, Reset: reset}
}

// key is the counter a client is counted in: its own while there is room,
// else a shared overflow bucket. Called with mu held.
func (l *Limiter) key(client string) string {
	if _, ok := l.pending[client]; ok {
		return client
	}
	if _, ok := l.totals[client]; ok {
		return client
	}
	if len(l.pending)+len(l.totals) < maxTracked {
		return client
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(client))
	return "overflow/" + strconv.Itoa(int(h.Sum32()%overflowBuckets))
}

func (l *Limiter) roll(now time.Time) {
	start := now.Truncate(l.window)
	if start.Equal(l.start) {
		return
	}
	l.start = start
	l.pending = map[string]int64{}
	l.totals = map[string]int64{}
}

// Sync adds this instance's counts to the shared ones and reads back the
// totals, then prunes windows that have ended. Run it every second or so.
func (l *Limiter) Sync(ctx context.Context) error {
	if !l.Enabled() {
		return nil
	}
	l.mu.Lock()
	l.roll(l.now())
	start, deltas := l.start, maps.Clone(l.pending)
	l.mu.Unlock()
	if len(deltas) == 0 {
		return nil
	}
	totals, err := l.store.Add(ctx, start, deltas)
	l.mu.Lock()
	if !start.Equal(l.start) {
		// The window ended while we synced; its counts no longer matter.
		l.mu.Unlock()
		return err
	}
	if err != nil {
		l.mu.Unlock()
		return err // the counts stay pending for the next attempt
	}
	for ip, n := range deltas {
		if l.pending[ip] -= n; l.pending[ip] <= 0 {
			delete(l.pending, ip)
		}
	}
	for ip, n := range totals {
		l.totals[ip] = n
	}
	l.mu.Unlock()
	return l.store.Prune(ctx, start.Add(-l.window))
}
