package webhooktest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/webhooksender"
)

// post sends body as the event msgID, signed by the service's own signer
// with secrets, and returns the receiver's status.
func post(t *testing.T, r *Receiver, msgID, body string, secrets ...string) int {
	t.Helper()
	signer, err := webhooksender.NewSigner(secrets)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sig, err := signer.Sign(msgID, now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// The receiver agrees with the service's signer: what it signs with both
// secrets is taken once per webhook-id; one secret short, or another
// secret, is refused 401; while down, 503; and the counts say so.
func TestReceiverChecksAndCounts(t *testing.T) {
	r := New(t, Secret, NextSecret)
	created := `{"type":"user.created","timestamp":"2026-01-02T03:04:05Z","data":{"user":{"id":"u1"}}}`
	if got := post(t, r, "msg_1", created, Secret, NextSecret); got != http.StatusNoContent {
		t.Fatalf("a well-signed post: %d", got)
	}
	if got := post(t, r, "msg_1", created, Secret, NextSecret); got != http.StatusNoContent {
		t.Fatalf("the same event again: %d", got)
	}
	if got := post(t, r, "msg_2", created, Secret); got != http.StatusUnauthorized {
		t.Errorf("signed with one of two secrets: %d", got)
	}
	if got := post(t, r, "msg_3", created, NextSecret, Secret); got != http.StatusUnauthorized {
		t.Errorf("signatures in the wrong order: %d", got)
	}
	r.SetDown(true)
	if got := post(t, r, "msg_4", created, Secret, NextSecret); got != http.StatusServiceUnavailable {
		t.Errorf("while down: %d", got)
	}
	r.SetDown(false)

	events := r.Events()
	if len(events) != 1 || events[0].ID != "msg_1" || events[0].Type != "user.created" || events[0].User() != "u1" || events[0].Body != created {
		t.Fatalf("events %+v", events)
	}
	if n := r.Posts("msg_1"); n != 2 {
		t.Errorf("posts of msg_1: %d", n)
	}
	want := Stats{Events: 1, Posts: 2, Repeated: 1, BadSignatures: 2, Refused: 1}
	if got := r.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if got := r.WaitFor(t, "u1", "user.created"); len(got) != 1 {
		t.Errorf("WaitFor: %+v", got)
	}
}

// A body changed after signing fails Verify.
func TestVerifyRefusesAChangedBody(t *testing.T) {
	keys := KeysOf(t, Secret)
	signer, err := webhooksender.NewSigner([]string{Secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sig, err := signer.Sign("msg_1", now, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	if !keys.Verify(h, []byte(`{"a":1}`)) {
		t.Fatal("the signed body fails")
	}
	if keys.Verify(h, []byte(`{"a":2}`)) {
		t.Error("a changed body passes")
	}
}

// OutOfOrder names the events older than one of the same user before them.
func TestOutOfOrder(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	events := []Event{
		{ID: "a", Timestamp: at(1), Data: map[string]any{"userId": "u1"}},
		{ID: "b", Timestamp: at(3), Data: map[string]any{"userId": "u1"}},
		{ID: "c", Timestamp: at(2), Data: map[string]any{"userId": "u2"}},
		{ID: "d", Timestamp: at(2), Data: map[string]any{"user": map[string]any{"id": "u1"}}},
		{ID: "e", Timestamp: at(4), Data: map[string]any{"userId": "u1"}},
	}
	late := OutOfOrder(events)
	if len(late) != 1 || late[0].ID != "d" {
		t.Fatalf("out of order: %+v", late)
	}
}
