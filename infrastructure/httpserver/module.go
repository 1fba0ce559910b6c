package httpserver

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// Module provides the Echo instance and the Server, started and stopped
// with the application's lifecycle. Routes are registered by whoever
// invokes with *echo.Echo (the composition root), before the start hook.
func Module() fx.Option {
	return fx.Module("httpserver",
		fx.Provide(NewEcho, newFromConfig),
	)
}

// newFromConfig builds the Server. It takes the database without using it:
// fx runs stop hooks in the reverse order of construction, so depending on
// the database makes the server drain its in-flight requests before the
// database pool closes. Without it the order depends on which invoke
// happens to ask for what first; when the server was built first, a
// SIGTERM closed the pool under the requests being drained and answered
// them 500 "sql: database is closed" (TestGracefulShutdown).
func newFromConfig(lc fx.Lifecycle, e *echo.Echo, cfg config.Config, log *slog.Logger, _ *gorm.DB) *Server {
	s := New(e, Options{
		Addr:              cfg.HTTP.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ShutdownTimeout:   cfg.HTTP.ShutdownTimeout,
	}, log)
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}
