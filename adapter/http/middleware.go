package httpadapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/ratelimit"
)

// maxRequestIDLength bounds an accepted incoming X-Request-ID.
const maxRequestIDLength = 128

// validRequestID reports whether an incoming request ID may be echoed: 1 to
// 128 characters of [A-Za-z0-9._-], so it cannot inject into logs or headers.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLength {
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

// requestIDMiddleware echoes a well-formed X-Request-ID or makes one up.
func requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(rid) {
			rid = id.New()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, rid)
		return next(c)
	}
}

// securityHeaders sets the headers every API response should carry. The API
// serves JSON only, so the CSP forbids everything; the docs set their own.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/docs") && !strings.HasPrefix(c.Request().URL.Path, "/example") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		if c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

// recoverMiddleware turns a panic into a logged 500 envelope, never a
// dropped connection or a stack trace on the wire.
func recoverMiddleware(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					buf := make([]byte, 4<<10)
					buf = buf[:runtime.Stack(buf, false)]
					log.Error("panic recovered", slog.String("requestId", requestID(c)),
						slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(buf)))
					err = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal server error", Cause: fmt.Errorf("panic: %v", r)}
				}
			}()
			return next(c)
		}
	}
}

// timeoutMiddleware bounds the time a request may spend on the database and
// hashing, so a stalled dependency answers 503 instead of hanging.
func timeoutMiddleware(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d <= 0 {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// accessLog writes one line per request: no bodies, no query strings, no
// headers that could hold secrets.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("requestId", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.Int("status", status),
				slog.Int64("bytes", c.Response().Size),
				slog.String("ip", c.RealIP()),
				slog.Duration("duration", time.Since(start)))
			return nil
		}
	}
}

// principalKey is the echo.Context key of the authenticated caller.
const principalKey = "gatehouse.principal"

// bearerToken extracts the token of an "Authorization: Bearer" header. The
// scheme is case-insensitive (RFC 7235). ok is false when no Authorization
// header was sent; a header in another shape yields ok with an empty token.
func bearerToken(h string) (token string, present bool) {
	if h == "" {
		return "", false
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", true
	}
	return tok, true
}

// requireAuth admits only callers with a valid access token of a live session.
func requireAuth(a Authenticator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			// Whatever an authenticated route answers is the caller's own.
			noStore(c)
			p, err := authenticate(c, a)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

func authenticate(c echo.Context, a Authenticator) (auth.Principal, error) {
	tok, present := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
	if !present {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if tok == "" {
		return auth.Principal{}, auth.ErrTokenInvalid
	}
	return a.Authenticate(c.Request().Context(), tok)
}

// requireFresh declares a route sensitive: the caller's token must come from
// a recent password proof (the domain's step-up policy). On refusal the
// RFC 9470 challenge tells generic clients to re-authenticate.
func requireFresh(policy auth.StepUpPolicy, now func() time.Time) echo.MiddlewareFunc {
	challenge := `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=` +
		strconv.FormatInt(int64(policy.MaxAge/time.Second), 10)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := policy.Check(principal(c).Claims, now()); err != nil {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
				return err
			}
			return next(c)
		}
	}
}

// principal returns the caller established by requireAuth.
func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

// originPolicy decides whether a cookie-authenticated request comes from a
// page allowed to use the refresh cookie: the service's own origin (the host
// the request was sent to) or one of the configured CORS origins. Without an
// Origin header the browser's other signals decide: Sec-Fetch-Site
// "cross-site" or "same-site" (a sibling subdomain is another origin), or a
// Referer from a foreign origin, is refused. A request with none of these
// comes from a non-browser client, which cannot be the victim of CSRF, and
// is allowed; SameSite on the cookie is a second line of defence.
type originPolicy struct {
	allowed map[string]struct{}
}

func newOriginPolicy(origins []string) originPolicy {
	m := make(map[string]struct{}, len(origins))
	for _, o := range origins {
		m[strings.ToLower(strings.TrimRight(o, "/"))] = struct{}{}
	}
	return originPolicy{allowed: m}
}

func (p originPolicy) check(c echo.Context) error {
	rejected := newAPIError(http.StatusForbidden, CodeCSRFRejected, "Origin not allowed for cookie-authenticated requests")
	req := c.Request()
	origin := req.Header.Get(echo.HeaderOrigin)
	if origin == "" {
		switch strings.ToLower(req.Header.Get("Sec-Fetch-Site")) {
		case "cross-site", "same-site":
			return rejected
		}
		ref := req.Header.Get("Referer")
		if ref == "" {
			return nil
		}
		u, err := url.Parse(ref)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return rejected
		}
		origin = u.Scheme + "://" + u.Host
	}
	if p.allows(c, origin) {
		return nil
	}
	return rejected
}

// allows reports whether origin is a configured one or the service's own.
func (p originPolicy) allows(c echo.Context, origin string) bool {
	if _, ok := p.allowed[strings.ToLower(origin)]; ok {
		return true
	}
	// The service's own origin: same scheme and host:port as this request.
	// Echo's Scheme honours X-Forwarded-Proto, which a cross-site page cannot
	// make the victim's browser send, so TLS-terminating proxies work.
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, c.Request().Host) && strings.EqualFold(u.Scheme, c.Scheme())
}

// IPLimiter is the per-client request budget (IPv6 clients by /64).
type IPLimiter interface {
	// Take counts a request of weight n from ip and decides it.
	Take(ip string, n int64) ratelimit.Decision
	// Limit and Window are the budget: Limit units per Window.
	Limit() int64
	Window() time.Duration
}

// hashWeight is what a request that hashes a password (or, for email
// changes, probes whether an address is taken) costs of the per-IP budget:
// with the default 600/1m one client gets 60 of them a minute, one a second,
// where a free hashing endpoint let one client occupy every hashing slot.
const hashWeight = 10

// routeWeight is the budget cost of a route.
func routeWeight(method, route string) int64 {
	switch method + " " + route {
	case "POST /auth/login", "POST /auth/register", "POST /auth/reauthenticate",
		"PUT /users/me/password", "PUT /users/me/email",
		"POST /auth/password/reset", "POST /auth/password/forgot", "POST /auth/email-code":
		return hashWeight
	}
	return 1
}

// unbudgeted are the probes of load balancers and orchestrators, which must
// keep answering whatever a client on the same address does.
var unbudgeted = map[string]bool{"/healthz": true, "/readyz": true}

// The IETF rate-limit fields (draft-ietf-httpapi-ratelimit-headers-11):
// RateLimit-Policy names the budget ("ip";q=LIMIT;w=WINDOW seconds) and
// RateLimit what is left of it ("ip";r=REMAINING;t=SECONDS until the window
// ends), both Structured Field lists of one item whose value is a String.
const (
	headerRateLimit       = "RateLimit"
	headerRateLimitPolicy = "RateLimit-Policy"
	rateLimitPolicyName   = `"ip"`
	// sessionPolicyName is GET /auth/session's per-session budget.
	sessionPolicyName = `"session"`
)

// ceilSeconds is d in whole seconds, rounded up: a client that waits that
// long never comes back early.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// rateLimit refuses requests past the client's budget with 429 and
// Retry-After, on every route but the health probes, routes that hash a
// password costing more. Every budgeted answer, refusals included, carries
// RateLimit-Policy and RateLimit, so a client can slow down before a 429.
// The IP is the one Echo's extractor trusts: the peer address, or
// X-Forwarded-For only from TRUSTED_PROXIES, so a spoofed header cannot
// dodge the limit.
func rateLimit(l IPLimiter, obs RequestObserver) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if unbudgeted[c.Request().URL.Path] || c.Path() == sessionCheckRoute {
				return next(c)
			}
			if err := spend(c, l, obs, rateLimitPolicyName, c.RealIP(), routeWeight(c.Request().Method, c.Path())); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// spend takes n units of key's budget under the policy named name, announces
// the budget and what is left of it, and refuses with 429 past it.
func spend(c echo.Context, l IPLimiter, obs RequestObserver, name, key string, n int64) error {
	d := l.Take(key, n)
	h := c.Response().Header()
	h.Set(headerRateLimitPolicy, name+";q="+strconv.FormatInt(l.Limit(), 10)+
		";w="+strconv.FormatInt(max(1, ceilSeconds(l.Window())), 10))
	h.Set(headerRateLimit, name+";r="+strconv.FormatInt(d.Remaining, 10)+
		";t="+strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if d.Allowed {
		return nil
	}
	if obs != nil {
		obs.IPThrottled()
	}
	// Retry-After is the same end of the window as t, rounded alike, as the
	// draft asks of the two together.
	return &apiError{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
		Message: "Too many requests, try again later", RetryAfter: d.Reset}
}

// sessionCheckRoute is GET /auth/session, which resource servers call for
// many users from one address: it has a budget of its own (sessionCheckAuth).
const sessionCheckRoute = "/auth/session"

// sessionKeyPrefix marks the per-session budget keys, apart from client IPs.
const sessionKeyPrefix = "session:"

// sessionCheckAuth authenticates GET /auth/session and budgets it per
// session rather than per client: a resource server in online mode asks
// about every user's session from its own address, so under the per-IP
// budget a few dozen live tokens used up its whole budget and every check
// answered 429 (503 at the resource server). A request with a valid token
// spends its session's budget (RATE_LIMIT_PER_IP's number per window,
// far above what a verifier's cache asks), which only a holder of that
// session can spend; anything else (no token, a bad, expired or revoked
// one) spends the client's per-IP budget, so the route is no free way to
// try tokens. With the limit off it is requireAuth.
func sessionCheckAuth(a Authenticator, l IPLimiter, obs RequestObserver) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			noStore(c)
			p, err := authenticate(c, a)
			if l != nil {
				name, key := rateLimitPolicyName, c.RealIP()
				if err == nil {
					name, key = sessionPolicyName, sessionKeyPrefix+p.SessionID()
				}
				if err := spend(c, l, obs, name, key, 1); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}
