// Command resource-server is an example API that trusts Gatehouse access
// tokens through package api/verify: offline verification with Gatehouse's
// keys, online session checks (a logout is honoured within 5 seconds), and a
// step-up guard on the destructive route.
//
//	make run                                  # Gatehouse on :3000
//	go run ./examples/resource-server         # this API on :8081
//	curl -H "Authorization: Bearer $TOKEN" localhost:8081/notes
//
// Settings (environment): GATEHOUSE_URL (http://localhost:3000, Gatehouse's
// PUBLIC_URL), JWT_ISSUER (GATEHOUSE_URL, as Gatehouse's default), JWT_AUDIENCE
// (gatehouse), ADDR (:8081), SESSION_CHECK (on; "off" for offline only).
//
// Every refusal is one log line with its reason (never the token), and
// every error this API answers, its own included (no such route, a bad
// body), is Gatehouse's envelope, so a client handles both alike.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/api/verify"
)

func main() {
	base := strings.TrimRight(env("GATEHOUSE_URL", "http://localhost:3000"), "/")
	cfg := verify.Config{
		JWKSURL: base + "/.well-known/jwks.json",
		// Gatehouse's issuer is its PUBLIC_URL unless JWT_ISSUER was set.
		Issuer:   env("JWT_ISSUER", base),
		Audience: env("JWT_AUDIENCE", "gatehouse"),
		Leeway:   2 * time.Second,
		// Why a request was turned away ("wrong aud", "unknown kid", ...).
		Logger: slog.Default(),
	}
	if env("SESSION_CHECK", "on") != "off" {
		cfg.SessionURL = base + "/auth/session"
		cfg.SessionCacheTTL = 5 * time.Second
	}
	ctx := context.Background()
	v, err := verify.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Prefetch(ctx); err != nil {
		log.Printf("warning: %v (requests get 503 until Gatehouse answers)", err)
	}
	addr := env("ADDR", ":8081")
	log.Printf("resource server on %s, trusting %s", addr, base)
	srv := &http.Server{Addr: addr, Handler: newHandler(v), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func env(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

// notes is the example's data: one list of notes per user, in memory.
type notes struct {
	mu     sync.Mutex
	byUser map[string][]string
}

// newHandler is the API: every route needs a Gatehouse access token; deleting
// all notes needs a password proof of the last 10 minutes; the stats need
// the admin role.
func newHandler(v *verify.Verifier) http.Handler {
	n := &notes{byUser: map[string][]string{}}
	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.Middleware(http.HandlerFunc(n.list)))
	mux.Handle("POST /notes", v.Middleware(http.HandlerFunc(n.add)))
	mux.Handle("DELETE /notes", v.Middleware(v.RequireFresh(10*time.Minute)(http.HandlerFunc(n.clear))))
	mux.Handle("GET /stats", v.Middleware(v.RequireRole("admin")(http.HandlerFunc(n.stats))))
	return envelopeErrors(mux)
}

// The example's own refusals, with Gatehouse's codes.
var (
	errNotFound         = &verify.Error{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "Not found"}
	errMethodNotAllowed = &verify.Error{Status: http.StatusMethodNotAllowed, Code: "METHOD_NOT_ALLOWED", Message: "Method not allowed"}
	errMalformedJSON    = &verify.Error{Status: http.StatusBadRequest, Code: "MALFORMED_JSON", Message: "Malformed JSON"}
	errTooLarge         = &verify.Error{Status: http.StatusRequestEntityTooLarge, Code: "PAYLOAD_TOO_LARGE", Message: "Payload too large"}
	errMediaType        = &verify.Error{Status: http.StatusUnsupportedMediaType, Code: "UNSUPPORTED_MEDIA_TYPE", Message: "Content-Type must be application/json"}
)

func invalid(field, message string) *verify.Error {
	return &verify.Error{Status: http.StatusBadRequest, Code: "VALIDATION_FAILED", Message: "Validation failed",
		Details: []verify.FieldError{{Field: field, Message: message}}}
}

// envelopeErrors answers what the mux itself refuses (no such route, or a
// method the route does not take) in the envelope, where http.ServeMux
// would answer plain text.
func envelopeErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Ask the mux which refusal it would give, keeping its Allow.
		probe := &statusOnly{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		err := errNotFound
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			err = errMethodNotAllowed
		}
		verify.WriteError(w, r, err)
	})
}

// statusOnly records a status and headers and drops the body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(status int)      { s.status = status }

func (n *notes) list(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	n.mu.Lock()
	out := append([]string{}, n.byUser[c.Subject]...)
	n.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"user": c.Subject, "notes": out})
}

func (n *notes) add(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	var in struct {
		Text string `json:"text"`
	}
	if err := decode(w, r, &in); err != nil {
		verify.WriteError(w, r, err)
		return
	}
	if in.Text == "" {
		verify.WriteError(w, r, invalid("text", "is required"))
		return
	}
	n.mu.Lock()
	n.byUser[c.Subject] = append(n.byUser[c.Subject], in.Text)
	n.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"text": in.Text})
}

func (n *notes) clear(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	n.mu.Lock()
	delete(n.byUser, c.Subject)
	n.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (n *notes) stats(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	users := len(n.byUser)
	n.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"users": users})
}

// decode reads a JSON body as Gatehouse does: application/json only, at
// most 4 KiB, one object with no unknown field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return errMediaType
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil && dec.More():
		return errMalformedJSON
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return errTooLarge
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not allowed")
	}
	return errMalformedJSON
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
