package persistence

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// pgxConn is what pgx's database/sql driver exposes of its connection.
type pgxConn interface{ Conn() *pgx.Conn }

// errNotPgx reports a driver connection that is not pgx's (never expected
// with the postgres dialector; the caller then uses database/sql).
var errNotPgx = errors.New("not a pgx connection")

// queryRow runs a statement that returns at most one row and scans it into
// dest, which must be pointers in the statement's column order. It
// returns sql.ErrNoRows (pgx's no-rows error wraps it) when there is none.
//
// On PostgreSQL outside a transaction the statement goes to pgx itself,
// on a connection of the same pool: on the two statements every request
// of the hot paths makes (the rotation, the access check) database/sql's
// argument conversion and reflective Scan cost more service CPU than the
// rest of the query path, while pgx decodes the binary row into the typed
// destinations directly. Everywhere else (SQLite, or inside a
// transaction, whose connection gorm holds) it is database/sql, through the
// same routing as every other statement. query uses $N placeholders.
func queryRow(ctx context.Context, db *gorm.DB, query string, args []any, dest ...any) error {
	if pool, ok := db.Statement.ConnPool.(*sql.DB); ok && isPostgres(db) {
		err := queryRowPgx(ctx, pool, query, args, dest)
		if !errors.Is(err, errNotPgx) {
			return err
		}
	}
	return db.Statement.ConnPool.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func queryRowPgx(ctx context.Context, pool *sql.DB, query string, args, dest []any) error {
	c, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	return c.Raw(func(driverConn any) error {
		pc, ok := driverConn.(pgxConn)
		if !ok {
			return errNotPgx
		}
		return pc.Conn().QueryRow(ctx, query, args...).Scan(dest...)
	})
}
