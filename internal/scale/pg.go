package scale

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgWriter writes through COPY (binary), one connection per table at
// once: the fastest bulk path PostgreSQL has, with every constraint,
// foreign key and index of the migrated schema checked and maintained.
type pgWriter struct {
	pool *pgxpool.Pool
}

func openPG(ctx context.Context, url string) (*pgWriter, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("seed: database url: %w", err)
	}
	cfg.MaxConns = 4
	// A seed is one bulk load: a commit need not wait for its flush.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	return &pgWriter{pool: pool}, nil
}

func (w *pgWriter) parallel() int { return 3 }

func (w *pgWriter) close() { w.pool.Close() }

func (w *pgWriter) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := w.pool.Query(ctx,
		"SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
		table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (w *pgWriter) empty(ctx context.Context, table string) (bool, error) {
	var any bool
	err := w.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{table}.Sanitize()+")").Scan(&any)
	return !any, err
}

func (w *pgWriter) write(ctx context.Context, table string, cols []string, next func() ([]any, bool)) (int64, error) {
	return w.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		r, ok := next()
		if !ok {
			return nil, nil
		}
		return r, nil
	}))
}

// finish gathers the planner's statistics, as autovacuum would soon after
// a bulk load, and sets the visibility map, so plans and index-only scans
// are those of a table that has lived for a while.
func (w *pgWriter) finish(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	if _, err := w.pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return 0, fmt.Errorf("seed: vacuum analyze: %w", err)
	}
	return time.Since(t0), nil
}
