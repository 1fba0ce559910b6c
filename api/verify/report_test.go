package verify_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/verify"
)

// Every refusal reaches OnRefuse and the Logger exactly once, with the code
// the client got and the reason behind it, and never the token: through the
// middleware, the guards and Verify called directly.
func TestRefusalsAreReportedWithTheirReason(t *testing.T) {
	is := newIssuer(t)
	clk := &clock{now: t0.Add(time.Minute)}
	var (
		mu   sync.Mutex
		got  []verify.Refusal
		logs bytes.Buffer
	)
	v := is.verifier(t, clk, func(c *verify.Config) {
		c.OnRefuse = func(_ context.Context, r verify.Refusal) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		}
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("/notes", v.Middleware(ok))
	mux.Handle("/admin", v.Middleware(v.RequireRole("admin")(ok)))
	mux.Handle("/danger", v.Middleware(v.RequireFresh(time.Second)(ok)))

	good := is.sign("k1", claims(), nil)
	wrongAud := claims()
	wrongAud["aud"] = "someone-else"
	expired := claims()
	expired["exp"] = t0.Add(-time.Minute).Unix()
	tokens := map[string]string{
		"wrong aud": is.sign("k1", wrongAud, nil), "expired": is.sign("k1", expired, nil),
		"unknown kid": func() string { is.addKey("k9", false); return is.sign("k9", claims(), nil) }(),
		"good":        good,
	}
	cases := []struct {
		path, token string
		auth        string // a literal Authorization header, when token is ""
		want        verify.Refusal
	}{
		{"/notes", "", "", verify.Refusal{Code: "UNAUTHENTICATED", Status: 401, Reason: "Authentication required"}},
		{"/notes", "", "Basic abc", verify.Refusal{Code: "TOKEN_INVALID", Status: 401, Reason: "malformed Authorization header"}},
		{"/notes", tokens["wrong aud"], "", verify.Refusal{Code: "TOKEN_INVALID", Status: 401, Reason: "wrong aud"}},
		{"/notes", tokens["expired"], "", verify.Refusal{Code: "TOKEN_EXPIRED", Status: 401, Reason: "exp passed"}},
		{"/notes", tokens["unknown kid"], "", verify.Refusal{Code: "TOKEN_INVALID", Status: 401, Reason: "unknown kid"}},
		{"/admin", good, "", verify.Refusal{Code: "FORBIDDEN", Status: 403, Reason: "Forbidden"}},
		{"/danger", good, "", verify.Refusal{Code: "FRESH_AUTH_REQUIRED", Status: 403, Reason: "Recent authentication required"}},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		} else if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != c.want.Status {
			t.Fatalf("%s %s: status %d", c.path, c.want.Reason, w.Code)
		}
		c.want.Method, c.want.Path = "GET", c.path
		mu.Lock()
		if len(got) != 1 || got[0] != c.want {
			t.Fatalf("%s: reported %+v, want once %+v", c.want.Reason, got, c.want)
		}
		got = nil
		mu.Unlock()
	}
	// An accepted request reports nothing; Verify alone reports without a request.
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/notes", nil)
	req.Header.Set("Authorization", "Bearer "+good)
	mux.ServeHTTP(w, req)
	if _, err := v.Verify(t.Context(), tokens["expired"]); err == nil {
		t.Fatal("expired token verified")
	}
	if len(got) != 1 || got[0] != (verify.Refusal{Code: "TOKEN_EXPIRED", Status: 401, Reason: "exp passed"}) || w.Code != http.StatusNoContent {
		t.Fatalf("after a good request and a direct Verify: %+v", got)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(cases)+1 {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(cases)+1, logs.String())
	}
	if !strings.Contains(lines[2], `"level":"INFO","msg":"gatehouse token refused","code":"TOKEN_INVALID","reason":"wrong aud","method":"GET","path":"/notes"`) {
		t.Fatalf("log line %s", lines[2])
	}
	for name, tok := range tokens {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(logs.String(), part) {
				t.Fatalf("the log holds part of the %s token", name)
			}
		}
	}
}

// A verifier that cannot reach the key set says so at Warn.
func TestUnavailableRefusalIsAWarning(t *testing.T) {
	var logs bytes.Buffer
	v, err := verify.New(t.Context(), verify.Config{JWKSURL: "http://127.0.0.1:1/jwks.json", Issuer: "i", Audience: "a",
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	is := newIssuer(t)
	_, err = v.Verify(t.Context(), is.sign("k1", claims(), nil))
	if verify.AsError(err) != verify.ErrUnavailable || !strings.Contains(logs.String(), `"level":"WARN"`) ||
		!strings.Contains(logs.String(), `"code":"SERVICE_UNAVAILABLE","reason":"key set: `) {
		t.Fatalf("%v\n%s", err, logs.String())
	}
}
