package scheduler

import (
	"log/slog"

	"go.uber.org/fx"
)

// Module provides a Runner whose jobs stop with the application.
func Module() fx.Option {
	return fx.Module("scheduler", fx.Provide(func(lc fx.Lifecycle, log *slog.Logger) *Runner {
		r := New(log)
		lc.Append(fx.Hook{OnStop: r.Stop})
		return r
	}))
}
