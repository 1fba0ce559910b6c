package logging

import (
	"log/slog"
	"os"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// Module returns the fx options that provide the application *slog.Logger,
// built from config.Config and writing to os.Stderr, and that make fx log
// its own events (provided, invoked, started, ...) through that logger at
// debug level, so they stay out of production logs unless LOG_LEVEL=debug.
// fx's own error events are debug too: a failed start is reported once, as
// one line by the command (its root cause), not as a dependency dump.
//
// Pass it to fx.New directly, not inside another fx.Module: fx scopes
// fx.WithLogger to the module it appears in, which is also why the event
// logger is not wrapped in this package's own fx.Module.
func Module() fx.Option {
	return fx.Options(
		fx.Module("logging", fx.Provide(fromConfig)),
		fx.WithLogger(eventLogger),
	)
}

// fromConfig builds the application logger from the loaded configuration.
func fromConfig(cfg config.Config) (*slog.Logger, error) {
	return New(Options{Level: cfg.Log.Level, Format: cfg.Log.Format}, os.Stderr)
}

// eventLogger adapts fx's lifecycle events to slog.
func eventLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log}
	l.UseLogLevel(slog.LevelDebug)
	l.UseErrorLevel(slog.LevelDebug)
	return l
}
