package persistence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// mfaChallengeRecord is a row of mfa_challenges.
type mfaChallengeRecord struct {
	TokenHash []byte       `gorm:"column:token_hash;primaryKey"`
	UserID    string       `gorm:"column:user_id"`
	CreatedAt time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt time.Time    `gorm:"column:expires_at"`
	Failures  int          `gorm:"column:failures"`
	UsedAt    sql.NullTime `gorm:"column:used_at"`
	CredVer   int64        `gorm:"column:credential_version"`
	// FirstMethods is the first factor's amr when not a password.
	FirstMethods string `gorm:"column:first_methods"`
	IdP          string `gorm:"column:idp"`
}

func (mfaChallengeRecord) TableName() string { return "mfa_challenges" }

func (r mfaChallengeRecord) toDomain() mfa.Challenge {
	c := mfa.Challenge{UserID: r.UserID, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt),
		Failures: r.Failures, UsedAt: fromDBNull(r.UsedAt), CredentialVersion: r.CredVer,
		Methods: splitMethods(r.FirstMethods), IdP: r.IdP}
	copy(c.Hash[:], r.TokenHash)
	return c
}

// MFAChallengeStore keeps logins awaiting their second factor.
type MFAChallengeStore struct{ db *gorm.DB }

var _ authn.MFAChallengeStore = (*MFAChallengeStore)(nil)

// NewMFAChallengeStore returns an MFAChallengeStore on db.
func NewMFAChallengeStore(db *gorm.DB) *MFAChallengeStore { return &MFAChallengeStore{db: db} }

// Create implements authn.MFAChallengeStore.
func (s *MFAChallengeStore) Create(ctx context.Context, c mfa.Challenge) error {
	r := mfaChallengeRecord{TokenHash: c.Hash[:], UserID: c.UserID, CreatedAt: toDB(c.CreatedAt),
		ExpiresAt: toDB(c.ExpiresAt), Failures: c.Failures, UsedAt: toDBNull(c.UsedAt), CredVer: c.CredentialVersion,
		FirstMethods: joinMethods(c.Methods), IdP: c.IdP}
	return stmtErr("create mfa challenge", conn(ctx, s.db).Create(&r))
}

// Get implements authn.MFAChallengeStore.
func (s *MFAChallengeStore) Get(ctx context.Context, hash [32]byte) (mfa.Challenge, error) {
	return takeOne("get mfa challenge", conn(ctx, s.db).Where("token_hash = ?", hash[:]), mfa.ErrCodeInvalid, mfaChallengeRecord.toDomain)
}

// Update implements authn.MFAChallengeStore; the row is locked on
// PostgreSQL, so one token cannot start two sessions.
func (s *MFAChallengeStore) Update(ctx context.Context, hash [32]byte, fn func(*mfa.Challenge) error) error {
	return updateTx(ctx, s.db, "update mfa challenge", func(db *gorm.DB, keep func(error) error) error {
		var r mfaChallengeRecord
		if err := forUpdate(db.Where("token_hash = ?", hash[:])).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return keep(mfa.ErrCodeInvalid)
			}
			return err
		}
		c := r.toDomain()
		if err := keep(fn(&c)); err != nil {
			return err
		}
		return db.Model(&mfaChallengeRecord{}).Where("token_hash = ?", hash[:]).
			Updates(map[string]any{"failures": c.Failures, "used_at": toDBNull(c.UsedAt)}).Error
	})
}

// PurgeExpired implements authn.MFAChallengeStore.
func (s *MFAChallengeStore) PurgeExpired(ctx context.Context, before time.Time) (int, error) {
	return rowCount("purge mfa challenges", conn(ctx, s.db).Where("expires_at < ?", toDB(before)).Delete(&mfaChallengeRecord{}))
}
