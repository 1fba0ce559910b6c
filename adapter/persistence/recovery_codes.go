package persistence

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// recoveryCodeRecord is a row of recovery_codes.
type recoveryCodeRecord struct {
	UserID    string       `gorm:"column:user_id;primaryKey"`
	CodeHash  []byte       `gorm:"column:code_hash;primaryKey"`
	CreatedAt time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	UsedAt    sql.NullTime `gorm:"column:used_at"`
}

func (recoveryCodeRecord) TableName() string { return "recovery_codes" }

// RecoveryCodeStore keeps hashes of recovery codes.
type RecoveryCodeStore struct{ db *gorm.DB }

var _ factors.RecoveryCodeStore = (*RecoveryCodeStore)(nil)

// NewRecoveryCodeStore returns a RecoveryCodeStore on db.
func NewRecoveryCodeStore(db *gorm.DB) *RecoveryCodeStore { return &RecoveryCodeStore{db: db} }

// Replace implements factors.RecoveryCodeStore.
func (s *RecoveryCodeStore) Replace(ctx context.Context, userID string, hashes [][32]byte, now time.Time) error {
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		if err := db.Where("user_id = ?", userID).Delete(&recoveryCodeRecord{}).Error; err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		recs := make([]recoveryCodeRecord, len(hashes))
		for i, h := range hashes {
			recs[i] = recoveryCodeRecord{UserID: userID, CodeHash: append([]byte(nil), h[:]...), CreatedAt: toDB(now)}
		}
		return db.Create(&recs).Error
	})
	if err != nil {
		return wrapErr("replace recovery codes", err)
	}
	return nil
}

// Use implements factors.RecoveryCodeStore: one conditional UPDATE, so of two
// instances presenting one code at once exactly one succeeds.
func (s *RecoveryCodeStore) Use(ctx context.Context, userID string, hash [32]byte, now time.Time) (bool, error) {
	if !id.Valid(userID) {
		return false, nil
	}
	res := conn(ctx, s.db).Model(&recoveryCodeRecord{}).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hash[:]).
		Update("used_at", toDB(now))
	if res.Error != nil {
		return false, wrapErr("use recovery code", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// DeleteAll implements factors.RecoveryCodeStore.
func (s *RecoveryCodeStore) DeleteAll(ctx context.Context, userID string) error {
	return stmtErr("delete recovery codes", conn(ctx, s.db).Where("user_id = ?", userID).Delete(&recoveryCodeRecord{}))
}

// Remaining counts userID's unused recovery codes.
func (s *RecoveryCodeStore) Remaining(ctx context.Context, userID string) (int, error) {
	var n int64
	err := conn(ctx, s.db).Model(&recoveryCodeRecord{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	if err != nil {
		return 0, wrapErr("count recovery codes", err)
	}
	return int(n), nil
}
