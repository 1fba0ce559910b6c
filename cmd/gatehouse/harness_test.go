package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engines runs fn once per database engine: SQLite always, PostgreSQL when
// its binaries exist (required when REQUIRE_POSTGRES is set).
func engines(t *testing.T, fn func(t *testing.T, dbURL func(t *testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) string {
			return "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) string { return pgtest.URL(t) })
	})
}

// testEnv is the configuration every HTTP test starts from: a random port,
// cheap password hashing, plain-HTTP cookies, quiet logs.
func testEnv(dbURL string) map[string]string {
	return map[string]string{
		"HTTP_ADDR":                   "127.0.0.1:0",
		"DATABASE_URL":                dbURL,
		"PASSWORD_ARGON2_MEMORY":      "64KiB",
		"PASSWORD_ARGON2_ITERATIONS":  "1",
		"PASSWORD_ARGON2_PARALLELISM": "1",
		"COOKIE_SECURE":               "false",
		"LOG_LEVEL":                   "error",
		"CONFIG_FILE":                 "",
	}
}

// server is one running instance under test.
type server struct {
	t    *testing.T
	base string
	app  *fx.App
	cfg  config.Config
	echo *echo.Echo
}

// startServer starts the real application graph with env over testEnv.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	return startServerWith(t, env)
}

// startServerWith is startServer with more fx options (decorators of a
// logger or tracer a test wants to see).
func startServerWith(t *testing.T, env map[string]string, opts ...fx.Option) *server {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := env[k]
		if k == "CONFIG_FILE" && !ok {
			return "", false
		}
		return v, ok
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var (
		srv *httpserver.Server
		e   *echo.Echo
	)
	app := fx.New(serveOptions(fx.Supply(cfg)), fx.Options(opts...), fx.Populate(&srv, &e), fx.NopLogger)
	if err := app.Err(); err != nil {
		t.Fatalf("build app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}
	s := &server{t: t, base: "http://" + srv.Addr().String(), app: app, cfg: cfg, echo: e}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.app.Stop(ctx)
}

// client is one HTTP client with its own cookie handling (like one browser
// profile); every response it sees is checked against the spec.
type client struct {
	t       testing.TB
	s       *server
	http    *http.Client
	mu      sync.Mutex
	cookies map[string]*http.Cookie
	// bearer, when set, is sent as Authorization.
	bearer string
}

func (s *server) client() *client {
	return &client{t: s.t, s: s, http: &http.Client{Timeout: 30 * time.Second}, cookies: map[string]*http.Cookie{}}
}

// response is a checked HTTP response with its decoded envelope.
type response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Env     spectest.Envelope
	Cookies []*http.Cookie
}

// code is the error code, "" on success.
func (r *response) code() string { return r.Env.Code() }

// data decodes the envelope's data into v.
func (r *response) data(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Env.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Env.Data, err)
	}
}

func (r *response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// raw body, sent as is with the given content type.
type rawBody struct {
	contentType string
	data        []byte
}

// do sends a request (body: nil, a rawBody, or a value encoded as JSON) and
// checks what every response must satisfy: the spec, the envelope's
// statusCode equal to the HTTP status, an X-Request-ID equal to requestId.
func (c *client) do(method, path string, body any, opts ...reqOpt) *response {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = bytes.NewReader(b.data), b.contentType
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, c.s.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	c.mu.Lock()
	for _, ck := range c.cookies {
		if strings.HasPrefix(path, ck.Path) {
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	c.mu.Unlock()
	for _, o := range opts {
		o(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := &response{Status: resp.StatusCode, Header: resp.Header, Cookies: resp.Cookies()}
	out.Body, err = io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	for _, ck := range out.Cookies {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	c.mu.Unlock()
	if err := spectest.Shared(c.t).ValidateResponse(req, resp.StatusCode, resp.Header, out.Body); err != nil {
		c.t.Errorf("%s %s: response does not match the spec: %v", method, path, err)
	}
	if method != http.MethodHead && isJSON(resp.Header.Get("Content-Type")) && !strings.HasPrefix(path, "/.well-known/") && !strings.HasPrefix(path, "/docs") {
		if err := json.Unmarshal(out.Body, &out.Env); err != nil {
			c.t.Fatalf("%s %s: body is not an envelope: %v: %s", method, path, err, out.Body)
		}
		if out.Env.StatusCode != resp.StatusCode {
			c.t.Errorf("%s %s: statusCode %d != HTTP %d", method, path, out.Env.StatusCode, resp.StatusCode)
		}
		if rid := resp.Header.Get("X-Request-ID"); rid == "" || rid != out.Env.RequestID {
			c.t.Errorf("%s %s: X-Request-ID %q vs requestId %q", method, path, rid, out.Env.RequestID)
		}
		if out.Env.Success != (resp.StatusCode < 400) {
			c.t.Errorf("%s %s: success=%v with status %d", method, path, out.Env.Success, resp.StatusCode)
		}
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		c.t.Errorf("%s %s: server error %d: %s", method, path, resp.StatusCode, out.Body)
	}
	return out
}

func isJSON(ct string) bool { return strings.HasPrefix(ct, "application/json") }

// expect fails the test unless r has the status and (for errors) code.
func expect(t testing.TB, r *response, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.code(), status, code, r.Body)
	}
}

// tokenPair mirrors the contract's token pair.
type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID     string   `json:"id"`
		Email  string   `json:"email"`
		Name   string   `json:"name"`
		Roles  []string `json:"roles"`
		Locale string   `json:"locale"`
	} `json:"user"`
	Session struct {
		ID        string `json:"id"`
		ExpiresAt string `json:"expiresAt"`
	} `json:"session"`
}

// register creates an account with cookie transport and returns its pair;
// the client keeps the cookie and uses the access token from then on.
func (c *client) register(email, password string) tokenPair {
	c.t.Helper()
	r := c.do("POST", "/auth/register", map[string]any{"email": email, "password": password, "name": "Ada"})
	expect(c.t, r, 201, "")
	var p tokenPair
	r.data(c.t, &p)
	c.bearer = p.AccessToken
	return p
}

func (c *client) login(email, password string, transport string) (tokenPair, *response) {
	c.t.Helper()
	body := map[string]any{"email": email, "password": password}
	if transport != "" {
		body["refreshTokenTransport"] = transport
	}
	r := c.do("POST", "/auth/login", body)
	var p tokenPair
	if r.Status == 200 {
		r.data(c.t, &p)
		c.bearer = p.AccessToken
	}
	return p, r
}

// echoRoutes lists the served API routes as "METHOD /path/{param}", leaving
// out the docs' static files and the example app, which the spec describes
// by their entry points only.
func echoRoutes(t testing.TB, s *server) []string {
	t.Helper()
	var out []string
	for _, r := range s.echo.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		if strings.HasPrefix(r.Path, "/example") {
			continue
		}
		if r.Path == "/docs/*" {
			r.Path = "/docs/:asset"
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(parts, "/"))
	}
	if len(out) < 15 {
		t.Fatalf("only %d routes found: %v", len(out), out)
	}
	return out
}
