// Package logging builds the service's structured logger (log/slog) and
// routes fx's own lifecycle events through it.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Options selects the logger's level and output format.
type Options struct {
	// Level is "debug", "info", "warn" or "error" (case-insensitive);
	// "" means "info".
	Level string
	// Format is "json" or "text" (case-insensitive); "" means "json".
	Format string
}

// parseLevel maps an accepted level name to its slog level.
func parseLevel(name string) (slog.Level, bool) {
	switch name {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// New returns a logger writing to w at the configured level and format.
// An unknown level or format is an error rather than a silent default, the
// same rule the config package applies to every setting.
func New(opts Options, w io.Writer) (*slog.Logger, error) {
	level, ok := parseLevel(strings.ToLower(strings.TrimSpace(opts.Level)))
	if !ok {
		return nil, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", opts.Level)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(strings.TrimSpace(opts.Format)) {
	case "json", "":
		return slog.New(contextHandler{slog.NewJSONHandler(w, ho)}), nil
	case "text":
		return slog.New(contextHandler{slog.NewTextHandler(w, ho)}), nil
	}
	return nil, fmt.Errorf("logging: unknown format %q (want json or text)", opts.Format)
}
