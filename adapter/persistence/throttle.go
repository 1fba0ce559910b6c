package persistence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// throttleRecord is a row of login_throttle.
type throttleRecord struct {
	Key         string       `gorm:"column:key;primaryKey"`
	Failures    int          `gorm:"column:failures"`
	WindowStart time.Time    `gorm:"column:window_start"`
	LastFailure time.Time    `gorm:"column:last_failure"`
	LockedUntil sql.NullTime `gorm:"column:locked_until"`
}

func (throttleRecord) TableName() string { return "login_throttle" }

// LoginThrottle stores per-account throttle state.
type LoginThrottle struct {
	db *gorm.DB
}

var (
	_ authn.LoginThrottle = (*LoginThrottle)(nil)
	_ account.Throttle    = (*LoginThrottle)(nil)
)

// NewLoginThrottle returns a LoginThrottle on db.
func NewLoginThrottle(db *gorm.DB) *LoginThrottle { return &LoginThrottle{db: db} }

// The throttle's statements, run straight on the connection: every
// password attempt makes two of them per key, and gorm's statement
// building cost more than the statements themselves. SQLite reads $N as
// named parameters, bound by position.
const (
	// throttleLockPostgres makes sure the key has a row and locks it, in one
	// statement: a new key gets a zero row (no state); an existing one is
	// updated to itself, which takes the row's lock and returns what it
	// holds. Without a row to lock, two first failures of a key would both
	// read "no failures" and the burst would be under-counted.
	throttleLockPostgres = `INSERT INTO login_throttle (key, failures, window_start, last_failure)
VALUES ($1, 0, $2, $2) ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures
RETURNING failures, window_start, last_failure, locked_until`
	// throttleRead is SQLite's read, inside the transaction whose write
	// lock already serializes the writers.
	throttleRead = `SELECT failures, window_start, last_failure, locked_until FROM login_throttle WHERE key = $1`
	// throttleWrite is an upsert, since on SQLite there may be no row yet.
	throttleWrite = `INSERT INTO login_throttle (key, failures, window_start, last_failure, locked_until)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
window_start = excluded.window_start, last_failure = excluded.last_failure, locked_until = excluded.locked_until`
	throttleDelete = `DELETE FROM login_throttle WHERE key = $1`
)

// Update implements authn.LoginThrottle. On PostgreSQL the row is created if
// missing and locked in one statement, so concurrent attempts on one key
// serialize; on SQLite the transaction's write lock does that. A state
// fn leaves empty deletes the row.
func (l *LoginThrottle) Update(ctx context.Context, key string, fn func(*throttle.State) error) error {
	err := inTx(ctx, l.db, func(db *gorm.DB) error {
		pool := db.Statement.ConnPool
		var rec throttleRecord
		var err error
		if isPostgres(db) {
			now := toDB(time.Now())
			err = pool.QueryRowContext(ctx, throttleLockPostgres, key, now).
				Scan(&rec.Failures, &rec.WindowStart, &rec.LastFailure, &rec.LockedUntil)
		} else {
			err = pool.QueryRowContext(ctx, throttleRead, key).
				Scan(&rec.Failures, &rec.WindowStart, &rec.LastFailure, &rec.LockedUntil)
		}
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		st := throttle.State{}
		if exists && (rec.Failures > 0 || rec.LockedUntil.Valid) {
			st = throttle.State{
				Failures: rec.Failures, WindowStart: fromDB(rec.WindowStart),
				LastFailure: fromDB(rec.LastFailure), LockedUntil: fromDBNull(rec.LockedUntil),
			}
		}
		if err := fn(&st); err != nil {
			return err
		}
		if st == (throttle.State{}) {
			if !exists {
				return nil
			}
			_, err := pool.ExecContext(ctx, throttleDelete, key)
			return err
		}
		_, err = pool.ExecContext(ctx, throttleWrite, key, st.Failures, toDB(st.WindowStart),
			toDB(st.LastFailure), toDBNull(st.LockedUntil))
		return err
	})
	var limited *throttle.LimitedError
	if err != nil && !errors.As(err, &limited) {
		return wrapErr("login throttle", err)
	}
	return err
}

// PurgeStale implements authn.LoginThrottle.
func (l *LoginThrottle) PurgeStale(ctx context.Context, before time.Time) (int, error) {
	return rowCount("purge login throttle", conn(ctx, l.db).
		Where("last_failure < ? AND (locked_until IS NULL OR locked_until < ?)", toDB(before), toDB(before)).Delete(&throttleRecord{}))
}
