package webhooksender_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/webhooksender"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

const (
	secretA = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
	secretB = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
)

// expected computes a v1 signature by hand from the contract's words:
// base64 HMAC-SHA256, keyed with the base64-decoded part after whsec_, of
// "{id}.{timestamp}.{body}". Independent of the library the sender uses.
func expected(t *testing.T, secret, msgID, ts string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type received struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T, status int, answer string, delay time.Duration) (*httptest.Server, chan received) {
	t.Helper()
	got := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestSenderSignsWithEverySecret(t *testing.T) {
	srv, got := receiver(t, http.StatusNoContent, "", 0)
	s, err := webhooksender.NewSender(srv.URL, []string{secretA, secretB})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"user.deleted","timestamp":"2026-12-07T12:00:00Z","data":{"userId":"u1"}}`)
	before := time.Now().Unix()
	if err := s.Send(t.Context(), "evt-1", body); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if string(r.body) != string(body) || r.header.Get("webhook-id") != "evt-1" ||
		r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %v %s", r.header, r.body)
	}
	ts := r.header.Get("webhook-timestamp")
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n < before || n > time.Now().Unix() {
		t.Fatalf("webhook-timestamp %q", ts)
	}
	sigs := strings.Split(r.header.Get("webhook-signature"), " ")
	want := []string{expected(t, secretA, "evt-1", ts, body), expected(t, secretB, "evt-1", ts, body)}
	if len(sigs) != 2 || sigs[0] != want[0] || sigs[1] != want[1] {
		t.Fatalf("signatures %q, want %q", sigs, want)
	}
}

func TestSenderFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		want   string
	}{
		"server error": {http.StatusInternalServerError, "answered 500"},
		"redirect":     {http.StatusFound, "answered 302"},
		"client error": {http.StatusGone, "answered 410"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := receiver(t, tc.status, "", 0)
			s, _ := webhooksender.NewSender(srv.URL+"/hooks?token=sekrit", []string{secretA})
			err := s.Send(t.Context(), "evt-1", []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// A dead receiver: the error names the cause, never the URL (it may
	// carry a token).
	srv, _ := receiver(t, 200, "", 0)
	url := srv.URL + "/hooks?token=sekrit"
	srv.Close()
	s, _ := webhooksender.NewSender(url, []string{secretA})
	err := s.Send(t.Context(), "evt-1", []byte(`{}`))
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("dead receiver: %v", err)
	}
}

func TestNewSenderRefusesBadSecrets(t *testing.T) {
	if _, err := webhooksender.NewSender("http://x", nil); err == nil {
		t.Error("no secret accepted")
	}
	_, err := webhooksender.NewSender("http://x", []string{"whsec_%%%notbase64"})
	if err == nil || strings.Contains(err.Error(), "notbase64") {
		t.Errorf("bad secret: %v (must not echo it)", err)
	}
}

func hook(t *testing.T, url string, timeout time.Duration) *webhooksender.SignupHook {
	t.Helper()
	h, err := webhooksender.NewSignupHook(url, []string{secretA}, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var signup = authn.SignupAttempt{Email: "ada@example.com", Name: "Ada", Method: "password", IP: "192.0.2.1"}

func TestSignupHookAllows(t *testing.T) {
	srv, got := receiver(t, http.StatusOK, `{"allow": true}`, 0)
	if err := hook(t, srv.URL, time.Second).BeforeSignup(t.Context(), signup); err != nil {
		t.Fatal(err)
	}
	r := <-got
	ts := r.header.Get("webhook-timestamp")
	if r.header.Get("webhook-signature") != expected(t, secretA, r.header.Get("webhook-id"), ts, r.body) {
		t.Fatalf("hook request not signed as a webhook: %v", r.header)
	}
	var body struct {
		Type string            `json:"type"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "before_signup" || body.Data["email"] != "ada@example.com" || body.Data["method"] != "password" ||
		body.Data["ip"] != "192.0.2.1" || body.Data["name"] != "Ada" {
		t.Fatalf("hook body %s", r.body)
	}
	if _, ok := body.Data["provider"]; !ok {
		t.Error("provider missing (empty for a password signup)")
	}
}

func TestSignupHookRefuses(t *testing.T) {
	srv, _ := receiver(t, http.StatusOK, `{"allow": false, "message": "Invite only\nfor now"}`, 0)
	err := hook(t, srv.URL, time.Second).BeforeSignup(t.Context(), signup)
	var re *webhook.RejectedError
	if !errors.As(err, &re) || re.Message != "Invite only for now" {
		t.Fatalf("refusal %v", err)
	}
	srv2, _ := receiver(t, http.StatusOK, `{"allow": false}`, 0)
	err = hook(t, srv2.URL, time.Second).BeforeSignup(t.Context(), signup)
	if !errors.As(err, &re) || re.Message == "" {
		t.Fatalf("refusal without message %v", err)
	}
}

// TestSignupHookFailsClosed: every answer the contract does not define,
// and no answer in time, is unavailable (the signup is refused with 503).
func TestSignupHookFailsClosed(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		answer string
		delay  time.Duration
	}{
		"server error":            {http.StatusInternalServerError, `{"allow": true}`, 0},
		"created":                 {http.StatusCreated, `{"allow": true}`, 0},
		"not json":                {http.StatusOK, `yes`, 0},
		"no allow":                {http.StatusOK, `{"message": "hi"}`, 0},
		"allow not boolean":       {http.StatusOK, `{"allow": "true"}`, 0},
		"slower than the timeout": {http.StatusOK, `{"allow": true}`, 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := receiver(t, tc.status, tc.answer, tc.delay)
			err := hook(t, srv.URL, 200*time.Millisecond).BeforeSignup(context.Background(), signup)
			if !errors.Is(err, webhook.ErrHookUnavailable) {
				t.Fatalf("err %v, want unavailable", err)
			}
		})
	}
	srv, _ := receiver(t, 200, "", 0)
	url := srv.URL
	srv.Close()
	if err := hook(t, url, time.Second).BeforeSignup(t.Context(), signup); !errors.Is(err, webhook.ErrHookUnavailable) {
		t.Fatalf("unreachable hook: %v", err)
	}
}
