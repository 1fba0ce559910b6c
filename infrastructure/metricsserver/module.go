// Package metrics runs the Prometheus listener: a separate HTTP server on
// METRICS_ADDR that serves only /metrics, so the metrics are never exposed
// on the public API listener by accident. With METRICS_ADDR empty (the
// default) nothing listens.
//
// The handler comes from the composition root, provided under the name
// HandlerName, so this package knows nothing of what is measured.
package metricsserver

import (
	"log/slog"
	"net/http"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
)

// HandlerName is the fx name under which the composition root provides the
// http.Handler that renders the metrics: `name:"metrics"`.
const HandlerName = "metrics"

// Path is where the metrics listener serves the metrics.
const Path = "/metrics"

// Module provides the *Server for config.Config's MetricsAddr and ties it to
// the application lifecycle. It requires an http.Handler named HandlerName.
func Module() fx.Option {
	return fx.Module("metrics",
		fx.Provide(fromConfig),
		// Asking for the Server makes fx build it and run its hooks.
		fx.Invoke(func(*Server) {}),
	)
}

type params struct {
	fx.In
	LC      fx.Lifecycle
	Cfg     config.Config
	Log     *slog.Logger
	Handler http.Handler `name:"metrics"`
}

func fromConfig(p params) *Server {
	if p.Cfg.MetricsAddr == "" {
		return &Server{}
	}
	s := New(p.Handler, httpserver.Options{
		Addr:              p.Cfg.MetricsAddr,
		ReadHeaderTimeout: p.Cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       p.Cfg.HTTP.ReadTimeout,
		WriteTimeout:      p.Cfg.HTTP.WriteTimeout,
		IdleTimeout:       p.Cfg.HTTP.IdleTimeout,
		ShutdownTimeout:   p.Cfg.HTTP.ShutdownTimeout,
	}, p.Log)
	p.LC.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}
