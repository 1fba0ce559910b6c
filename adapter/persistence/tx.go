// Package persistence implements the use-case storage ports on GORM, for
// PostgreSQL and SQLite: accounts, sessions with their refresh-token
// families, security events and signing keys.
//
// Storage records are unexported types mapped explicitly to and from the
// domain; driver and GORM errors are translated to the domain's sentinel
// errors here (not found, email taken, concurrent change), and anything else
// is returned wrapped with the operation's name. Times are stored in UTC,
// truncated to microseconds (PostgreSQL's precision), so what is written
// reads back equal.
package persistence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// txKey is the context key under which WithinTx stores the transaction.
type txKey struct{}

// Transactor runs functions in a database transaction. Repositories called
// with the context it passes take part in that transaction.
type Transactor struct {
	db *gorm.DB
}

var (
	_ authn.Transactor   = (*Transactor)(nil)
	_ account.Transactor = (*Transactor)(nil)
)

// NewTransactor returns a Transactor on db.
func NewTransactor(db *gorm.DB) *Transactor { return &Transactor{db: db} }

// WithinTx runs fn in one transaction: committed if fn returns nil, rolled
// back if it returns an error or panics. A nested WithinTx (ctx already
// carries a transaction) joins the outer one, so an interactor can call
// helpers that open their own without splitting its unit of work.
//
// Inside fn, always pass fn's ctx on: on SQLite the transaction holds the
// only write connection, so a write made with another context would wait
// for it forever, and a read made with another context would run on a
// reader that does not see the transaction's own writes.
func (t *Transactor) WithinTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := txFrom(ctx); ok {
		return fn(ctx)
	}
	err := t.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	// BEGIN and COMMIT fail outside fn, with the driver's own errors; a
	// database that went away must still read as unavailable (503).
	var dbe *dbError
	if err != nil && !errors.As(err, &dbe) && isUnavailable(err) {
		return wrapErr("transaction", err)
	}
	return err
}

// txFrom returns the transaction stored in ctx by WithinTx.
func txFrom(ctx context.Context) (*gorm.DB, bool) {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	return tx, ok
}

// conn returns the handle every repository query goes through: the
// caller's transaction when ctx carries one, else the pool.
func conn(ctx context.Context, pool *gorm.DB) *gorm.DB {
	if tx, ok := txFrom(ctx); ok {
		return tx.WithContext(ctx)
	}
	return pool.WithContext(ctx)
}

// rawConn is conn for the hand-run statements of the hot paths, which read
// only the handle's pool (or transaction), dialect and logger and pass ctx
// themselves: it skips the per-call gorm session, a copy of its statement.
func rawConn(ctx context.Context, pool *gorm.DB) *gorm.DB {
	if tx, ok := txFrom(ctx); ok {
		return tx
	}
	return pool
}

// inTx runs fn on the caller's transaction, or on a new one when there is
// none, for operations made of several statements that must apply together.
func inTx(ctx context.Context, pool *gorm.DB, fn func(db *gorm.DB) error) error {
	if tx, ok := txFrom(ctx); ok {
		return fn(tx.WithContext(ctx))
	}
	return pool.WithContext(ctx).Transaction(fn)
}

// isPostgres tells the dialects apart where their SQL differs (row locks).
func isPostgres(db *gorm.DB) bool { return db.Dialector.Name() == "postgres" }

// forUpdate makes q lock the rows it reads (FOR UPDATE) on PostgreSQL, so
// writers of one row serialize. SQLite needs no clause: its transaction
// holds the database's one write lock.
func forUpdate(q *gorm.DB) *gorm.DB {
	if isPostgres(q) {
		return q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	return q
}

// updateTx runs a read-modify-write fn in inTx. fn passes the caller's own
// verdicts (its callback's error, a domain error) through keep, and those
// come back as they are; so does a storage error already wrapped; any
// other failure is wrapped as op.
func updateTx(ctx context.Context, pool *gorm.DB, op string, fn func(db *gorm.DB, keep func(error) error) error) error {
	var kept error
	keep := func(err error) error {
		kept = err
		return err
	}
	err := inTx(ctx, pool, func(db *gorm.DB) error { return fn(db, keep) })
	if kept != nil {
		return kept
	}
	var dbe *dbError
	if err == nil || errors.As(err, &dbe) {
		return err
	}
	return wrapErr(op, err)
}

// toDB prepares a time for storage: UTC, microsecond precision.
func toDB(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// toDBNull stores the zero time as NULL.
func toDBNull(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: toDB(t), Valid: true}
}

// fromDB returns a stored time in UTC (pgx reads them in time.Local).
func fromDB(t time.Time) time.Time { return t.UTC() }

// fromDBNull reads NULL as the zero time.
func fromDBNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// withTx is ctx carrying db as its transaction, for calls made from inside
// inTx to methods that take a context.
func withTx(ctx context.Context, db *gorm.DB) context.Context {
	return context.WithValue(ctx, txKey{}, db)
}
