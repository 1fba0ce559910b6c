package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/ratelimit"
)

// The route tests drive the real routes (Register) through Echo with fakes
// of the small use-case interfaces behind them, and check every answer
// against the OpenAPI document as a client would see it.

// testNow is the fakes' clock: tokens are minted relative to it.
var testNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// Test identities: the user, their session and a second session of theirs.
const (
	testUserID     = "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"
	testSessionID  = "1b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"
	otherSessionID = "2b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"
)

// Bearer tokens the fake authenticator knows.
const (
	tokFresh   = "fresh"   // a token minted a minute ago by a password proof
	tokStale   = "stale"   // a refreshed token, auth_time an hour ago
	tokAAL2    = "aal2"    // fresh, with a second factor
	tokExpired = "expired" // past exp
	tokRevoked = "revoked" // its session was revoked
	// An administrator's tokens: fresh at aal1, refreshed, fresh at aal2.
	tokAdmin      = "admin"
	tokAdminStale = "admin-stale"
	tokAdminAAL2  = "admin-aal2"
	// tokPromoted's account became an admin after the token was minted.
	tokPromoted = "promoted"
	// tokBare comes from a check that did not load the account.
	tokBare = "bare"
)

func testUser() user.User {
	return user.User{ID: testUserID, Email: "ada@example.com", Name: "Ada", Roles: []string{"user"},
		EmailVerified: true, Locale: "en", CreatedAt: testNow.Add(-24 * time.Hour), UpdatedAt: testNow.Add(-time.Hour)}
}

func testPrincipal(fresh bool, aal string, authAgo time.Duration) auth.Principal {
	return auth.Principal{
		Claims: auth.Claims{
			Subject: testUserID, SessionID: testSessionID, ID: "jti-1",
			IssuedAt: testNow.Add(-time.Minute), ExpiresAt: testNow.Add(14 * time.Minute),
			AuthTime: testNow.Add(-authAgo), Fresh: fresh, Methods: []string{"pwd"}, AAL: aal, Roles: []string{"user"},
		},
		User: testUser(),
	}
}

// fakeAuthenticator maps bearer tokens to callers.
type fakeAuthenticator struct{}

func (fakeAuthenticator) Authenticate(_ context.Context, raw string) (auth.Principal, error) {
	switch raw {
	case tokFresh:
		return testPrincipal(true, auth.AAL1, time.Minute), nil
	case tokStale:
		return testPrincipal(false, auth.AAL1, time.Hour), nil
	case tokAAL2:
		return testPrincipal(true, auth.AAL2, time.Minute), nil
	case tokAdmin, tokAdminStale, tokAdminAAL2:
		p := testPrincipal(raw != tokAdminStale, auth.AAL1, time.Minute)
		if raw == tokAdminAAL2 {
			p.Claims.AAL = auth.AAL2
		}
		p.Claims.Roles = []string{"user", "admin"}
		p.User.Roles = p.Claims.Roles
		return p, nil
	case tokPromoted:
		p := testPrincipal(false, auth.AAL1, time.Hour)
		p.User.Roles = []string{"user", "admin"}
		return p, nil
	case tokBare:
		p := testPrincipal(false, auth.AAL1, time.Hour)
		p.User, p.Claims.Methods, p.Claims.Roles = user.User{}, nil, nil
		return p, nil
	case tokExpired:
		return auth.Principal{}, auth.ErrTokenExpired
	case tokRevoked:
		return auth.Principal{}, auth.ErrSessionRevoked
	}
	return auth.Principal{}, auth.ErrTokenInvalid
}

// refreshToken is a refresh token of the contract's shape (43 characters
// or more) that names what issued it.
func refreshToken(tag string) string {
	return tag + strings.Repeat("x", 43)
}

// testPair is a session start as the use cases return it.
func testPair(refresh string) authn.TokenPair {
	return authn.TokenPair{
		AccessToken: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", ExpiresIn: 15 * time.Minute, RefreshToken: refresh, User: testUser(),
		Session: session.Session{ID: testSessionID, UserID: testUserID, CreatedAt: testNow, LastUsedAt: testNow,
			IdleExpiresAt: testNow.Add(7 * 24 * time.Hour), AbsoluteExpiresAt: testNow.Add(30 * 24 * time.Hour), AuthTime: testNow},
		Device: "device-proof",
	}
}

// calls records what the fakes were asked, for the tests that check the
// handler passed the client's input on.
type calls struct {
	mu  sync.Mutex
	log []string
	// last* are the arguments of the latest call.
	lastMeta     authn.Meta
	lastRegister authn.RegisterInput
	lastCreds    authn.Credentials
	lastRefresh  string
	lastLogout   authn.LogoutInput
	lastReauth   authn.ReauthInput
	lastMFA      authn.MFAVerifyInput
	lastSession  string
	lastCursor   string
	lastLimit    int
}

func (c *calls) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, name)
}

func (c *calls) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// fakeAuth implements every auth interface but the passkey login (whose
// Login clashes with the password login's) with behaviour set per test.
type fakeAuth struct {
	*calls
	verificationRequired bool
	// err, when set, is what every operation fails with.
	err error
	// mfa, when set, makes the password login stop at the second factor.
	mfa      *authn.MFAChallenge
	sessions authn.SessionList
}

func (f *fakeAuth) VerificationRequired() bool { return f.verificationRequired }

func (f *fakeAuth) Register(_ context.Context, in authn.RegisterInput, m authn.Meta) (authn.TokenPair, error) {
	f.add("Register")
	f.lastRegister, f.lastMeta = in, m
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	return testPair(refreshToken("new")), nil
}

func (f *fakeAuth) RegisterPending(_ context.Context, in authn.RegisterInput, m authn.Meta) error {
	f.add("RegisterPending")
	f.lastRegister, f.lastMeta = in, m
	return f.err
}

func (f *fakeAuth) Login(_ context.Context, in authn.Credentials, m authn.Meta) (authn.TokenPair, error) {
	f.add("Login")
	f.lastCreds, f.lastMeta = in, m
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	if f.mfa != nil {
		return authn.TokenPair{MFA: f.mfa}, nil
	}
	return testPair(refreshToken("login")), nil
}

func (f *fakeAuth) Refresh(_ context.Context, raw string, m authn.Meta) (authn.TokenPair, error) {
	f.add("Refresh")
	f.lastRefresh, f.lastMeta = raw, m
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	// A refresh starts no session: no device proof.
	pair := testPair(refreshToken("rotated"))
	pair.Device = ""
	return pair, nil
}

func (f *fakeAuth) Logout(_ context.Context, in authn.LogoutInput, m authn.Meta) error {
	f.add("Logout")
	f.lastLogout, f.lastMeta = in, m
	return f.err
}

func (f *fakeAuth) LogoutAll(_ context.Context, p auth.Principal, m authn.Meta) error {
	f.add("LogoutAll:" + p.UserID())
	return f.err
}

func (f *fakeAuth) RevokeSession(_ context.Context, p auth.Principal, sid string, m authn.Meta) error {
	f.add("RevokeSession")
	f.lastSession = sid
	return f.err
}

func (f *fakeAuth) ListSessions(_ context.Context, p auth.Principal, cursor string, limit int) (authn.SessionList, error) {
	f.add("ListSessions")
	f.lastCursor, f.lastLimit = cursor, limit
	if f.err != nil {
		return authn.SessionList{}, f.err
	}
	return f.sessions, nil
}

func (f *fakeAuth) Reauthenticate(_ context.Context, p auth.Principal, in authn.ReauthInput, m authn.Meta) (authn.TokenPair, error) {
	f.add("Reauthenticate")
	f.lastReauth = in
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	pair := testPair("")
	pair.Device = ""
	return pair, nil
}

func (f *fakeAuth) VerifyMFA(_ context.Context, in authn.MFAVerifyInput, m authn.Meta) (authn.TokenPair, error) {
	f.add("VerifyMFA")
	f.lastMFA = in
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	return testPair(refreshToken("mfa")), nil
}

// fakePasskeyLogin is the passkey sign-in.
type fakePasskeyLogin struct {
	*calls
	err error
}

func (f fakePasskeyLogin) Login(_ context.Context, challengeID string, credential []byte, m authn.Meta) (authn.TokenPair, error) {
	f.add("PasskeyLogin:" + challengeID)
	if f.err != nil {
		return authn.TokenPair{}, f.err
	}
	return testPair(refreshToken("passkey")), nil
}

// fakeLimiter is a per-key budget of limit units per minute.
type fakeLimiter struct {
	mu    sync.Mutex
	limit int64
	spent map[string]int64
	takes []string
}

func newFakeLimiter(limit int64) *fakeLimiter {
	return &fakeLimiter{limit: limit, spent: map[string]int64{}}
}

func (l *fakeLimiter) Take(key string, n int64) ratelimit.Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.takes = append(l.takes, key)
	if l.spent[key]+n > l.limit {
		return ratelimit.Decision{Allowed: false, Remaining: l.limit - l.spent[key], Reset: 1500 * time.Millisecond}
	}
	l.spent[key] += n
	return ratelimit.Decision{Allowed: true, Remaining: l.limit - l.spent[key], Reset: 30 * time.Second}
}

func (l *fakeLimiter) Limit() int64          { return l.limit }
func (l *fakeLimiter) Window() time.Duration { return time.Minute }

func (l *fakeLimiter) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.takes...)
}

// testJWKS is the key set the test server publishes.
const testJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`

// testServer is the service's HTTP layer over fakes.
type testServer struct {
	t       *testing.T
	e       *echo.Echo
	auth    *fakeAuth
	calls   *calls
	limiter *fakeLimiter
	logs    *bytes.Buffer
}

// serverOpt adjusts the dependencies or options of a test server.
type serverOpt func(*Deps, *Options)

func newTestServer(t *testing.T, opts ...serverOpt) *testServer {
	t.Helper()
	cl := &calls{}
	fa := &fakeAuth{calls: cl}
	lim := newFakeLimiter(1000)
	logs := &bytes.Buffer{}
	d := Deps{
		Auth: AuthInteractors{
			Registrar: fa, Login: fa, Refresher: fa, Authenticator: fakeAuthenticator{}, Revoker: fa,
			Lister: fa, Reauthenticator: fa, MFA: fa, Passkey: fakePasskeyLogin{calls: cl},
		},
		JWKS: func() []byte {
			return []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`)
		},
		Ready:     func(context.Context) error { return nil },
		Now:       func() time.Time { return testNow },
		Log:       slog.New(slog.NewJSONHandler(logs, nil)),
		IPLimiter: lim,
	}
	o := Options{
		BodyLimit: 4 << 10, RequestTimeout: 5 * time.Second,
		Cookie: CookieOptions{Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: 7 * 24 * time.Hour},
		StepUp: auth.StepUpPolicy{MaxAge: 5 * time.Minute},
		Issuer: "https://id.example.com", PublicURL: "https://id.example.com/",
		JWKSMaxAge: time.Hour, Locales: []string{"en", "de"},
	}
	for _, opt := range opts {
		opt(&d, &o)
	}
	e := echo.New()
	Register(e, d, o)
	lim, _ = d.IPLimiter.(*fakeLimiter)
	return &testServer{t: t, e: e, auth: fa, calls: cl, limiter: lim, logs: logs}
}

// reply is one checked answer.
type reply struct {
	Code   int
	Header http.Header
	Body   []byte
	Env    spectest.Envelope
}

func (r reply) errCode() string { return r.Env.Code() }

func (r reply) data(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Env.Data, v); err != nil {
		t.Fatalf("data %s: %v", r.Env.Data, err)
	}
}

// dataOf decodes the envelope's data as a T, failing the test when it
// does not fit.
func dataOf[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	r.data(t, &v)
	return v
}

// cookie returns the Set-Cookie of name, nil when none was set.
func (r reply) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// detail reports whether the validation details name field.
func (r reply) detail(field string) bool {
	if r.Env.Error == nil {
		return false
	}
	for _, d := range r.Env.Error.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func withCookie(name, value string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
}

// newRequest builds a request with body (a JSON string; "" for none).
func newRequest(method, path, body string, opts ...reqOpt) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return req
}

// rawDo sends a request without checking the answer against the spec (for
// set-ups the spec does not describe, such as no rate limiter).
func (s *testServer) rawDo(method, path, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, newRequest(method, path, body, opts...))
	return rec
}

// do sends a request and checks the answer against the spec and the
// envelope's own consistency.
func (s *testServer) do(method, path, body string, opts ...reqOpt) reply {
	s.t.Helper()
	req := newRequest(method, path, body, opts...)
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	return s.check(req, rec)
}

func (s *testServer) check(req *http.Request, rec *httptest.ResponseRecorder) reply {
	s.t.Helper()
	out := reply{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if err := spectest.Shared(s.t).ValidateResponse(req, rec.Code, rec.Header(), out.Body); err != nil {
		s.t.Errorf("%v", err)
	}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && bytes.HasPrefix(out.Body, []byte(`{"success"`)) {
		if err := json.Unmarshal(out.Body, &out.Env); err != nil {
			s.t.Fatalf("%s %s: envelope: %v", req.Method, req.URL.Path, err)
		}
	}
	return out
}
