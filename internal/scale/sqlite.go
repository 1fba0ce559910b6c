package scale

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/database"
)

// sqliteWriter writes through the service's own SQLite connection
// (database.Open: the same driver, pragmas and time format), in multi-row
// INSERTs of a few hundred rows, many to a transaction.
type sqliteWriter struct {
	gdb *gorm.DB
	db  *sql.DB // the writer connection
}

// SQLite's limit on a statement's parameters is 32,766; a few hundred rows
// a statement is past the point where bigger statements help.
const (
	sqliteMaxParams  = 250
	sqliteRowsPerTx  = 50_000
	sqliteCacheBytes = 256 << 20
)

func openSQLite(ctx context.Context, path string) (*sqliteWriter, error) {
	gdb, err := database.Open(database.Config{Driver: database.DriverSQLite, DSN: path, MaxOpenConns: 1}, nil)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	db, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	// A bigger page cache for the load only (this connection's setting):
	// the random UUID keys touch pages all over the indexes.
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", sqliteCacheBytes>>10)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("seed: %w", err)
	}
	return &sqliteWriter{gdb: gdb, db: db}, nil
}

// parallel is one: SQLite has one writer.
func (w *sqliteWriter) parallel() int { return 1 }

func (w *sqliteWriter) close() {
	if sdb, err := w.gdb.DB(); err == nil {
		_ = sdb.Close()
	}
}

func (w *sqliteWriter) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := w.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (w *sqliteWriter) empty(ctx context.Context, table string) (bool, error) {
	var any bool
	err := w.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM "`+table+`")`).Scan(&any)
	return !any, err
}

func (w *sqliteWriter) write(ctx context.Context, table string, cols []string, next func() ([]any, bool)) (int64, error) {
	perStmt := max(sqliteMaxParams/len(cols), 1)
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	head := `INSERT INTO "` + table + `" (` + strings.Join(cols, ", ") + ") VALUES "
	full := head + strings.TrimSuffix(strings.Repeat(one+",", perStmt), ",")
	var (
		total int64
		tx    *sql.Tx
		stmt  *sql.Stmt
		args  = make([]any, 0, perStmt*len(cols))
		inTx  int
	)
	flush := func(rows int) error {
		if rows == 0 {
			return nil
		}
		var err error
		if tx == nil {
			if tx, err = w.db.BeginTx(ctx, nil); err != nil {
				return err
			}
			if stmt, err = tx.PrepareContext(ctx, full); err != nil {
				return err
			}
		}
		if rows == perStmt {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, head+strings.TrimSuffix(strings.Repeat(one+",", rows), ","), args...)
		}
		if err != nil {
			return err
		}
		total += int64(rows)
		inTx += rows
		args = args[:0]
		if inTx >= sqliteRowsPerTx {
			inTx = 0
			_ = stmt.Close()
			stmt = nil
			t := tx
			tx = nil
			return t.Commit()
		}
		return nil
	}
	rows := 0
	var err error
	for {
		r, ok := next()
		if !ok {
			break
		}
		args = append(args, r...)
		if rows++; rows == perStmt {
			if err = flush(rows); err != nil {
				break
			}
			rows = 0
		}
	}
	if err == nil {
		err = flush(rows)
	}
	if tx != nil {
		if stmt != nil {
			_ = stmt.Close()
		}
		if err != nil {
			_ = tx.Rollback()
			return total, err
		}
		err = tx.Commit()
	}
	return total, err
}

// finish leaves SQLite's statistics alone: the service never runs ANALYZE,
// so the fixture plans as an operator's database does. It checkpoints the
// WAL into the file.
func (w *sqliteWriter) finish(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	if _, err := w.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return 0, fmt.Errorf("seed: checkpoint: %w", err)
	}
	return time.Since(t0), nil
}
