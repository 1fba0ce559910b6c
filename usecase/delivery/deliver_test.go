package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/delivery"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// outbox is an in-memory outbox: due events by id, in write order, one
// claim at a time.
type outbox struct {
	mu      sync.Mutex
	order   []string
	due     map[string]time.Time
	window  map[string]time.Time
	tries   map[string]int
	state   map[string]string
	lastErr map[string]string
}

func newOutbox(ids ...string) *outbox {
	o := &outbox{due: map[string]time.Time{}, window: map[string]time.Time{}, tries: map[string]int{},
		state: map[string]string{}, lastErr: map[string]string{}}
	for _, id := range ids {
		o.order = append(o.order, id)
		o.due[id], o.window[id], o.state[id] = t0, t0, webhook.StatusPending
	}
	return o
}

func (o *outbox) Claim(_ context.Context, now time.Time, _ time.Duration, limit int) ([]webhook.Claimed, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []webhook.Claimed
	for _, id := range o.order {
		if o.state[id] == webhook.StatusPending && !o.due[id].After(now) && len(out) < limit {
			o.tries[id]++
			o.due[id] = now.Add(time.Hour) // claimed: not due again until released
			out = append(out, webhook.Claimed{ID: id, Body: []byte(`{"id":"` + id + `"}`), Attempts: o.tries[id], WindowFrom: o.window[id]})
		}
	}
	return out, nil
}

func (o *outbox) Delivered(_ context.Context, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state[id] = webhook.StatusDelivered
	return nil
}

func (o *outbox) Retry(_ context.Context, id string, at time.Time, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.due[id], o.lastErr[id] = at, reason
	return nil
}

func (o *outbox) GiveUp(_ context.Context, id, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state[id], o.lastErr[id] = webhook.StatusFailed, reason
	return nil
}

func (o *outbox) Pending(context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.state {
		if s == webhook.StatusPending {
			n++
		}
	}
	return n, nil
}

type sender struct {
	fail map[string]bool
	sent []string
}

func (s *sender) Send(_ context.Context, id string, _ []byte) error {
	if s.fail[id] {
		return errors.New("receiver answered 503")
	}
	s.sent = append(s.sent, id)
	return nil
}

type observer struct {
	queued, delivered int
	fakes.Retries
}

func (o *observer) WebhookQueued(n int)      { o.queued = n }
func (o *observer) WebhookDelivered()        { o.delivered++ }
func (o *observer) WebhookFailed(final bool) { o.Failed(final) }

type logger struct{ lines []string }

func (l *logger) Warn(msg string, args ...any) {
	l.lines = append(l.lines, "WARN "+msg+fmt.Sprint(args...))
}
func (l *logger) Error(msg string, args ...any) {
	l.lines = append(l.lines, "ERROR "+msg+fmt.Sprint(args...))
}

func TestDelivererPostsInOrderAndRetries(t *testing.T) {
	o := newOutbox("a", "b", "c")
	s := &sender{fail: map[string]bool{"b": true}}
	obs, log, clk := &observer{}, &logger{}, &clock{now: t0}
	d := delivery.NewDeliverer(delivery.DelivererDeps{Outbox: o, Sender: s, Clock: clk, Log: log, Observer: obs,
		Retry: webhook.DefaultRetry, Lease: 30 * time.Second})
	n, err := d.DeliverDue(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("delivered %d, %v", n, err)
	}
	if fmt.Sprint(s.sent) != "[a c]" {
		t.Fatalf("sent %v", s.sent)
	}
	if o.due["b"] != t0.Add(5*time.Second) || o.lastErr["b"] != "receiver answered 503" {
		t.Fatalf("b retried at %s (%q), want +5s", o.due["b"], o.lastErr["b"])
	}
	if len(log.lines) != 1 || obs.Retried != 1 || obs.delivered != 2 || obs.queued != 1 {
		t.Fatalf("log %v, metrics %+v", log.lines, obs)
	}
	// The receiver stays down for a day: b is retried with back-off, one
	// log line per attempt, then kept as failed.
	attempts := 1
	for o.state["b"] == webhook.StatusPending {
		clk.now = o.due["b"]
		if _, err := d.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		attempts++
		if attempts > 100 {
			t.Fatal("never gave up")
		}
	}
	if o.state["b"] != webhook.StatusFailed || obs.GaveUp != 1 || obs.Retried != attempts-1 || len(log.lines) != attempts {
		t.Fatalf("after %d attempts: state %s, metrics %+v, %d log lines", attempts, o.state["b"], obs, len(log.lines))
	}
	if clk.now.Sub(t0) > 24*time.Hour {
		t.Fatalf("tried past the window: %s", clk.now.Sub(t0))
	}
	for _, l := range log.lines {
		if !containsAll(l, "eventId", "b", "503") {
			t.Errorf("log line %q", l)
		}
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
