package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/api/docs"
	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// Every budgeted answer announces the budget and what is left of it; routes
// that hash a password cost more; past the budget the answer is 429 with
// Retry-After equal to the window's end; the probes are never budgeted.
func TestRateLimit(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) { d.IPLimiter = newFakeLimiter(25) })

	r := s.do(http.MethodGet, "/.well-known/jwks.json", "")
	if r.Code != 200 || r.Header.Get("RateLimit-Policy") != `"ip";q=25;w=60` || r.Header.Get("RateLimit") != `"ip";r=24;t=30` {
		t.Errorf("cheap route: %d %q %q", r.Code, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
	}
	// A login costs ten units.
	r = s.do(http.MethodPost, "/auth/login", creds)
	if r.Code != 200 || r.Header.Get("RateLimit") != `"ip";r=14;t=30` {
		t.Errorf("login: %d %q", r.Code, r.Header.Get("RateLimit"))
	}
	r = s.do(http.MethodPost, "/auth/login", creds)
	if r.Header.Get("RateLimit") != `"ip";r=4;t=30` {
		t.Errorf("second login: %q", r.Header.Get("RateLimit"))
	}
	// The third does not fit: refused before the use case runs.
	before := len(s.calls.names())
	r = s.do(http.MethodPost, "/auth/login", creds)
	if r.Code != 429 || r.errCode() != CodeTooManyRequests || r.Header.Get("Retry-After") != "2" || r.Header.Get("RateLimit") != `"ip";r=4;t=2` {
		t.Errorf("over budget: %d %s %v", r.Code, r.Body, r.Header)
	}
	if len(s.calls.names()) != before {
		t.Errorf("use case ran past the budget")
	}
	// A cheaper request still fits.
	if r := s.do(http.MethodGet, "/.well-known/jwks.json", ""); r.Code != 200 {
		t.Errorf("cheap after refusal: %d", r.Code)
	}
	// The probes answer whatever the budget says, and announce none.
	for _, p := range []string{"/healthz", "/readyz"} {
		r := s.do(http.MethodGet, p, "")
		if r.Code != 200 || r.Header.Get("RateLimit") != "" {
			t.Errorf("%s: %d %v", p, r.Code, r.Header)
		}
	}
}

// A request past the budget is counted by the metrics observer.
func TestRateLimitCountsThrottling(t *testing.T) {
	obs := &throttleCounter{}
	s := newTestServer(t, func(d *Deps, _ *Options) { d.IPLimiter = newFakeLimiter(1); d.Metrics = obs })
	s.do(http.MethodGet, "/.well-known/jwks.json", "")
	r := s.do(http.MethodGet, "/.well-known/jwks.json", "")
	if r.Code != 429 || obs.throttled != 1 {
		t.Errorf("%d throttled %d", r.Code, obs.throttled)
	}
}

type throttleCounter struct{ throttled int }

func (o *throttleCounter) ObserveRequest(string, string, int, time.Duration) {}
func (o *throttleCounter) IPThrottled()                                      { o.throttled++ }

func TestRouteWeight(t *testing.T) {
	for _, tc := range []struct {
		method, route string
		want          int64
	}{
		{"POST", "/auth/login", hashWeight},
		{"POST", "/auth/register", hashWeight},
		{"POST", "/auth/reauthenticate", hashWeight},
		{"PUT", "/users/me/password", hashWeight},
		{"PUT", "/users/me/email", hashWeight},
		{"POST", "/auth/password/reset", hashWeight},
		{"POST", "/auth/password/forgot", hashWeight},
		{"POST", "/auth/refresh", 1},
		{"GET", "/auth/login", 1},
		{"GET", "/users/me", 1},
	} {
		if got := routeWeight(tc.method, tc.route); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.route, got, tc.want)
		}
	}
}

// The client address is the peer's, or X-Forwarded-For's only when the
// peer is a trusted proxy: a client cannot pick its own budget key.
func TestClientAddress(t *testing.T) {
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     string
		want    string
	}{
		{"no proxies: XFF ignored", nil, "203.0.113.9:4000", "198.51.100.1", "203.0.113.9"},
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.1.2.3:4000", "198.51.100.1", "198.51.100.1"},
		{"untrusted peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.9:4000", "198.51.100.1", "203.0.113.9"},
		{"private peer not trusted by default", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "192.168.1.1:4000", "198.51.100.1", "192.168.1.1"},
		{"IPv6 proxy", []netip.Prefix{netip.MustParsePrefix("fd00::/8")}, "[fd00::1]:4000", "2001:db8::7", "2001:db8::7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(_ *Deps, o *Options) { o.TrustedProxies = tc.trusted })
			r := s.do(http.MethodPost, "/auth/login", creds, func(r *http.Request) {
				r.RemoteAddr = tc.peer
				r.Header.Set("X-Forwarded-For", tc.xff)
			})
			if r.Code != 200 || s.auth.lastMeta.IP != tc.want {
				t.Errorf("%d: ip %q, want %q", r.Code, s.auth.lastMeta.IP, tc.want)
			}
			if keys := s.limiter.keys(); len(keys) != 1 || keys[0] != tc.want {
				t.Errorf("budget keys %v", keys)
			}
		})
	}
}

// A well-formed X-Request-ID is echoed; anything else is replaced, so no
// client can inject into logs or headers.
func TestRequestID(t *testing.T) {
	s := newTestServer(t)
	for in, echoed := range map[string]bool{
		"abc-123_x.y":               true,
		strings.Repeat("a", 128):    true,
		strings.Repeat("a", 129):    false,
		"":                          false,
		"has space":                 false,
		"new\nline":                 false,
		"quote\"":                   false,
		"0b6f6c1e-4c7a-4f1e-9a53-2": true,
	} {
		r := s.do(http.MethodGet, "/healthz", "", func(r *http.Request) { r.Header["X-Request-Id"] = []string{in} })
		got := r.Header.Get("X-Request-ID")
		if echoed && got != in {
			t.Errorf("%q: answered %q", in, got)
		}
		if !echoed && (got == in || !validRequestID(got)) {
			t.Errorf("%q: answered %q", in, got)
		}
	}
}

// The API's answers carry the security headers, a CSP that forbids
// everything (the docs set their own), and HSTS over TLS only.
func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) { d.Docs = docs.Handler() })
	r := s.do(http.MethodGet, "/healthz", "")
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q", k, got)
		}
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	r = s.do(http.MethodGet, "/docs", "")
	if r.Code != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("docs: %d %v", r.Code, r.Header)
	}
	srv := httptest.NewTLSServer(s.e)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS over TLS: %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

// Query parameters with a NUL or invalid UTF-8 are refused with the field
// named (printably), before any handler runs.
func TestCleanQuery(t *testing.T) {
	s := newTestServer(t)
	cases := []struct{ query, field, msg string }{
		{"cursor=a%00b", "cursor", "must not contain NUL characters"},
		{"cursor=%FF", "cursor", "must be valid UTF-8"},
		{"a%00b=1", "a\uFFFDb", "must not contain NUL characters"},
	}
	for _, tc := range cases {
		r := s.do(http.MethodGet, "/auth/sessions?"+tc.query, "", bearer(tokStale))
		if r.Code != 400 || r.errCode() != CodeValidationFailed || !r.detail(tc.field) {
			t.Errorf("%s: %d %s", tc.query, r.Code, r.Body)
		}
		if !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%s: message missing: %s", tc.query, r.Body)
		}
	}
	if n := s.calls.names(); len(n) != 0 {
		t.Errorf("use case called: %v", n)
	}
}

// Unknown routes and methods get the error envelope (404, 405), and HEAD
// on a GET route answers its headers without a body.
func TestRoutingAnswers(t *testing.T) {
	s := newTestServer(t)
	if r := s.do(http.MethodGet, "/nope", ""); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodGet, "/auth/login", ""); r.Code != 405 || r.errCode() != CodeMethodNotAllowed {
		t.Errorf("wrong method: %d %s", r.Code, r.Body)
	}
	srv := httptest.NewServer(s.e)
	defer srv.Close()
	for _, p := range []string{"/healthz", "/.well-known/jwks.json", "/auth/sessions"} {
		req, _ := http.NewRequest(http.MethodHead, srv.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+tokStale)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: %d %q %v", p, resp.StatusCode, body, resp.Header)
		}
		if err := spectest.Shared(t).ValidateResponse(req, resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
	}
	// A HEAD that fails answers the status without a body.
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/users/me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("HEAD without token: %d %v", resp.StatusCode, resp.Header)
	}
}

// CORS: a configured origin's preflight is answered with credentials
// allowed and the headers a browser client needs exposed; others get none.
func TestCORS(t *testing.T) {
	s := newTestServer(t, func(_ *Deps, o *Options) { o.CORSAllowedOrigins = []string{"https://app.example.org"} })
	pre := func(origin string) *httptest.ResponseRecorder {
		return s.rawDo(http.MethodOptions, "/auth/login", "", header("Origin", origin),
			header("Access-Control-Request-Method", "POST"), header("Access-Control-Request-Headers", "content-type"))
	}
	rec := pre("https://app.example.org")
	h := rec.Header()
	if rec.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.org" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("allowed preflight: %d %v", rec.Code, h)
	}
	if rec := pre("https://evil.example"); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight allowed: %v", rec.Header())
	}
	r := s.do(http.MethodPost, "/auth/login", creds, header("Origin", "https://app.example.org"))
	exposed := r.Header.Get("Access-Control-Expose-Headers")
	for _, want := range []string{"X-Request-Id", "Retry-After", "Ratelimit", "Ratelimit-Policy", "Www-Authenticate"} {
		if !strings.Contains(strings.ToLower(exposed), strings.ToLower(want)) {
			t.Errorf("%s not exposed: %q", want, exposed)
		}
	}
}

// blockingAuth waits for the request's deadline, as a stalled database
// would.
type blockingAuth struct{ *fakeAuth }

func (b blockingAuth) Login(ctx context.Context, _ authn.Credentials, _ authn.Meta) (authn.TokenPair, error) {
	<-ctx.Done()
	return authn.TokenPair{}, ctx.Err()
}

// A request that outlives REQUEST_TIMEOUT answers 503 instead of hanging.
func TestRequestTimeout(t *testing.T) {
	s := newTestServer(t, func(d *Deps, o *Options) {
		o.RequestTimeout = 20 * time.Millisecond
		d.Auth.Login = blockingAuth{}
	})
	r := s.do(http.MethodPost, "/auth/login", creds)
	if r.Code != 503 || r.errCode() != CodeServiceUnavailable {
		t.Errorf("%d %s", r.Code, r.Body)
	}
	if !strings.Contains(s.logs.String(), `"level":"WARN"`) {
		t.Errorf("a 503 is logged as a warning: %s", s.logs)
	}
}

// A server error is logged once with its cause and request ID; the client
// sees neither the cause nor anything else internal.
func TestServerErrorsLoggedNotShown(t *testing.T) {
	s := newTestServer(t)
	s.auth.err = errors.New("pq: password_hash column missing")
	r := s.do(http.MethodPost, "/auth/login", creds, header("X-Request-ID", "trace-me"))
	if r.Code != 500 || r.errCode() != CodeInternal || strings.Contains(string(r.Body), "password_hash") {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	var line map[string]any
	found := false
	for _, l := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if json.Unmarshal([]byte(l), &line) == nil && line["msg"] == "request failed" {
			found = line["requestId"] == "trace-me" && strings.Contains(line["error"].(string), "password_hash") && line["level"] == "ERROR"
		}
	}
	if !found {
		t.Errorf("cause not logged with the request ID: %s", s.logs)
	}
	// The access log never holds the body or the query.
	s.do(http.MethodPost, "/auth/login?secret=q", creds)
	if strings.Contains(s.logs.String(), "correct horse") || strings.Contains(s.logs.String(), "secret=q") {
		t.Errorf("secrets logged: %s", s.logs)
	}
}

// Echo's own errors and the ones the table does not list map to the
// contract, and apiError reports its cause.
func TestErrorMappingRemainder(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{echo.NewHTTPError(http.StatusUnauthorized), 401, CodeUnauthenticated},
		{echo.NewHTTPError(http.StatusForbidden), 403, CodeForbidden},
		{echo.NewHTTPError(http.StatusTooManyRequests), 429, CodeTooManyRequests},
		{echo.NewHTTPError(http.StatusServiceUnavailable), 503, CodeServiceUnavailable},
		{echo.NewHTTPError(http.StatusBadRequest), 400, CodeMalformedJSON},
		{echo.NewHTTPError(http.StatusRequestEntityTooLarge), 413, CodePayloadTooLarge},
		{echo.NewHTTPError(http.StatusUnsupportedMediaType), 415, CodeUnsupportedMediaType},
		{echo.NewHTTPError(http.StatusConflict), 409, CodeForbidden},
		{echo.NewHTTPError(http.StatusBadGateway), 500, CodeInternal},
		{user.ErrEmailTaken, 409, CodeEmailTaken},
		{context.DeadlineExceeded, 503, CodeServiceUnavailable},
	}
	for _, tc := range cases {
		ae := toAPIError(tc.err)
		if ae.Status != tc.status || ae.Code != tc.code {
			t.Errorf("%v: %d %s", tc.err, ae.Status, ae.Code)
		}
	}
	ae := toAPIError(errors.New("disk on fire"))
	if ae.Error() != "INTERNAL: disk on fire" || !strings.Contains(newAPIError(400, CodeMalformedJSON, "Bad").Error(), "Bad") {
		t.Errorf("Error(): %q", ae.Error())
	}
}

// Validation messages say what the field must be, in the JSON names.
func TestDescribeValidatorTags(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodPost, "/auth/mfa/verify", `{"mfaToken":"`+strings.Repeat("m", 129)+`","code":"1"}`)
	if r.Code != 400 || !strings.Contains(string(r.Body), "must be at most 128 characters") {
		t.Errorf("%d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/login", `{"email":"a@b.co","password":"x","refreshTokenTransport":"smoke"}`)
	if !strings.Contains(string(r.Body), "must be one of: cookie, body") {
		t.Errorf("%s", r.Body)
	}
	r = s.do(http.MethodPost, "/auth/mfa/verify", `{"mfaToken":"m","code":"1","recoveryCode":"2"}`)
	if !strings.Contains(string(r.Body), "must not be given together with recoveryCode") {
		t.Errorf("%s", r.Body)
	}
	r = s.do(http.MethodPost, "/auth/mfa/verify", `{"mfaToken":"m"}`)
	if !strings.Contains(string(r.Body), "is required (or recoveryCode)") {
		t.Errorf("%s", r.Body)
	}
	if !slices.Equal([]string{lowerFirst(""), lowerFirst("RecoveryCode")}, []string{"", "recoveryCode"}) {
		t.Error("lowerFirst")
	}
}
