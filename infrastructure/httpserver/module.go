package httpserver

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

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

func newFromConfig(lc fx.Lifecycle, e *echo.Echo, cfg config.Config, log *slog.Logger) *Server {
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
