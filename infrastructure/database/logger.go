package database

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm/logger"
)

// gormLogger routes GORM's logging to slog, keeping only what an operator
// needs: slow queries at warn, as SQL text with placeholders and never the
// parameter values (they include password hashes and token hashes). Failed
// statements are not logged here: the error travels to the caller, which
// logs it once with the request ID.
type gormLogger struct {
	log  *slog.Logger
	slow time.Duration
}

var _ logger.Interface = (*gormLogger)(nil)

func newGormLogger(log *slog.Logger, slow time.Duration) *gormLogger {
	return &gormLogger{log: log.With(slog.String("component", "gorm")), slow: slow}
}

// LogMode implements logger.Interface; the level is fixed.
func (l *gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }

// Info implements logger.Interface at debug level.
func (l *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(msg, args...))
}

// Warn implements logger.Interface.
func (l *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
}

// Error implements logger.Interface.
func (l *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	// gorm.Open logs its failure and also returns it; the caller reports
	// it once (one line at start), so the log copy is dropped.
	if strings.HasPrefix(msg, "failed to initialize database") {
		return
	}
	l.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
}

// Trace implements logger.Interface: it logs statements slower than the
// threshold.
func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), _ error) {
	elapsed := time.Since(begin)
	if l.slow <= 0 || elapsed < l.slow {
		return
	}
	sql, rows := fc()
	l.log.WarnContext(ctx, "slow query",
		slog.Duration("elapsed", elapsed),
		slog.String("sql", sql),
		slog.Int64("rows", rows))
}

// ParamsFilter makes GORM render SQL without parameter values, so Trace's
// text never carries secrets.
func (l *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
