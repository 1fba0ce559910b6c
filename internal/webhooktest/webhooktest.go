// Package webhooktest is an app's webhook endpoint for tests: a receiver
// that checks every post's Standard Webhooks signatures with its own HMAC
// code (the contract's words, not the library the service signs with),
// keeps each event once by webhook-id, counts repeated posts, and notes
// two posts of one event in flight at the same time.
//
// It is the one receiver of the service's tests (cmd/gatehouse), the HA
// fault test (internal/hatest) and the browser tests (e2e).
package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two Standard Webhooks secrets, as while rotating: Secret alone, or
// Secret then NextSecret.
const (
	Secret     = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
	NextSecret = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
)

// Keys are the decoded keys of whsec_ secrets, in the order the service
// lists its signatures.
type Keys [][]byte

// KeysOf decodes secrets; a malformed one fails the test.
func KeysOf(t testing.TB, secrets ...string) Keys {
	t.Helper()
	keys := make(Keys, len(secrets))
	for i, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			t.Fatalf("webhooktest: secret %d: %v", i+1, err)
		}
		keys[i] = k
	}
	return keys
}

// Verify reports whether h's webhook-signature is, in order, one v1
// signature of webhook-id, webhook-timestamp and body per key, and
// nothing else.
func (k Keys) Verify(h http.Header, body []byte) bool {
	signed := h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)
	sigs := strings.Split(h.Get("webhook-signature"), " ")
	if len(sigs) != len(k) {
		return false
	}
	ok := true
	for i, key := range k {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(signed))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		ok = hmac.Equal([]byte(sigs[i]), []byte(want)) && ok
	}
	return ok
}

// Event is one event as the receiver first took it.
type Event struct {
	ID        string         `json:"-"` // webhook-id
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
	Body      string         `json:"-"`
}

// User is the user an event is about: data.userId, or data.user.id.
func (e Event) User() string {
	if id, ok := e.Data["userId"].(string); ok {
		return id
	}
	if u, ok := e.Data["user"].(map[string]any); ok {
		id, _ := u["id"].(string)
		return id
	}
	return ""
}

// Stats are the receiver's counts so far.
type Stats struct {
	// Events is how many events were taken (each once, by webhook-id);
	// Posts how many posts were answered 2xx; Repeated how many events
	// were taken more than once.
	Events, Posts, Repeated int
	// BadSignatures counts posts refused with 401 for their signatures;
	// Refused, posts answered 503 while down.
	BadSignatures, Refused int
	// Concurrent counts posts of an event that arrived while another post
	// of that event was in flight.
	Concurrent int
}

// Receiver is the endpoint; URL is where to post. Its methods are safe to
// call while posts arrive.
type Receiver struct {
	URL string

	keys Keys
	t    testing.TB

	mu       sync.Mutex
	events   []Event
	posts    map[string]int // webhook-id -> posts answered 2xx
	inFlight map[string]int
	stats    Stats
	down     bool
	delay    time.Duration
}

// New starts a receiver that takes only posts signed with every one of
// secrets (in that order); it stops when the test ends.
func New(t testing.TB, secrets ...string) *Receiver {
	t.Helper()
	r := &Receiver{keys: KeysOf(t, secrets...), t: t, posts: map[string]int{}, inFlight: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	ok := r.keys.Verify(req.Header, body)
	r.mu.Lock()
	switch {
	case !ok:
		r.stats.BadSignatures++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	case r.down:
		r.stats.Refused++
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.inFlight[id]++
	if r.inFlight[id] > 1 {
		r.stats.Concurrent++
	}
	delay := r.delay
	r.mu.Unlock()
	time.Sleep(delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight[id]--
	r.posts[id]++
	r.stats.Posts++
	switch r.posts[id] {
	case 1:
		e := Event{ID: id, Body: string(body)}
		if err := json.Unmarshal(body, &e); err != nil {
			r.t.Errorf("webhooktest: event body %s: %v", body, err)
		}
		r.events = append(r.events, e)
	case 2:
		r.stats.Repeated++
	}
	w.WriteHeader(http.StatusNoContent)
}

// SetDown makes the receiver answer 503 to every post (true) or take them
// again (false).
func (r *Receiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// SetDelay makes each post take d before it is answered, so that two posts
// of one event, if the sender allowed them, would overlap.
func (r *Receiver) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// Events returns the events taken so far, in the order of their first
// post.
func (r *Receiver) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Posts is how many posts of the event id were answered 2xx.
func (r *Receiver) Posts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts[id]
}

// Stats returns the counts so far.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Events = len(r.events)
	return s
}

// WaitFor waits (up to a minute) until every type in want, with its
// multiplicity, has arrived for userID, and returns that user's events in
// the order they arrived.
func (r *Receiver) WaitFor(t testing.TB, userID string, want ...string) []Event {
	t.Helper()
	need := map[string]int{}
	for _, typ := range want {
		need[typ]++
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var mine []Event
		have := map[string]int{}
		for _, e := range r.Events() {
			if e.User() == userID {
				mine = append(mine, e)
				have[e.Type]++
			}
		}
		done := true
		for typ, n := range need {
			done = done && have[typ] >= n
		}
		if done {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("events for %s: have %v, want %v", userID, have, need)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// OutOfOrder returns the events, in arrival order, that arrived after a
// newer event (by timestamp) of the same user.
func OutOfOrder(events []Event) []Event {
	newest := map[string]time.Time{}
	var late []Event
	for _, e := range events {
		u := e.User()
		if u == "" {
			continue
		}
		if e.Timestamp.Before(newest[u]) {
			late = append(late, e)
			continue
		}
		newest[u] = e.Timestamp
	}
	return late
}
