package database

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/gorm"
)

// migrationsFS holds the versioned SQL migrations, one directory per
// dialect, with the same version numbers and tables in each.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationsFS embed.FS

// migrationLockID is the PostgreSQL advisory lock key that serialises
// migrations across instances: "Gatehsmg" in ASCII, fixed forever so that
// every version of the service agrees on it, and distinct from goose's
// default key so other goose users of the same server do not contend.
const migrationLockID int64 = 0x4761746568736d67 // "Gatehsmg"

// Migrate applies the pending embedded migrations for driver ("postgres" or
// "sqlite"). It is idempotent: with nothing pending it changes nothing.
//
// On PostgreSQL it holds a session-level advisory lock for the whole run, so
// instances starting together migrate one after the other: the first
// applies, the others find nothing pending. SQLite needs no lock: the
// single write connection and IMMEDIATE transactions serialise writers.
func Migrate(ctx context.Context, db *gorm.DB, driver string) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	p, err := newProvider(sqlDB, driver)
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	// Provider.Close would close sqlDB, which belongs to the caller: no
	// Close here.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	return nil
}

// MigrateTo applies the pending embedded migrations up to and including
// version, for tests of a migration over data written by older versions.
func MigrateTo(ctx context.Context, db *gorm.DB, driver string, version int64) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	p, err := newProvider(sqlDB, driver)
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	return nil
}

// MigrationVersion returns the version of the newest applied migration (0
// for an empty database) and of the newest embedded one.
func MigrationVersion(ctx context.Context, db *gorm.DB, driver string) (current, latest int64, err error) {
	sqlDB, err := db.DB()
	if err != nil {
		return 0, 0, fmt.Errorf("database: migration version: %w", err)
	}
	p, err := newProvider(sqlDB, driver)
	if err != nil {
		return 0, 0, fmt.Errorf("database: migration version: %w", err)
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("database: migration version: %w", err)
	}
	return current, latest, nil
}

func newProvider(sqlDB *sql.DB, driver string) (*goose.Provider, error) {
	var dialect goose.Dialect
	opts := []goose.ProviderOption{
		// Only this package's migrations, never Go migrations some other
		// package registered globally.
		goose.WithDisableGlobalRegistry(true),
		goose.WithVerbose(false),
	}
	switch driver {
	case DriverPostgres:
		dialect = goose.DialectPostgres
		opts = append(opts, goose.WithSessionLocker(advisoryLocker{id: migrationLockID}))
	case DriverSQLite:
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("unsupported driver %q", driver)
	}
	fsys, err := fs.Sub(migrationsFS, "migrations/"+driver)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, sqlDB, fsys, opts...)
}

// advisoryLocker is a goose SessionLocker on a PostgreSQL advisory lock,
// taken by polling pg_try_advisory_lock every lockPoll (and honouring ctx;
// a session lock dies with its connection).
//
// Not a blocking pg_advisory_lock: a statement waiting on it keeps its
// snapshot open, and CREATE INDEX CONCURRENTLY in the migrating instance
// waits for every older snapshot to end, so the two waited for each other
// until PostgreSQL broke the deadlock by failing one instance's start.
// A poll is a statement of microseconds, which an index build outwaits.
type advisoryLocker struct {
	id int64
}

// lockPoll is how often an instance waiting for another's migrations asks
// for the lock again.
const lockPoll = 100 * time.Millisecond

var _ lock.SessionLocker = advisoryLocker{}

// SessionLock implements lock.SessionLocker.
func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.id).Scan(&got); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if got {
			return nil
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("take migration lock: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// SessionUnlock implements lock.SessionLocker.
func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&released); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	if !released {
		return fmt.Errorf("release migration lock: not held")
	}
	return nil
}
