package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// memStore is a shared in-memory Store, standing for the database.
type memStore struct {
	mu     sync.Mutex
	counts map[time.Time]map[string]int64
	fail   bool
}

func newMemStore() *memStore { return &memStore{counts: map[time.Time]map[string]int64{}} }

func (m *memStore) Add(_ context.Context, w time.Time, deltas map[string]int64) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return nil, errors.New("down")
	}
	if m.counts[w] == nil {
		m.counts[w] = map[string]int64{}
	}
	out := map[string]int64{}
	for ip, n := range deltas {
		m.counts[w][ip] += n
		out[ip] = m.counts[w][ip]
	}
	return out, nil
}

func (m *memStore) Prune(_ context.Context, before time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for w := range m.counts {
		if w.Before(before) {
			delete(m.counts, w)
		}
	}
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimitPerIP(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 10, 0, time.UTC)}
	l := New(3, time.Minute, newMemStore(), c.now)
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4"); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, wait := l.Allow("1.2.3.4")
	if ok || wait != 50*time.Second {
		t.Fatalf("fourth: ok %v wait %v", ok, wait)
	}
	if ok, _ := l.Allow("5.6.7.8"); !ok {
		t.Error("another IP was refused")
	}
	c.t = c.t.Add(time.Minute)
	if ok, _ := l.Allow("1.2.3.4"); !ok {
		t.Error("refused in the next window")
	}
}

// TestBudgetIsShared: two instances on one store enforce one budget once
// they have synced.
func TestBudgetIsShared(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	store := newMemStore()
	a, b := New(4, time.Minute, store, c.now), New(4, time.Minute, store, c.now)
	ctx := context.Background()
	for range 2 {
		a.Allow("ip")
		b.Allow("ip")
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil { // a learns of b's two
		t.Fatal(err)
	}
	// a has nothing pending, so it reads no totals; b saw all four.
	if ok, _ := b.Allow("ip"); ok {
		t.Error("b allowed a fifth request of a shared budget of four")
	}
}

func TestSyncFailureKeepsCounts(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	store := newMemStore()
	l := New(10, time.Minute, store, c.now)
	l.Allow("ip")
	store.fail = true
	if err := l.Sync(context.Background()); err == nil {
		t.Fatal("no error from a failing store")
	}
	store.fail = false
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.counts[c.t.Truncate(time.Minute)]["ip"]; got != 1 {
		t.Errorf("stored count %d, want 1", got)
	}
}

func TestDisabled(t *testing.T) {
	l := New(0, time.Minute, newMemStore(), time.Now)
	for range 1000 {
		if ok, _ := l.Allow("ip"); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}

// Issue 10 item 6: IPv6 clients are one client per /64.
func TestIPv6CountedPer64(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, newMemStore(), c.now)
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
		if ok, _ := l.Allow(ip); !ok {
			t.Fatalf("%s refused early", ip)
		}
	}
	if ok, _ := l.Allow("2001:db8:1:2:abcd::77"); ok {
		t.Error("a fourth address of the same /64 got past a budget of three")
	}
	if ok, _ := l.Allow("2001:db8:1:3::1"); !ok {
		t.Error("another /64 was refused")
	}
}

// Issue 10 item 6: past the tracking cap, new clients are still counted.
func TestClientsPastTheCapAreCounted(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	l := New(2, time.Minute, newMemStore(), c.now)
	for i := range maxTracked {
		l.pending[strconv.Itoa(i)] = 1
	}
	late := "198.51.100.1"
	for range 2 {
		if ok, _ := l.Allow(late); !ok {
			t.Fatal("refused within the budget")
		}
	}
	if ok, _ := l.Allow(late); ok {
		t.Error("a client past the cap was not counted")
	}
	if len(l.pending) > maxTracked+1 {
		t.Errorf("tracked %d clients, cap %d", len(l.pending), maxTracked)
	}
}

// Costly requests weigh more.
func TestAllowNWeighs(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	l := New(25, time.Minute, newMemStore(), c.now)
	for i := range 2 {
		if ok, _ := l.AllowN("ip", 10); !ok {
			t.Fatalf("weighted request %d refused", i+1)
		}
	}
	if ok, _ := l.AllowN("ip", 10); ok {
		t.Error("a third request of weight 10 fit in a budget of 25")
	}
	if ok, _ := l.Allow("ip"); !ok {
		t.Error("a light request was refused with budget left")
	}
}

// Take reports what is left of the budget and when the window ends, which
// the RateLimit header passes on; the fleet's synced counts are included.
func TestTakeReportsRemainingAndReset(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 15, 0, time.UTC)}
	store := newMemStore()
	l := New(25, time.Minute, store, c.now)
	d := l.Take("203.0.113.7", 10)
	if !d.Allowed || d.Remaining != 15 || d.Reset != 45*time.Second {
		t.Fatalf("first: %+v", d)
	}
	// Another instance spent 5 of the same client's budget.
	other := New(25, time.Minute, store, c.now)
	other.Take("203.0.113.7", 5)
	if err := other.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(5 * time.Second)
	if d = l.Take("203.0.113.7", 1); !d.Allowed || d.Remaining != 9 || d.Reset != 40*time.Second {
		t.Fatalf("after the other instance's 5: %+v", d)
	}
	// Refused: the budget is what it was, and a cheaper request still fits.
	if d = l.Take("203.0.113.7", 10); d.Allowed || d.Remaining != 9 || d.Reset != 40*time.Second {
		t.Fatalf("refused: %+v", d)
	}
	if d = l.Take("203.0.113.7", 9); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("the last 9: %+v", d)
	}
	if l.Limit() != 25 || l.Window() != time.Minute {
		t.Fatalf("policy %d/%s", l.Limit(), l.Window())
	}
	if d := New(0, time.Minute, store, c.now).Take("x", 1); !d.Allowed {
		t.Fatal("an off limiter refused")
	}
}

// slowStore holds every Add until released, as a busy database would.
type slowStore struct {
	*memStore
	entered, release chan struct{}
}

func (s slowStore) Add(ctx context.Context, w time.Time, deltas map[string]int64) (map[string]int64, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.memStore.Add(ctx, w, deltas)
}

// TestBudgetHoldsWhileSyncing: the counts a sync has taken to the store
// still count until the store's totals come back, so a client cannot
// spend its budget again while a slow sync is in flight.
func TestBudgetHoldsWhileSyncing(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	store := slowStore{newMemStore(), make(chan struct{}), make(chan struct{})}
	l := New(3, time.Minute, store, c.now)
	for range 3 {
		l.Allow("ip")
	}
	done := make(chan error)
	go func() { done <- l.Sync(context.Background()) }()
	<-store.entered // the three are on their way to the store
	if ok, _ := l.Allow("ip"); ok {
		t.Error("a fourth request of a budget of three was allowed while the sync was in flight")
	}
	close(store.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Allow("ip"); ok {
		t.Error("a fourth request was allowed after the sync")
	}
	if got := store.counts[c.t]["ip"]; got != 3 {
		t.Errorf("stored count %d, want 3", got)
	}
}
