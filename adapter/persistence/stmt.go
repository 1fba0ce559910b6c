package persistence

import (
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The outcomes of single statements, reported the one way every store
// reports them: a storage failure wrapped with the operation's name, and
// the store's own domain error where the statement found no row.

// stmtErr is the failure of the statement res ran, wrapped as op; nil when
// it succeeded.
func stmtErr(op string, res *gorm.DB) error {
	if res.Error != nil {
		return wrapErr(op, res.Error)
	}
	return nil
}

// oneRow is stmtErr for a change to one row named by its key: notFound
// when the statement matched no row.
func oneRow(op string, res *gorm.DB, notFound error) error {
	if err := stmtErr(op, res); err != nil {
		return err
	}
	if res.RowsAffected == 0 {
		return notFound
	}
	return nil
}

// rowCount is how many rows the statement res changed (what a purge
// reports), or its failure wrapped as op.
func rowCount(op string, res *gorm.DB) (int, error) {
	if err := stmtErr(op, res); err != nil {
		return 0, err
	}
	return int(res.RowsAffected), nil
}

// takeOne reads the row of R that q selects, as toDomain maps it:
// notFound when there is none, any other failure wrapped as op.
func takeOne[R, D any](op string, q *gorm.DB, notFound error, toDomain func(R) D) (D, error) {
	return takeChecked(op, q, notFound, infallible(toDomain))
}

// takeChecked is takeOne for a record whose mapping can fail (a malformed
// stored hash, a sealed secret that does not open).
func takeChecked[R, D any](op string, q *gorm.DB, notFound error, toDomain func(R) (D, error)) (D, error) {
	var r R
	if err := q.Take(&r).Error; err != nil {
		var zero D
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return zero, notFound
		}
		return zero, wrapErr(op, err)
	}
	return toDomain(r)
}

// findAll reads the rows of R that q selects, in q's order, as toDomain
// maps them; a failure wrapped as op.
func findAll[R, D any](op string, q *gorm.DB, toDomain func(R) D) ([]D, error) {
	var recs []R
	if err := q.Find(&recs).Error; err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]D, len(recs))
	for i, r := range recs {
		out[i] = toDomain(r)
	}
	return out, nil
}

// spendOne deletes the single-use row of R that q selects and maps the row
// it removed: notFound when it removed none (no such row, or another
// caller took it first), any other failure wrapped as op. It is one DELETE
// ... RETURNING, so of two callers spending one row exactly one gets it.
func spendOne[R, D any](op string, q *gorm.DB, notFound error, toDomain func(R) (D, error)) (D, error) {
	var rs []R
	var zero D
	if err := q.Clauses(clause.Returning{}).Delete(&rs).Error; err != nil {
		return zero, wrapErr(op, err)
	}
	if len(rs) == 0 {
		return zero, notFound
	}
	return toDomain(rs[0])
}

// infallible adapts a mapping that cannot fail to the helpers that take
// one that can.
func infallible[R, D any](toDomain func(R) D) func(R) (D, error) {
	return func(r R) (D, error) { return toDomain(r), nil }
}
