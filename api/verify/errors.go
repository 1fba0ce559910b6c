package verify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error is a refusal with Gatehouse's HTTP status, error code and message.
// Verify and the middleware return the sentinels below, wrapped with the
// cause; match them with errors.Is, or get the *Error with errors.As.
type Error struct {
	Status  int
	Code    string
	Message string
	// Challenge, when set, is the WWW-Authenticate header of the answer.
	Challenge string
	// Details name the failing fields of a VALIDATION_FAILED answer, as
	// Gatehouse's envelope does; a resource server's own validation errors
	// can be written with WriteError like the verifier's.
	Details []FieldError
}

// FieldError is one failing field of a validation error: its JSON name and
// what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The refusals, with the codes and messages Gatehouse uses.
var (
	ErrUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "UNAUTHENTICATED", Message: "Authentication required"}
	ErrTokenInvalid    = &Error{Status: http.StatusUnauthorized, Code: "TOKEN_INVALID", Message: "Access token invalid"}
	ErrTokenExpired    = &Error{Status: http.StatusUnauthorized, Code: "TOKEN_EXPIRED", Message: "Access token expired"}
	ErrSessionRevoked  = &Error{Status: http.StatusUnauthorized, Code: "SESSION_REVOKED", Message: "Session revoked"}
	// ErrFreshAuthRequired is the step-up refusal; RequireFresh and
	// RequireAAL answer it with their RFC 9470 challenge.
	ErrFreshAuthRequired = &Error{Status: http.StatusForbidden, Code: "FRESH_AUTH_REQUIRED", Message: "Recent authentication required"}
	// ErrForbidden refuses a verified caller that lacks a role.
	ErrForbidden = &Error{Status: http.StatusForbidden, Code: "FORBIDDEN", Message: "Forbidden"}
	// ErrUnavailable means the keys or the session check could not be had
	// from Gatehouse, so the token could not be judged (fail closed).
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "SERVICE_UNAVAILABLE", Message: "Service unavailable, try again"}
)

// causeError keeps a sentinel for errors.Is/As and the cause for logs.
type causeError struct {
	sentinel *Error
	cause    string
}

func (e *causeError) Error() string       { return e.sentinel.Error() + " (" + e.cause + ")" }
func (e *causeError) Unwrap() error       { return e.sentinel }
func refuse(s *Error, cause string) error { return &causeError{sentinel: s, cause: cause} }

// AsError returns the *Error an error carries; anything else (a bug in the
// caller, not a refusal) is reported as ErrUnavailable, never as a 200.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrUnavailable
}

// timestampLayout is Gatehouse's: RFC 3339, milliseconds, UTC.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

type envelope struct {
	Success    bool      `json:"success"`
	StatusCode int       `json:"statusCode"`
	Message    string    `json:"message"`
	Error      errorBody `json:"error"`
	Timestamp  string    `json:"timestamp"`
	Path       string    `json:"path"`
	RequestID  string    `json:"requestId"`
}

type errorBody struct {
	Code    string       `json:"code"`
	Details []FieldError `json:"details,omitempty"`
}

// DefaultRealm is the realm of the challenges, as Gatehouse sends them.
const DefaultRealm = "gatehouse"

// WriteError answers r with err as Gatehouse would: the JSON error envelope,
// the status of the code, X-Request-ID (the request's when well formed), and
// for a 401 the RFC 6750 challenge; for a 503 Retry-After.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, DefaultRealm)
}

func writeError(w http.ResponseWriter, r *http.Request, err error, realm string) {
	e := AsError(err)
	h := w.Header()
	rid := r.Header.Get("X-Request-ID")
	if !validRequestID(rid) {
		rid = newRequestID()
	}
	h.Set("X-Request-ID", rid)
	switch {
	case e.Challenge != "":
		h.Set("WWW-Authenticate", e.Challenge)
	case e.Status == http.StatusUnauthorized && e.Code == ErrUnauthenticated.Code:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	case e.Status == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token"`)
	case e.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(envelope{
		Success: false, StatusCode: e.Status, Message: e.Message, Error: errorBody{Code: e.Code, Details: e.Details},
		Timestamp: time.Now().UTC().Format(timestampLayout), Path: r.URL.Path, RequestID: rid,
	})
}

// validRequestID is Gatehouse's rule: 1 to 128 characters of [A-Za-z0-9._-].
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stepUpChallenge is Gatehouse's RFC 9470 challenge for a token that is not
// fresh enough.
func stepUpChallenge(maxAge time.Duration) string {
	return `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=` +
		strconv.FormatInt(int64(maxAge/time.Second), 10)
}

// aalChallenge is Gatehouse's RFC 9470 challenge for a token of too low an
// assurance level.
func aalChallenge(level string) string {
	return `Bearer error="insufficient_user_authentication", acr_values="` + level + `"`
}
