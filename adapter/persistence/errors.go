package persistence

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Constraint names from the migrations, as PostgreSQL reports them, and the
// column lists SQLite names in its messages instead.
const (
	pgUsersEmailKey        = "users_email_key"
	sqliteUsersEmailKey    = "users.email"
	pgTokenGenerationKey   = "refresh_tokens_session_generation_key"
	sqliteTokenGeneration  = "refresh_tokens.session_id, refresh_tokens.generation"
	pgTokenPrimaryKey      = "refresh_tokens_pkey"
	sqliteTokenPrimaryKey  = "refresh_tokens.token_hash"
	pgSessionsUserFK       = "sessions_user_id_fkey"
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	sqliteConstraintUnique = 2067 // SQLITE_CONSTRAINT_UNIQUE
	sqliteConstraintPK     = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintFK     = 787  // SQLITE_CONSTRAINT_FOREIGNKEY
)

// sqliteError is the part of the SQLite driver's error type we rely on,
// matched by behaviour so this package does not link the driver.
type sqliteError interface {
	error
	Code() int
}

// isUniqueViolation reports whether err is a unique-constraint violation of
// the named constraint: pgName on PostgreSQL, or sqliteCols (the
// "table.column" list SQLite puts in its message, its only way of naming
// the constraint) on SQLite.
func isUniqueViolation(err error, pgName, sqliteCols string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgUniqueViolation && pgErr.ConstraintName == pgName
	}
	var sqlErr sqliteError
	if errors.As(err, &sqlErr) {
		code := sqlErr.Code()
		return (code == sqliteConstraintUnique || code == sqliteConstraintPK) &&
			strings.HasSuffix(strings.TrimSpace(stripCode(sqlErr.Error())), sqliteCols)
	}
	return false
}

// isForeignKeyViolation reports whether err violates a foreign key: the
// named one on PostgreSQL, any on SQLite (which does not say which).
func isForeignKeyViolation(err error, pgName string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgForeignKeyViolation && pgErr.ConstraintName == pgName
	}
	var sqlErr sqliteError
	return errors.As(err, &sqlErr) && sqlErr.Code() == sqliteConstraintFK
}

// stripCode removes the " (2067)" the SQLite driver appends to messages.
func stripCode(msg string) string {
	if i := strings.LastIndex(msg, " ("); i >= 0 && strings.HasSuffix(msg, ")") {
		return msg[:i]
	}
	return msg
}

// dbError is a storage failure that is not a domain condition. Its message
// stays in the logs; Unavailable tells the HTTP layer whether the database
// could not be reached (503, retry) rather than something being wrong (500).
type dbError struct {
	op  string
	err error
}

func (e *dbError) Error() string { return "persistence: " + e.op + ": " + e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// Unavailable reports whether the failure means the database is unreachable,
// restarting, overloaded or busy: conditions a client may retry.
func (e *dbError) Unavailable() bool { return isUnavailable(e.err) }

// wrapErr wraps a storage failure of operation op.
func wrapErr(op string, err error) error {
	return &dbError{op: op, err: err}
}

// sqliteBusy is SQLITE_BUSY: another connection holds the write lock past
// the busy timeout.
const sqliteBusy = 5

func isUnavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	// pgx reports a statement or COMMIT on a connection it has already
	// closed (the server went away during an earlier statement of the
	// transaction) as ErrConnClosed, not as a network error.
	if errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-03: shutdown or starting up;
		// 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var sqlErr sqliteError
	if errors.As(err, &sqlErr) {
		return sqlErr.Code()&0xff == sqliteBusy
	}
	return false
}
