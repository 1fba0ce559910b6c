package database

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"strings"

	"gorm.io/gorm"
)

// routedPool is the connection pool GORM sees on a SQLite file: one writer
// connection and a pool of read-only ones. It routes by what a statement
// is, not by who sends it, so repositories stay as they are:
//
//   - transactions begin on the writer (BEGIN IMMEDIATE), and everything
//     inside them runs there, since GORM sends a transaction's statements
//     to its *sql.Tx, not to this pool;
//   - statements outside a transaction go to the readers when they are a
//     plain SELECT, and to the writer otherwise (INSERT ... RETURNING,
//     UPDATE, PRAGMA, WITH, anything unrecognised).
//
// A read-only transaction (sql.TxOptions.ReadOnly) begins on a reader: a
// consistent snapshot that does not hold the writer.
type routedPool struct {
	writer  *sql.DB
	readers *sql.DB
}

var (
	_ gorm.ConnPool       = (*routedPool)(nil)
	_ gorm.TxBeginner     = (*routedPool)(nil)
	_ gorm.GetDBConnector = (*routedPool)(nil)
)

func (p *routedPool) pick(query string) *sql.DB {
	if readOnly(query) {
		return p.readers
	}
	return p.writer
}

// PrepareContext prepares query on the pool that would run it.
func (p *routedPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.pick(query).PrepareContext(ctx, query)
}

// ExecContext runs query on the pool that would run it: the writer, unless
// it is a SELECT whose result is thrown away.
func (p *routedPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.pick(query).ExecContext(ctx, query, args...)
}

// QueryContext runs a SELECT on a reader, anything else on the writer.
func (p *routedPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.pick(query).QueryContext(ctx, query, args...)
}

// QueryRowContext runs a SELECT on a reader, anything else on the writer.
func (p *routedPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.pick(query).QueryRowContext(ctx, query, args...)
}

// BeginTx begins a transaction on the writer, or on a reader when it is
// read-only.
func (p *routedPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if opts != nil && opts.ReadOnly {
		return p.readers.BeginTx(ctx, opts)
	}
	return p.writer.BeginTx(ctx, opts)
}

// GetDBConn returns the writer, for what needs a *sql.DB: migrations,
// readiness pings and the pool metrics.
func (p *routedPool) GetDBConn() (*sql.DB, error) { return p.writer, nil }

// Close closes both pools.
func (p *routedPool) Close() error {
	return errors.Join(p.readers.Close(), p.writer.Close())
}

// sqliteReaders is the size of the read pool: maxOpen when set, but at
// most four connections per CPU. Reads are CPU-bound in-process work, so
// beyond that more connections only add page caches (up to 2 MiB each).
func sqliteReaders(maxOpen int) int {
	limit := 4 * runtime.GOMAXPROCS(0)
	if maxOpen <= 0 || maxOpen > limit {
		return limit
	}
	return maxOpen
}

// readOnly tells whether a statement outside a transaction may run on a
// reader: it starts, after blanks and comments, with the keyword SELECT.
// The test is narrow on purpose. WITH may wrap an UPDATE, and a statement
// it does not recognise goes to the writer, where everything is correct,
// only serialized. A write that slipped through would fail on the reader
// (query_only), not race the writer.
func readOnly(query string) bool {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n\f")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q[2:], "*/")
			if i < 0 {
				return false
			}
			q = q[i+4:]
		default:
			const kw = "select"
			if len(q) < len(kw) || !strings.EqualFold(q[:len(kw)], kw) {
				return false
			}
			return len(q) == len(kw) || !isIdentByte(q[len(kw)])
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
