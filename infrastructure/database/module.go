package database

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/tracing"
)

// Module provides the *gorm.DB opened from config.Config, with pending
// migrations applied when Database.MigrateOnStart is set; on stop it closes
// the pool. Migrating while the value is built (not in a start hook) means
// every constructor that reads the database, such as the signing-key
// loader, sees the current schema.
func Module() fx.Option {
	return fx.Module("database", fx.Provide(fromConfig))
}

// migrateTimeout bounds migrations at start, including the wait for another
// instance's migration lock.
const migrateTimeout = 5 * time.Minute

// fromConfig opens the database and ties it to the application lifecycle.
// tracerIn takes the tracer provider when the graph has one (tracing.Module).
type tracerIn struct {
	fx.In
	Tracer trace.TracerProvider `optional:"true"`
}

func fromConfig(lc fx.Lifecycle, cfg config.Config, log *slog.Logger, tr tracerIn) (*gorm.DB, error) {
	dc := cfg.Database
	db, err := Open(Config{
		Driver:          dc.Driver,
		DSN:             dc.DSN,
		MaxOpenConns:    dc.MaxOpenConns,
		MaxIdleConns:    dc.MaxIdleConns,
		ConnMaxLifetime: dc.ConnMaxLifetime,
	}, log)
	if err != nil {
		return nil, err
	}
	if tr.Tracer != nil {
		if err := tracing.InstrumentGorm(db, tr.Tracer, dc.Driver); err != nil {
			_ = Close(db)
			return nil, err
		}
	}
	if dc.MigrateOnStart {
		ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
		defer cancel()
		if err := Migrate(ctx, db, dc.Driver); err != nil {
			_ = Close(db)
			return nil, err
		}
		if current, _, err := MigrationVersion(ctx, db, dc.Driver); err == nil {
			log.Info("database migrated", slog.Int64("version", current))
		}
	}
	lc.Append(fx.Hook{
		OnStop: func(context.Context) error {
			return Close(db)
		},
	})
	return db, nil
}
