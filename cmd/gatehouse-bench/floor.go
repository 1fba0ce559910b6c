package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse/domain/id"
)

// userRow reads one user by primary key; floorMeHandler needs nothing more.
type userRow interface {
	UserByID(ctx context.Context, id string) (floorUser, error)
}

// floorUser is the JSON of a user exactly as the service writes it.
type floorUser struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Name      string   `json:"name"`
	Roles     []string `json:"roles"`
	CreatedAt string   `json:"createdAt"`
	UpdatedAt string   `json:"updatedAt"`
}

// floorEnvelope is the service's success envelope.
type floorEnvelope struct {
	Success    bool   `json:"success"`
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Data       any    `json:"data"`
	Timestamp  string `json:"timestamp"`
	Path       string `json:"path"`
	RequestID  string `json:"requestId"`
}

// floorErrorEnvelope is the service's error envelope.
type floorErrorEnvelope struct {
	Success    bool   `json:"success"`
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      struct {
		Code string `json:"code"`
	} `json:"error"`
	Timestamp string `json:"timestamp"`
	Path      string `json:"path"`
	RequestID string `json:"requestId"`
}

// envelopeTimeLayout is the service's envelope timestamp: RFC 3339, ms, UTC.
const envelopeTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// floorMeHandler is the floor of GET /users/me: a bare net/http handler
// doing what the endpoint must do and nothing else: verify the bearer JWT,
// read the user row by primary key, write the same envelope JSON with the
// same headers (request ID and security headers, as the service does). It
// does not check session liveness (the service's second query).
type floorMeHandler struct {
	verifier *jwtVerifier
	users    userRow
}

// ServeHTTP implements http.Handler.
func (h *floorMeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := id.New()
	hdr := w.Header()
	hdr.Set("X-Request-ID", rid)
	// The service's security headers, so both write the same response.
	hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet || r.URL.Path != "/users/me" {
		writeFloorError(w, r, rid, http.StatusNotFound, "NOT_FOUND", "Not found")
		return
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		writeFloorError(w, r, rid, http.StatusUnauthorized, "UNAUTHENTICATED", "Authentication required")
		return
	}
	claims, err := h.verifier.verify(auth[7:])
	if err != nil {
		writeFloorError(w, r, rid, http.StatusUnauthorized, "TOKEN_INVALID", "Invalid access token")
		return
	}
	u, err := h.users.UserByID(r.Context(), claims.Subject)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		writeFloorError(w, r, rid, http.StatusUnauthorized, "TOKEN_INVALID", "Invalid access token")
		return
	case err != nil:
		writeFloorError(w, r, rid, http.StatusInternalServerError, "INTERNAL", "Internal error")
		return
	}
	writeFloorJSON(w, http.StatusOK, floorEnvelope{
		Success: true, StatusCode: http.StatusOK, Message: "User", Data: u,
		Timestamp: time.Now().UTC().Format(envelopeTimeLayout), Path: r.URL.Path, RequestID: rid,
	})
}

func writeFloorError(w http.ResponseWriter, r *http.Request, rid string, status int, code, msg string) {
	env := floorErrorEnvelope{
		StatusCode: status, Message: msg,
		Timestamp: time.Now().UTC().Format(envelopeTimeLayout), Path: r.URL.Path, RequestID: rid,
	}
	env.Error.Code = code
	writeFloorJSON(w, status, env)
}

func writeFloorJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// pgUsers reads users through a pgx pool.
type pgUsers struct{ pool *pgxpool.Pool }

// selectUserByID is the one query of the floor handler.
const selectUserByID = "SELECT id, email, name, roles, created_at, updated_at FROM users WHERE id = $1"

// UserByID implements userRow; pgx.ErrNoRows when there is no such user.
func (p pgUsers) UserByID(ctx context.Context, userID string) (floorUser, error) {
	var (
		uid, email, name, roles string
		createdAt, updatedAt    time.Time
	)
	// pgx scans a uuid column into its canonical text form, as the
	// service's driver does.
	err := p.pool.QueryRow(ctx, selectUserByID, userID).Scan(&uid, &email, &name, &roles, &createdAt, &updatedAt)
	if err != nil {
		return floorUser{}, err
	}
	rs := []string{}
	if roles != "" {
		rs = strings.Split(roles, ",")
	}
	return floorUser{
		ID: uid, Email: email, Name: name, Roles: rs,
		CreatedAt: createdAt.UTC().Format(time.RFC3339), UpdatedAt: updatedAt.UTC().Format(time.RFC3339),
	}, nil
}

// openPool connects a pgx pool of at most size connections and pings it.
func openPool(ctx context.Context, databaseURL string, size int) (*pgxpool.Pool, error) {
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return nil, fmt.Errorf("-database-url must be the service's postgres:// DATABASE_URL (got %q)", redactURL(databaseURL))
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.MaxConns = int32(max(size, 1))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(pctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	at := strings.LastIndexByte(s, '@')
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	creds := s[scheme+3 : at]
	if i := strings.IndexByte(creds, ':'); i >= 0 {
		return s[:scheme+3] + creds[:i] + ":***" + s[at:]
	}
	return s
}

// floorServer is the floor handler listening on 127.0.0.1.
type floorServer struct {
	URL string
	srv *http.Server
	ln  net.Listener
}

// startFloorServer serves h on 127.0.0.1 at a free port.
func startFloorServer(h http.Handler) (*floorServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &floorServer{URL: "http://" + ln.Addr().String(), srv: srv, ln: ln}, nil
}

// Close stops the server within a few seconds.
func (s *floorServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// updateSessionReturning is the floor of one refresh: the single-row write
// at the heart of a rotation (the session's last use, by primary key,
// returning what a rotation needs next). The service's rotation also locks
// the session, reads the token and user, marks the old token, inserts the
// new one, all in one transaction; the floor is the one statement.
const updateSessionReturning = "UPDATE sessions SET last_used_at = now() WHERE id = $1 RETURNING id, user_id, generation"

// floorRefreshOp runs updateSessionReturning on the virtual users'
// sessions: worker w owns sessions w, w+workers, ... as in refreshOp.
func floorRefreshOp(pool *pgxpool.Pool, users []*vuser, workers int) Op {
	owned := make([][]string, workers)
	for i, u := range users {
		owned[i%workers] = append(owned[i%workers], u.SessionID)
	}
	return func(ctx context.Context, w, iter int) error {
		mine := owned[w]
		var (
			sid, uid pgtype.UUID
			gen      int64
		)
		err := pool.QueryRow(ctx, updateSessionReturning, mine[iter%len(mine)]).Scan(&sid, &uid, &gen)
		if errors.Is(err, pgx.ErrNoRows) {
			return kindError{kind: "no such session", err: err}
		}
		if err != nil && ctx.Err() == nil {
			return kindError{kind: "database", err: err}
		}
		return err
	}
}

// Argon2Params is the argon2id cost of the floor, matching the service's
// PASSWORD_ARGON2_* settings.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// argon2Op hashes a password with argon2id at p, as one login verifies
// one: a 16-byte salt and a 32-byte key (the service's defaults).
func argon2Op(p Argon2Params) Op {
	password := []byte("correct horse battery staple")
	return func(ctx context.Context, w, iter int) error {
		var salt [16]byte
		_, _ = rand.Read(salt[:])
		_ = argon2.IDKey(password, salt[:], p.Iterations, p.MemoryKiB, p.Parallelism, 32)
		return nil
	}
}
