package httpadapter

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// newTestEcho is an Echo with the error handler and the outer middleware the
// service uses, and whatever routes the test adds.
func newTestEcho(logs io.Writer) *echo.Echo {
	e := echo.New()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	e.HTTPErrorHandler = ErrorHandler(log)
	e.Pre(requestIDMiddleware)
	e.Use(accessLog(log), recoverMiddleware(log), securityHeaders)
	return e
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorEnvelope {
	t.Helper()
	var env errorEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("not an envelope: %s", rec.Body)
	}
	if env.StatusCode != rec.Code || env.Success || env.RequestID == "" || env.RequestID != rec.Header().Get("X-Request-ID") {
		t.Errorf("envelope %+v for status %d", env, rec.Code)
	}
	return env
}

func TestPanicBecomesInternalEnvelope(t *testing.T) {
	var logs strings.Builder
	e := newTestEcho(&logs)
	e.GET("/boom", func(echo.Context) error { panic("secret internal detail") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	env := decodeError(t, rec)
	if env.Error.Code != CodeInternal || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("body %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), env.RequestID) {
		t.Errorf("the cause is not logged with the request ID: %s", logs.String())
	}
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	var logs strings.Builder
	e := newTestEcho(&logs)
	e.GET("/db", func(echo.Context) error {
		return errors.New(`pq: relation "users" does not exist: SELECT password_hash FROM users`)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/db", nil))
	env := decodeError(t, rec)
	if rec.Code != 500 || env.Error.Code != CodeInternal || strings.Contains(rec.Body.String(), "SELECT") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "SELECT password_hash") {
		t.Error("cause not logged")
	}
}

// unavailableErr stands for a persistence error meaning "database down".
type unavailableErr struct{}

func (unavailableErr) Error() string     { return "dial tcp: connection refused" }
func (unavailableErr) Unavailable() bool { return true }

func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	e := newTestEcho(io.Discard)
	e.GET("/down", func(echo.Context) error { return unavailableErr{} })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/down", nil))
	env := decodeError(t, rec)
	if rec.Code != 503 || env.Error.Code != CodeServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("%d %s retry-after %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}
