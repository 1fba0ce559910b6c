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
package main

import (
	"context"
	"encoding/json"
	"log"
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
	return mux
}

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
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil || in.Text == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"text\": \"...\"}"})
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
