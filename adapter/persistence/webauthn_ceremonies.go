package persistence

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// ceremonyRecord is a row of webauthn_challenges.
type ceremonyRecord struct {
	ID          string         `gorm:"column:id;primaryKey"`
	UserID      sql.NullString `gorm:"column:user_id"`
	Purpose     string         `gorm:"column:purpose"`
	Name        string         `gorm:"column:name"`
	SessionData []byte         `gorm:"column:session_data"`
	CreatedAt   time.Time      `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt   time.Time      `gorm:"column:expires_at"`
}

func (ceremonyRecord) TableName() string { return "webauthn_challenges" }

func (r ceremonyRecord) toDomain() factors.Ceremony {
	return factors.Ceremony{ID: r.ID, UserID: r.UserID.String, Purpose: r.Purpose, Name: r.Name,
		State: r.SessionData, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt)}
}

// CeremonyStore keeps WebAuthn ceremonies in progress, so one begun on one
// instance can be finished on another.
type CeremonyStore struct{ db *gorm.DB }

var _ factors.CeremonyStore = (*CeremonyStore)(nil)

// NewCeremonyStore returns a CeremonyStore on db.
func NewCeremonyStore(db *gorm.DB) *CeremonyStore { return &CeremonyStore{db: db} }

// Create implements factors.CeremonyStore.
func (s *CeremonyStore) Create(ctx context.Context, c factors.Ceremony) error {
	r := ceremonyRecord{ID: c.ID, UserID: sql.NullString{String: c.UserID, Valid: c.UserID != ""}, Purpose: c.Purpose,
		Name: c.Name, SessionData: c.State, CreatedAt: toDB(c.CreatedAt), ExpiresAt: toDB(c.ExpiresAt)}
	return stmtErr("create webauthn ceremony", conn(ctx, s.db).Create(&r))
}

// Take implements factors.CeremonyStore. The row is deleted by the statement
// that reads it (DELETE ... RETURNING, which both engines have), so of two
// instances finishing one ceremony at once exactly one gets it.
func (s *CeremonyStore) Take(ctx context.Context, ceremonyID, purpose string) (factors.Ceremony, error) {
	recs, err := s.take(ctx, "id", ceremonyID, purpose)
	if err != nil {
		return factors.Ceremony{}, err
	}
	// One at most: id is the key.
	return recs[0].toDomain(), nil
}

// take deletes the ceremonies of purpose whose column keyCol (id or
// user_id) is key and returns them; mfa.ErrPasskeyInvalid when there are
// none.
func (s *CeremonyStore) take(ctx context.Context, keyCol, key, purpose string) ([]ceremonyRecord, error) {
	if !id.Valid(key) {
		return nil, mfa.ErrPasskeyInvalid
	}
	var recs []ceremonyRecord
	err := conn(ctx, s.db).Clauses(clause.Returning{}).Where(keyCol+" = ? AND purpose = ?", key, purpose).Delete(&recs).Error
	if err != nil {
		return nil, wrapErr("take webauthn ceremony", err)
	}
	if len(recs) == 0 {
		return nil, mfa.ErrPasskeyInvalid
	}
	return recs, nil
}

// TakeForUser implements factors.CeremonyStore.
func (s *CeremonyStore) TakeForUser(ctx context.Context, userID, purpose string) (factors.Ceremony, error) {
	recs, err := s.take(ctx, "user_id", userID, purpose)
	if err != nil {
		return factors.Ceremony{}, err
	}
	newest := recs[0]
	for _, r := range recs[1:] {
		if r.CreatedAt.After(newest.CreatedAt) {
			newest = r
		}
	}
	return newest.toDomain(), nil
}

// PurgeExpired deletes ceremonies that expired before before.
func (s *CeremonyStore) PurgeExpired(ctx context.Context, before time.Time) (int, error) {
	return rowCount("purge webauthn ceremonies", conn(ctx, s.db).Where("expires_at < ?", toDB(before)).Delete(&ceremonyRecord{}))
}
