package persistence

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// passkeyRecord is a row of passkeys.
type passkeyRecord struct {
	ID           string       `gorm:"column:id;primaryKey"`
	UserID       string       `gorm:"column:user_id"`
	Name         string       `gorm:"column:name"`
	CredentialID []byte       `gorm:"column:credential_id"`
	Credential   []byte       `gorm:"column:credential"`
	CreatedAt    time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	LastUsedAt   sql.NullTime `gorm:"column:last_used_at"`
}

func (passkeyRecord) TableName() string { return "passkeys" }

func (r passkeyRecord) toDomain() mfa.Passkey {
	return mfa.Passkey{ID: r.ID, UserID: r.UserID, Name: r.Name, CredentialID: r.CredentialID,
		Credential: r.Credential, CreatedAt: fromDB(r.CreatedAt), LastUsedAt: fromDBNull(r.LastUsedAt)}
}

// Constraint names of passkeys, for telling a duplicate credential apart.
const (
	pgPasskeyCredentialKey     = "passkeys_credential_id_key"
	sqlitePasskeyCredentialKey = "passkeys.credential_id"
)

// PasskeyStore keeps passkeys.
type PasskeyStore struct{ db *gorm.DB }

var _ factors.PasskeyStore = (*PasskeyStore)(nil)

// NewPasskeyStore returns a PasskeyStore on db.
func NewPasskeyStore(db *gorm.DB) *PasskeyStore { return &PasskeyStore{db: db} }

// Create implements factors.PasskeyStore.
func (s *PasskeyStore) Create(ctx context.Context, p mfa.Passkey) error {
	r := passkeyRecord{ID: p.ID, UserID: p.UserID, Name: p.Name, CredentialID: p.CredentialID,
		Credential: p.Credential, CreatedAt: toDB(p.CreatedAt), LastUsedAt: toDBNull(p.LastUsedAt)}
	res := conn(ctx, s.db).Create(&r)
	if isUniqueViolation(res.Error, pgPasskeyCredentialKey, sqlitePasskeyCredentialKey) {
		return mfa.ErrPasskeyInvalid
	}
	return stmtErr("create passkey", res)
}

// ListByUser implements factors.PasskeyStore.
func (s *PasskeyStore) ListByUser(ctx context.Context, userID string) ([]mfa.Passkey, error) {
	if !id.Valid(userID) {
		return nil, nil
	}
	return findAll("list passkeys", conn(ctx, s.db).Where("user_id = ?", userID).Order("created_at, id"), passkeyRecord.toDomain)
}

// ByCredentialID implements factors.PasskeyStore.
func (s *PasskeyStore) ByCredentialID(ctx context.Context, credentialID []byte) (mfa.Passkey, error) {
	return takeOne("get passkey", conn(ctx, s.db).Where("credential_id = ?", credentialID), mfa.ErrNotFound, passkeyRecord.toDomain)
}

// Update implements factors.PasskeyStore.
func (s *PasskeyStore) Update(ctx context.Context, p mfa.Passkey) error {
	res := conn(ctx, s.db).Model(&passkeyRecord{}).Where("id = ?", p.ID).
		Updates(map[string]any{"credential": p.Credential, "last_used_at": toDBNull(p.LastUsedAt)})
	return oneRow("update passkey", res, mfa.ErrNotFound)
}

// Delete implements factors.PasskeyStore.
func (s *PasskeyStore) Delete(ctx context.Context, userID, passkeyID string) error {
	if !id.Valid(passkeyID) || !id.Valid(userID) {
		return mfa.ErrNotFound
	}
	return oneRow("delete passkey", conn(ctx, s.db).Where("id = ? AND user_id = ?", passkeyID, userID).Delete(&passkeyRecord{}), mfa.ErrNotFound)
}
