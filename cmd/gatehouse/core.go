package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/metricsserver"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/internal/sealbox"
)

// coreModule is what every feature shares: the clock, the transaction,
// the accounts, sessions and security events, the password hasher, the
// login throttle's store and the metrics.
func coreModule() fx.Option {
	return fx.Module("core",
		fx.Provide(
			func() systemClock { return systemClock{} },
			persistence.NewTransactor,
			persistence.NewUserRepository,
			newSessionStore,
			newAuditLog,
			func(cfg config.Config) *sealbox.Keyring { return cfg.JWT.DataKeys },
			persistence.NewLoginThrottle,
			newHasher,
			newMetrics,
			// The metrics listener serves what the adapter renders.
			fx.Annotate((*metrics.Metrics).Handler, fx.ResultTags(`name:"`+metricsserver.HandlerName+`"`)),
		),
		fx.Invoke(scheduleAuditFlush),
	)
}

func newHasher(cfg config.Config) (*password.Hasher, error) {
	p := password.DefaultParams()
	p.MemoryKiB = cfg.Password.MemoryKiB
	p.Iterations = cfg.Password.Iterations
	p.Parallelism = cfg.Password.Parallelism
	return password.NewHasher(p, cfg.Password.MaxConcurrent)
}

// newAuditLog is the security-event log with the per-account bound of
// SECURITY_EVENT_LIMIT.
func newAuditLog(cfg config.Config, db *gorm.DB) *persistence.AuditLog {
	return persistence.NewAuditLog(db).Limit(cfg.Audit.PerUser, cfg.Audit.Window)
}

// auditFlushInterval is how often each instance writes the security events
// SECURITY_EVENT_LIMIT dropped to their accounts' markers.
const auditFlushInterval = time.Second

// scheduleAuditFlush writes the dropped-event counts every second, and a
// last time at stop, so a marker's count is never more than a second
// behind (a listing on this instance flushes that account's at once).
func scheduleAuditFlush(r *scheduler.Runner, lc fx.Lifecycle, a *persistence.AuditLog) {
	r.Every("security-event-flush", auditFlushInterval, func(ctx context.Context) error {
		_, err := a.FlushSuppressed(ctx)
		return err
	})
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		_, err := a.FlushSuppressed(ctx)
		return err
	}))
}

// everyPurge runs purge every PURGE_INTERVAL on this instance (its deletes
// are idempotent, so instances running it at once do no harm), and a run
// that deleted rows says how many at INFO with the message done.
func everyPurge(r *scheduler.Runner, cfg config.Config, log *slog.Logger, name, done string, purge func(context.Context) (int, error)) {
	r.Every(name, cfg.Session.PurgeInterval, func(ctx context.Context) error {
		n, err := purge(ctx)
		if n > 0 {
			log.Info(done, slog.Int("count", n))
		}
		return err
	})
}

// newMetrics records the service's metrics, the database pool's included.
// They are always collected (a few atomic adds per request) and exposed only
// by the METRICS_ADDR listener, never by the public one.
func newMetrics(db *gorm.DB) (*metrics.Metrics, error) {
	m, err := metrics.New()
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("metrics: database handle: %w", err)
	}
	if err := m.RegisterDB(sqlDB); err != nil {
		return nil, err
	}
	if err := m.RegisterBuildInfo(version, runtime.Version()); err != nil {
		return nil, err
	}
	return m, nil
}
