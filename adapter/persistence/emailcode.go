package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// emailCodeRecord is a row of email_codes.
type emailCodeRecord struct {
	ID                string         `gorm:"column:id;primaryKey"`
	Email             string         `gorm:"column:email"`
	UserID            sql.NullString `gorm:"column:user_id"`
	CredentialVersion int64          `gorm:"column:credential_version"`
	TokenHash         []byte         `gorm:"column:token_hash"`
	CodeSeal          []byte         `gorm:"column:code_seal"`
	Failures          int            `gorm:"column:failures"`
	CreatedAt         time.Time      `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt         time.Time      `gorm:"column:expires_at"`
}

func (emailCodeRecord) TableName() string { return "email_codes" }

func (r emailCodeRecord) toDomain() (emailcode.Pending, error) {
	p := emailcode.Pending{
		ID: r.ID, Email: r.Email, UserID: r.UserID.String, CredentialVersion: r.CredentialVersion,
		Failures: r.Failures, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt),
	}
	if len(r.TokenHash) != len(p.TokenHash) || len(r.CodeSeal) != len(p.CodeSeal) {
		return emailcode.Pending{}, fmt.Errorf("persistence: email code %s has a malformed hash", r.ID)
	}
	copy(p.TokenHash[:], r.TokenHash)
	copy(p.CodeSeal[:], r.CodeSeal)
	return p, nil
}

// EmailCodeStore keeps the pending emailed sign-in codes, one per address.
type EmailCodeStore struct{ db *gorm.DB }

var _ authn.EmailCodeStore = (*EmailCodeStore)(nil)

// NewEmailCodeStore returns an EmailCodeStore on db.
func NewEmailCodeStore(db *gorm.DB) *EmailCodeStore { return &EmailCodeStore{db: db} }

// Replace implements authn.EmailCodeStore: one statement that inserts the
// address's code or overwrites the one it had, so two instances mailing
// one address at once never leave two codes (or fail on the unique key).
func (s *EmailCodeStore) Replace(ctx context.Context, p emailcode.Pending) error {
	if !id.Valid(p.ID) {
		return fmt.Errorf("persistence: email code: invalid id %q", p.ID)
	}
	rec := emailCodeRecord{
		ID: p.ID, Email: p.Email, UserID: sql.NullString{String: p.UserID, Valid: p.UserID != ""},
		CredentialVersion: p.CredentialVersion, TokenHash: p.TokenHash[:], CodeSeal: p.CodeSeal[:],
		Failures: p.Failures, CreatedAt: toDB(p.CreatedAt), ExpiresAt: toDB(p.ExpiresAt),
	}
	return stmtErr("replace email code", conn(ctx, s.db).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "email"}},
		DoUpdates: clause.AssignmentColumns([]string{
			"id", "user_id", "credential_version", "token_hash", "code_seal", "failures", "created_at", "expires_at",
		}),
	}).Create(&rec))
}

// ByEmail implements authn.EmailCodeStore.
func (s *EmailCodeStore) ByEmail(ctx context.Context, email string) (emailcode.Pending, error) {
	return takeChecked("read email code", conn(ctx, s.db).Where("email = ?", email), emailcode.ErrCodeInvalid, emailCodeRecord.toDomain)
}

// ByToken implements authn.EmailCodeStore.
func (s *EmailCodeStore) ByToken(ctx context.Context, hash [32]byte) (emailcode.Pending, error) {
	return takeChecked("read email code", conn(ctx, s.db).Where("token_hash = ?", hash[:]), emailcode.ErrCodeInvalid,
		emailCodeRecord.toDomain)
}

// TakeByToken implements authn.EmailCodeStore: the DELETE is the one use,
// so of two transactions taking one link only one gets the row.
func (s *EmailCodeStore) TakeByToken(ctx context.Context, hash [32]byte) (emailcode.Pending, error) {
	return spendOne("take email code", conn(ctx, s.db).Where("token_hash = ?", hash[:]), emailcode.ErrCodeInvalid, emailCodeRecord.toDomain)
}

// Update implements authn.EmailCodeStore. The row is locked on PostgreSQL
// (SQLite serializes writers), so parallel guesses at one code are
// counted one after the other and one code starts one session.
func (s *EmailCodeStore) Update(ctx context.Context, email string, fn func(*emailcode.Pending) (bool, error)) error {
	return updateTx(ctx, s.db, "update email code", func(db *gorm.DB, keep func(error) error) error {
		var r emailCodeRecord
		if err := forUpdate(db.Where("email = ?", email)).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return keep(emailcode.ErrCodeInvalid)
			}
			return err
		}
		p, err := r.toDomain()
		if err != nil {
			return err
		}
		remove, err := fn(&p)
		if err != nil {
			return keep(err)
		}
		if remove {
			return db.Where("id = ?", r.ID).Delete(&emailCodeRecord{}).Error
		}
		return db.Model(&emailCodeRecord{}).Where("id = ?", r.ID).Update("failures", p.Failures).Error
	})
}

// Delete implements authn.EmailCodeStore.
func (s *EmailCodeStore) Delete(ctx context.Context, recordID string) error {
	if !id.Valid(recordID) {
		return nil
	}
	return stmtErr("delete email code", conn(ctx, s.db).Where("id = ?", recordID).Delete(&emailCodeRecord{}))
}

// PurgeExpired implements authn.EmailCodeStore.
func (s *EmailCodeStore) PurgeExpired(ctx context.Context, before time.Time) (int, error) {
	return rowCount("purge email codes", conn(ctx, s.db).Where("expires_at < ?", toDB(before)).Delete(&emailCodeRecord{}))
}
