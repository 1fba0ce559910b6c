package persistence

import (
	"context"

	"gorm.io/gorm"
)

// claimRows is the claim of both outboxes (mail and webhooks), one
// statement: it leases the rows of table whose key column pick selects
// (the due, unclaimed ones, up to its LIMIT) until leaseEnd, counts an
// attempt on each, and returns their columns returning; args are pick's.
// The claim commits at once, so it holds while the item is sent outside
// any transaction.
//
// On PostgreSQL the picked rows are locked FOR UPDATE SKIP LOCKED, so
// instances claiming at once take different rows instead of waiting on
// each other; on SQLite the one writer serializes claims anyway.
func claimRows[R any](ctx context.Context, db *gorm.DB, op, table, key, pick, returning string, leaseEnd int64, args ...any) ([]R, error) {
	lock := ""
	if isPostgres(db) {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var recs []R
	err := conn(ctx, db).Raw("UPDATE "+table+" SET locked_until = ?, attempts = attempts + 1 WHERE "+key+" IN ("+pick+lock+") RETURNING "+returning,
		append([]any{leaseEnd}, args...)...).Scan(&recs).Error
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return recs, nil
}
