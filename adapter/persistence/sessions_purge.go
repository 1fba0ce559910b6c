package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// defaultPurgeBatch is PurgeExpired's batch size when the caller gives none.
const defaultPurgeBatch = 500

// PurgeExpired deletes the sessions (and, by cascade, their legacy token
// rows) that were revoked, or passed either expiry, more than retention
// before now, and returns how many it deleted.
//
// It walks the table in primary-key order, batch rows at a time (see
// sweep): each statement reads and deletes at most batch rows, so it holds
// few locks briefly, and the walk reads the table once however many rows
// it deletes. A scan for "the next batch of ended sessions" would start
// over at every batch and, on PostgreSQL, step over every row the previous
// batches deleted (dead until vacuumed): quadratic at a million sessions.
// No index can find idle-expired sessions instead: one on idle_expires_at
// would cost every rotation a non-HOT update (see migration 00004).
//
// On PostgreSQL rows locked by others are skipped (FOR UPDATE SKIP
// LOCKED): instances purging at the same time share the work instead of
// queueing on each other or on a refresh in progress.
func (s *SessionStore) PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error) {
	cutoff := toDB(now.Add(-max(retention, 0)))
	return s.sweep(ctx, batch, "purge sessions",
		"DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE id > ? AND id <= ?"+
			" AND (revoked_at < ? OR idle_expires_at < ? OR absolute_expires_at < ?)%s)",
		cutoff, cutoff, cutoff)
}

// EraseSealed implements authn.SessionPurger. A rotation stores the sealed
// successor; once the grace interval has passed nothing may open it again,
// so it goes (the next rotation overwrites it too). No index serves this
// either (one would cost every rotation its maintenance): it walks the
// table like PurgeExpired.
func (s *SessionStore) EraseSealed(ctx context.Context, before time.Time, batch int) (int, error) {
	return s.sweep(ctx, batch, "erase sealed successors",
		"UPDATE sessions SET successor_sealed = NULL WHERE id IN (SELECT id FROM sessions WHERE id > ? AND id <= ?"+
			" AND successor_sealed IS NOT NULL AND rotated_at < ?%s)",
		toDB(before))
}

// The bounds of a sweep: no version 4 UUID is the nil UUID, and every one
// sorts at or below the max UUID, as text (SQLite) and as uuid (PostgreSQL).
const (
	sweepStart = "00000000-0000-0000-0000-000000000000"
	sweepEnd   = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// sweep walks sessions in primary-key order, batch rows at a time: it finds
// the batch-th id after the last one (an index-only walk of the primary
// key) and runs query on the rows in between. query has the range's two
// bounds as its first arguments, then args, and %s where the row-lock
// clause goes. It returns the rows query affected in all.
func (s *SessionStore) sweep(ctx context.Context, batch int, op, query string, args ...any) (int, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	lock := ""
	if isPostgres(s.db) {
		lock = " FOR UPDATE SKIP LOCKED"
	} else {
		batch = min(batch, sqlitePurgeBatch)
	}
	query = fmt.Sprintf(query, lock)
	total := 0
	for lo := sweepStart; ; {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		hi, last := "", false
		err := conn(ctx, s.db).Raw("SELECT id FROM sessions WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?", lo, batch-1).Row().Scan(&hi)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			hi, last = sweepEnd, true
		case err != nil:
			return total, wrapErr(op, err)
		}
		began := time.Now()
		res := conn(ctx, s.db).Exec(query, append([]any{lo, hi}, args...)...)
		if res.Error != nil {
			return total, wrapErr(op, res.Error)
		}
		total += int(res.RowsAffected)
		if last {
			return total, nil
		}
		lo = hi
		if err := yieldWriter(ctx, s.db, began); err != nil {
			return total, err
		}
	}
}

// sqlitePurgeBatch caps a purge batch on SQLite, whose one writer runs
// every write of the instance: a batch holds it for its whole statement
// and every refresh waits behind it. At 500 sessions a batch took tens of
// milliseconds on a million-account file and the refresh p99 went from 23
// to 199 ms during the purge.
const sqlitePurgeBatch = 50

// yieldWriter gives SQLite's writer back between purge batches: it waits as
// long as the batch begun at began took, so the purge holds the writer at
// most half the time. PostgreSQL's batches lock only their rows, skip those
// a request holds, and do not wait.
func yieldWriter(ctx context.Context, db *gorm.DB, began time.Time) error {
	if isPostgres(db) {
		return ctx.Err()
	}
	t := time.NewTimer(min(time.Since(began), time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
