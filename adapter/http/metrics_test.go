package httpadapter

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// observed is one ObserveRequest call.
type observed struct {
	route, method string
	status        int
}

// recordingObserver keeps what it was told.
type recordingObserver struct {
	mu   sync.Mutex
	reqs []observed
}

func (r *recordingObserver) ObserveRequest(route, method string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		route = "negative duration"
	}
	r.reqs = append(r.reqs, observed{route, method, status})
}

func (r *recordingObserver) IPThrottled() {}

func (r *recordingObserver) all() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.reqs...)
}

// metricsEcho registers the real routes with no use cases behind them: the
// requests below never reach a handler that needs one.
func metricsEcho(obs RequestObserver) *echo.Echo {
	e := echo.New()
	Register(e, Deps{
		Log:     slog.New(slog.DiscardHandler),
		Now:     time.Now,
		Ready:   func(context.Context) error { return nil },
		Metrics: obs,
	}, Options{BodyLimit: 1 << 16})
	return e
}

func TestRequestMetricsLabels(t *testing.T) {
	obs := &recordingObserver{}
	e := metricsEcho(obs)
	// Added after Register, before the first request: a handler that
	// panics still yields one observed 500 (recover sits inside).
	e.GET("/test-panic", func(echo.Context) error { panic("boom") })

	cases := []struct {
		method, path string
		want         observed
	}{
		{http.MethodGet, "/healthz", observed{"/healthz", http.MethodGet, 200}},
		{http.MethodGet, "/readyz", observed{"/readyz", http.MethodGet, 200}},
		// Unknown paths never become labels, wherever the router stopped.
		{http.MethodGet, "/no/such/thing", observed{"unmatched", http.MethodGet, 404}},
		{http.MethodGet, "/auth/nope", observed{"unmatched", http.MethodGet, 404}},
		{http.MethodGet, "/auth/", observed{"unmatched", http.MethodGet, 404}},
		{http.MethodGet, "/metrics", observed{"unmatched", http.MethodGet, 404}},
		// A known route with the wrong method keeps its template.
		{http.MethodPost, "/healthz", observed{"/healthz", http.MethodPost, 405}},
		{"BREW", "/healthz", observed{"/healthz", "BREW", 405}},
		// Errors returned by middleware are recorded with the status sent.
		{http.MethodDelete, "/auth/sessions/0b6f6c1e", observed{"/auth/sessions/:id", http.MethodDelete, 401}},
		{http.MethodGet, "/users/me", observed{"/users/me", http.MethodGet, 401}},
		{http.MethodGet, "/users/me/anything", observed{"unmatched", http.MethodGet, 404}},
		{http.MethodGet, "/test-panic", observed{"/test-panic", http.MethodGet, 500}},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		got := obs.all()
		if len(got) == 0 {
			t.Fatalf("%s %s: not observed", tc.method, tc.path)
		}
		if last := got[len(got)-1]; last != tc.want {
			t.Errorf("%s %s: observed %+v, want %+v", tc.method, tc.path, last, tc.want)
		}
		if rec.Code != tc.want.status {
			t.Errorf("%s %s: sent %d, observed %d", tc.method, tc.path, rec.Code, tc.want.status)
		}
		// The error was turned into exactly one envelope.
		dec := json.NewDecoder(rec.Body)
		var env map[string]any
		if err := dec.Decode(&env); err != nil {
			t.Errorf("%s %s: body is not JSON: %v", tc.method, tc.path, err)
		} else if dec.More() {
			t.Errorf("%s %s: more than one JSON value in the body", tc.method, tc.path)
		}
	}
	if n := len(obs.all()); n != len(cases) {
		t.Errorf("%d observations for %d requests", n, len(cases))
	}
}

func TestRequestMetricsOff(t *testing.T) {
	e := metricsEcho(nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}
