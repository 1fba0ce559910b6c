package httpadapter

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// Deps are what the HTTP layer serves.
type Deps struct {
	// Auth are the authentication interactors.
	Auth AuthInteractors
	// Account are the signed-in user's own account operations.
	Account AccountInteractors
	// Recovery runs verification and password reset.
	Recovery RecoveryInteractors
	// Admin, when not nil, serves /admin.
	Admin *AdminInteractors
	// MFA serves the second-factor routes.
	MFA FactorInteractors
	// JWKS returns the public key set document.
	JWKS func() []byte
	// Ready checks the database.
	Ready func(context.Context) error
	// Docs serves Swagger UI and the spec under /docs.
	Docs http.Handler
	// Example, when not nil, serves the example SPA under /example/.
	Example http.Handler
	Now     func() time.Time
	Log     *slog.Logger
	// IPLimiter, when not nil, budgets requests per client on every route
	// but the health probes.
	IPLimiter IPLimiter
	// Tracer, when not nil, traces every request and its use case.
	Tracer trace.TracerProvider
	// Metrics, when not nil, records every request (route, method, status,
	// duration) and per-IP throttling.
	Metrics RequestObserver
	// OIDC, when not nil, serves the OpenID provider.
	OIDC *OIDCProvider
	// Webhooks, when not nil, serves /admin/webhooks.
	Webhooks *WebhookAdmin
	// Federation, when not nil, serves sign-in through other providers.
	Federation *Federation
}

// Options are the HTTP layer's settings.
type Options struct {
	BodyLimit          int64
	RequestTimeout     time.Duration
	Cookie             CookieOptions
	CORSAllowedOrigins []string
	TrustedProxies     []netip.Prefix
	StepUp             auth.StepUpPolicy
	// Issuer is the iss of access tokens, published by the discovery document.
	Issuer string
	// PublicURL is the service's external URL (PUBLIC_URL, no trailing
	// slash): every URL the service writes is built on it.
	PublicURL string
	// JWKSMaxAge is the JWKS Cache-Control max-age; zero means no-cache.
	JWKSMaxAge time.Duration
	// Locales are the mail languages accounts may have, the default first;
	// registration picks one from Accept-Language.
	Locales []string
}

// Register installs the error handler, the middleware chain and every route
// of the contract on e.
func Register(e *echo.Echo, d Deps, o Options) {
	e.HTTPErrorHandler = ErrorHandler(d.Log)
	e.IPExtractor = ipExtractor(o.TrustedProxies)

	h := &handlers{
		auth: d.Auth, account: d.Account, recovery: d.Recovery, mfa: d.MFA, bind: newBinder(o.BodyLimit),
		cookie: o.Cookie, origins: newOriginPolicy(o.CORSAllowedOrigins),
		jwks: d.JWKS, ready: d.Ready, issuer: o.Issuer, publicURL: strings.TrimSuffix(o.PublicURL, "/"), jwksMaxAge: o.JWKSMaxAge,
		locales: newLocaleMatcher(o.Locales),
		oidc:    d.OIDC,
	}
	if d.OIDC != nil {
		h.grants = d.OIDC.Grants
	}

	// Order matters: the request ID first so everything after can log it;
	// the access log wraps the rest so it sees the final status; recover
	// inside it so a panic still gets a logged envelope.
	e.Pre(requestIDMiddleware)
	e.Use(tracingMiddleware(d.Tracer))
	e.Use(requestMetrics(e, d.Metrics))
	e.Use(accessLog(d.Log), recoverMiddleware(d.Log), securityHeaders, privateByDefault, cleanQuery, headAsGet)
	if len(o.CORSAllowedOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     o.CORSAllowedOrigins,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID},
			ExposeHeaders:    []string{echo.HeaderXRequestID, "Retry-After", headerRateLimit, headerRateLimitPolicy, echo.HeaderWWWAuthenticate},
			AllowCredentials: true,
			MaxAge:           600,
		}))
	}
	e.Use(timeoutMiddleware(o.RequestTimeout))

	authed := requireAuth(d.Auth.Authenticator)
	fresh := requireFresh(o.StepUp, d.Now)

	// Middleware is attached per route, never to a group: an Echo group
	// with middleware answers unknown methods on its paths with 404 instead
	// of 405.
	if d.IPLimiter != nil {
		e.Use(rateLimit(d.IPLimiter, d.Metrics))
	}
	a := e.Group("/auth")
	a.POST("/register", withBody(h.bind, h.register))
	a.POST("/login", withBody(h.bind, h.login))
	a.POST("/refresh", h.refresh)
	a.POST("/logout", h.logout)
	a.POST("/logout-all", h.logoutAll, authed)
	a.POST("/reauthenticate", withBody(h.bind, h.reauthenticate), authed)
	get(a, "/sessions", h.listSessions, authed)
	a.DELETE("/sessions/:id", h.revokeSession, authed)
	get(a, "/session", h.sessionState, sessionCheckAuth(d.Auth.Authenticator, d.IPLimiter, d.Metrics))
	a.POST("/email/verification", h.requestVerification, authed)
	a.POST("/email/verify", withBody(h.bind, h.verifyEmail))
	a.POST("/password/forgot", withBody(h.bind, h.forgotPassword))
	a.POST("/password/reset", withBody(h.bind, h.resetPassword))
	if d.Auth.EmailCode != nil && d.Auth.EmailCodeLogin != nil {
		a.POST("/email-code", withBody(h.bind, h.requestEmailCode))
		a.POST("/email-code/verify", withBody(h.bind, h.verifyEmailCode))
	}

	// Second factors. Changing them is declared fresh here; the use case
	// adds aal2 once the account has a factor.
	a.POST("/mfa/totp", h.enrollTOTP, authed, fresh)
	a.POST("/mfa/totp/confirm", withBody(h.bind, h.confirmTOTP), authed, fresh)
	a.DELETE("/mfa/totp", h.disableTOTP, authed, fresh)
	a.POST("/mfa/recovery-codes", h.regenerateRecoveryCodes, authed, fresh)
	a.POST("/mfa/verify", withBody(h.bind, h.verifyMFA))
	a.POST("/passkeys/registration/options", withBody(h.bind, h.passkeyRegistrationOptions), authed, fresh)
	a.POST("/passkeys/registration", withBody(h.bind, h.passkeyRegistration), authed, fresh)
	a.GET("/passkeys", h.listPasskeys, authed)
	a.DELETE("/passkeys/:id", h.deletePasskey, authed, fresh)
	a.POST("/passkeys/login/options", withBody(h.bind, h.passkeyLoginOptions))
	a.POST("/passkeys/login", withBody(h.bind, h.passkeyLogin))

	u := e.Group("/users/me")
	get(u, "", h.me, authed)
	u.PATCH("", withBody(h.bind, h.updateMe), authed)
	get(u, "/security-events", h.securityEvents, authed)
	// The sensitive operations declare the step-up rule here, once.
	u.PUT("/password", withBody(h.bind, h.changePassword), authed, fresh)
	u.PUT("/email", withBody(h.bind, h.changeEmail), authed, fresh)
	u.DELETE("", h.deleteMe, authed, fresh)

	if d.Admin != nil {
		registerAdmin(e, *d.Admin, h.grants, h.bind, authed, fresh)
	}
	if d.Webhooks != nil {
		registerWebhookAdmin(e, d.Webhooks, authed, fresh)
	}
	if d.OIDC != nil {
		registerOIDC(e, d.OIDC, h.bind, authed, fresh)
	}
	if d.Federation != nil {
		registerFederation(e, d.Federation, h, authed, fresh)
	}

	get(e, "/.well-known/jwks.json", h.jwksHandler)
	get(e, "/.well-known/openid-configuration", h.discovery)
	get(e, "/healthz", h.healthz)
	get(e, "/readyz", h.readyz)
	if d.Docs != nil {
		docs := echo.WrapHandler(d.Docs)
		get(e, "/docs", docs)
		get(e, "/docs/openapi.yaml", docs)
		get(e, "/docs/openapi.json", docs)
		get(e, "/docs/*", docs)
		get(e, "/", root)
	}
	if d.Example != nil {
		ex := echo.WrapHandler(d.Example)
		get(e, "/example", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/example/") })
		get(e, "/example/*", ex)
	}
}

// ipExtractor believes X-Forwarded-For only from trusted proxies, so a
// client cannot spoof its address past rate limits and session records.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		n := netipToIPNet(p)
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// router is what get needs of an Echo instance or group.
type router interface {
	Match(methods []string, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) []*echo.Route
}

// get declares a GET route that answers HEAD too (without a body, see
// headAsGet), as RFC 9110 asks of every GET resource.
func get(r router, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.Match([]string{http.MethodGet, http.MethodHead}, path, h, m...)
}
