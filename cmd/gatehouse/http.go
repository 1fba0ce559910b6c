package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"gorm.io/gorm"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/api/docs"
	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/ratelimit"
)

// httpModule serves every feature's routes behind the per-IP budget.
func httpModule() fx.Option {
	return fx.Module("http",
		fx.Provide(persistence.NewIPCounts, newIPLimiter),
		// Asking for the Server makes fx build it and run its lifecycle hooks.
		fx.Invoke(registerRoutes, func(*httpserver.Server) {}, scheduleRateLimitSync),
	)
}

// authRoutes are the auth interactors the routes serve.
type authRoutes struct {
	fx.In
	Registrar       *authn.Registrar
	Login           *authn.PasswordLogin
	Refresher       *authn.Refresher
	Authenticator   *authn.Authenticator
	Revoker         *authn.SessionRevoker
	Lister          *authn.SessionListing
	Reauthenticator *authn.Reauthenticator
	MFA             *authn.MFAVerifier
	Passkey         *authn.PasskeyLogin
	EmailCode       *authn.EmailCodeRequester
	EmailCodeLogin  *authn.EmailCodeLogin
}

type routeDeps struct {
	fx.In
	Cfg     config.Config
	Mail    *mailer.Templates
	Echo    *echo.Echo
	Server  *httpserver.Server
	DB      *gorm.DB
	Auth    authRoutes
	Account httpadapter.AccountInteractors
	Recover httpadapter.RecoveryInteractors
	Admin   *httpadapter.AdminInteractors
	MFA     httpadapter.FactorInteractors
	Tokens  *token.Service
	Log     *slog.Logger
	Limiter *ratelimit.Limiter
	Metrics *metrics.Metrics
	Tracer  trace.TracerProvider
	OIDC    *httpadapter.OIDCProvider
	OIDCKey providerKeys
	Fed     *httpadapter.Federation
	// Webhooks serves the operators' delivery routes (webhooks.go).
	Webhooks *httpadapter.WebhookAdmin
}

func registerRoutes(d routeDeps) {
	var example http.Handler
	if d.Cfg.ExampleApp {
		example = spa.Handler()
	}
	httpadapter.Register(d.Echo, httpadapter.Deps{
		Auth: httpadapter.AuthInteractors{
			Registrar: d.Auth.Registrar, Login: d.Auth.Login, Refresher: d.Auth.Refresher,
			Authenticator: d.Auth.Authenticator, Revoker: d.Auth.Revoker, Lister: d.Auth.Lister,
			Reauthenticator: d.Auth.Reauthenticator, MFA: d.Auth.MFA, Passkey: d.Auth.Passkey,
			EmailCode: d.Auth.EmailCode, EmailCodeLogin: d.Auth.EmailCodeLogin,
		},
		Account: d.Account, Recovery: d.Recover, Admin: d.Admin, MFA: d.MFA,
		JWKS: mergeJWKS(d.Tokens.JWKS, func() []byte { d.OIDCKey.LoadIfEmpty(); return d.OIDCKey.JWKS() }),
		OIDC: d.OIDC, Federation: d.Fed, Webhooks: d.Webhooks,
		Ready: func(ctx context.Context) error {
			if d.Server.Draining() {
				return errShuttingDown
			}
			return database.Ping(ctx, d.DB)
		},
		Docs:      docs.Handler(),
		Example:   example,
		Now:       time.Now,
		Log:       d.Log,
		IPLimiter: ipLimiterOrNil(d.Limiter),
		Metrics:   d.Metrics,
		Tracer:    d.Tracer,
	}, httpadapter.Options{
		BodyLimit:      d.Cfg.HTTP.BodyLimit,
		RequestTimeout: d.Cfg.HTTP.RequestTimeout,
		Cookie: httpadapter.CookieOptions{
			Secure: d.Cfg.Cookie.Secure, SameSite: d.Cfg.Cookie.SameSite,
			MaxAge: d.Cfg.Session.RefreshIdleTTL,
		},
		CORSAllowedOrigins: d.Cfg.HTTP.CORSAllowedOrigins,
		TrustedProxies:     d.Cfg.HTTP.TrustedProxies,
		StepUp:             stepUpPolicy(d.Cfg),
		Issuer:             d.Cfg.JWT.Issuer,
		PublicURL:          d.Cfg.Mail.PublicURL,
		JWKSMaxAge:         d.Tokens.JWKSMaxAge(),
		Locales:            d.Mail.Locales(),
	})
	d.Log.Info("gatehouse configured", slog.Any("config", d.Cfg.Redacted()))
	for _, w := range d.Cfg.Warnings() {
		d.Log.Warn(w)
	}
}

// ipLimiterSync is how often each instance adds its per-IP counts to the
// shared ones: the fleet's budget is enforced late by at most this much.
const ipLimiterSync = time.Second

func newIPLimiter(cfg config.Config, store *persistence.IPCounts) *ratelimit.Limiter {
	return ratelimit.New(cfg.RateLimit.PerIP, cfg.RateLimit.Window, store, time.Now)
}

// ipLimiterOrNil keeps the middleware out entirely when the limit is off.
func ipLimiterOrNil(l *ratelimit.Limiter) httpadapter.IPLimiter {
	if !l.Enabled() {
		return nil
	}
	return l
}

func scheduleRateLimitSync(r *scheduler.Runner, l *ratelimit.Limiter) {
	if l.Enabled() {
		r.Every("rate-limit-sync", ipLimiterSync, l.Sync)
	}
}
