package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// totpRecord is a row of totp_factors. Secrets are sealed with sealbox;
// a key ID of "" means stored as is (no DATA_ENCRYPTION_KEY when written).
type totpRecord struct {
	UserID           string       `gorm:"column:user_id;primaryKey"`
	Secret           []byte       `gorm:"column:secret"`
	SecretKeyID      string       `gorm:"column:secret_key_id"`
	ConfirmedAt      sql.NullTime `gorm:"column:confirmed_at"`
	LastStep         int64        `gorm:"column:last_step"`
	Pending          []byte       `gorm:"column:pending"`
	PendingKeyID     string       `gorm:"column:pending_key_id"`
	PendingCreatedAt sql.NullTime `gorm:"column:pending_created_at"`
	UpdatedAt        time.Time    `gorm:"column:updated_at;autoUpdateTime:false"`
	// FailedCodes is read with the row; only AddFailure and ClearFailures
	// write it (Update's upsert leaves it out).
	FailedCodes int `gorm:"column:failed_codes"`
}

func (totpRecord) TableName() string { return "totp_factors" }

// TOTPStore keeps TOTP factors, their secrets encrypted at rest.
type TOTPStore struct {
	db   *gorm.DB
	keys *sealbox.Keyring
}

var _ factors.TOTPStore = (*TOTPStore)(nil)

// NewTOTPStore returns a TOTPStore on db sealing secrets with keys (the
// DATA_ENCRYPTION_KEY keyring); nil keys store new secrets as they are.
func NewTOTPStore(db *gorm.DB, keys *sealbox.Keyring) *TOTPStore {
	return &TOTPStore{db: db, keys: keys}
}

// seal seals plain bound to context; without a key it is stored as is,
// under the key ID "".
func (s *TOTPStore) seal(plain []byte, context string) ([]byte, string, error) {
	if s.keys == nil {
		return plain, "", nil
	}
	sealed, err := s.keys.Seal(plain, []byte(context))
	if err != nil {
		return nil, "", err
	}
	return []byte(sealed), s.keys.KeyID(), nil
}

// open reverses seal. A value sealed under a key this instance lacks is a
// sealbox.ErrUnknownKey, never read as plain.
func (s *TOTPStore) open(stored []byte, keyID, context string) ([]byte, error) {
	if keyID == "" {
		return stored, nil
	}
	if s.keys == nil {
		return nil, fmt.Errorf("%w (key id %s; DATA_ENCRYPTION_KEY is not set)", sealbox.ErrUnknownKey, keyID)
	}
	return s.keys.Open(string(stored), []byte(context))
}

// sealContext binds a sealed secret to its account and slot, so a value
// copied to another row (or from pending to active) does not open.
func sealContext(userID, slot string) string { return "totp:" + slot + ":" + userID }

func (s *TOTPStore) toDomain(r totpRecord) (mfa.TOTP, error) {
	t := mfa.TOTP{UserID: r.UserID, ConfirmedAt: fromDBNull(r.ConfirmedAt), LastStep: r.LastStep,
		PendingCreatedAt: fromDBNull(r.PendingCreatedAt), Failures: r.FailedCodes}
	if r.Secret != nil {
		b, err := s.open(r.Secret, r.SecretKeyID, sealContext(r.UserID, "active"))
		if err != nil {
			return mfa.TOTP{}, fmt.Errorf("persistence: totp secret of %s: %w", r.UserID, err)
		}
		t.Secret = string(b)
	}
	if r.Pending != nil {
		b, err := s.open(r.Pending, r.PendingKeyID, sealContext(r.UserID, "pending"))
		if err != nil {
			return mfa.TOTP{}, fmt.Errorf("persistence: pending totp secret of %s: %w", r.UserID, err)
		}
		t.Pending = string(b)
	}
	return t, nil
}

func (s *TOTPStore) fromDomain(t mfa.TOTP, now time.Time) (totpRecord, error) {
	r := totpRecord{UserID: t.UserID, ConfirmedAt: toDBNull(t.ConfirmedAt), LastStep: t.LastStep,
		PendingCreatedAt: toDBNull(t.PendingCreatedAt), UpdatedAt: toDB(now)}
	var err error
	if t.Secret != "" {
		if r.Secret, r.SecretKeyID, err = s.seal([]byte(t.Secret), sealContext(t.UserID, "active")); err != nil {
			return totpRecord{}, err
		}
	}
	if t.Pending != "" {
		if r.Pending, r.PendingKeyID, err = s.seal([]byte(t.Pending), sealContext(t.UserID, "pending")); err != nil {
			return totpRecord{}, err
		}
	}
	return r, nil
}

// Get implements factors.TOTPStore.
func (s *TOTPStore) Get(ctx context.Context, userID string) (mfa.TOTP, error) {
	if !id.Valid(userID) {
		return mfa.TOTP{}, mfa.ErrNotFound
	}
	return takeChecked("get totp", conn(ctx, s.db).Where("user_id = ?", userID), mfa.ErrNotFound, s.toDomain)
}

// Update implements factors.TOTPStore. On PostgreSQL the row is locked (FOR
// UPDATE), so two instances checking codes of one account serialize and
// the second sees the step the first accepted; on SQLite the transaction's
// write lock does that.
func (s *TOTPStore) Update(ctx context.Context, userID string, fn func(*mfa.TOTP) error) error {
	if !id.Valid(userID) {
		return mfa.ErrNotFound
	}
	return updateTx(ctx, s.db, "update totp", func(db *gorm.DB, keep func(error) error) error {
		var r totpRecord
		err := forUpdate(db.Where("user_id = ?", userID)).Take(&r).Error
		exists := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		t := mfa.TOTP{UserID: userID}
		if exists {
			if t, err = s.toDomain(r); err != nil {
				return err
			}
		}
		if err := keep(fn(&t)); err != nil {
			return err
		}
		t.UserID = userID
		if t.Secret == "" && t.Pending == "" {
			if !exists {
				return nil
			}
			return db.Where("user_id = ?", userID).Delete(&totpRecord{}).Error
		}
		next, err := s.fromDomain(t, time.Now())
		if err != nil {
			return err
		}
		return db.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"secret", "secret_key_id", "confirmed_at", "last_step",
				"pending", "pending_key_id", "pending_created_at", "updated_at"}),
		}).Create(&next).Error
	})
}

// AddFailure implements factors.TOTPStore: one statement that increments the
// count and returns it, so parallel failures on any number of instances
// each get a distinct count and none is lost.
func (s *TOTPStore) AddFailure(ctx context.Context, userID string) (int, error) {
	if !id.Valid(userID) {
		return 0, nil
	}
	var counts []int
	err := conn(ctx, s.db).Raw("UPDATE totp_factors SET failed_codes = failed_codes + 1 WHERE user_id = ? RETURNING failed_codes", userID).
		Scan(&counts).Error
	if err != nil {
		return 0, wrapErr("count failed code", err)
	}
	if len(counts) == 0 {
		return 0, nil
	}
	return counts[0], nil
}

// ClearFailures implements factors.TOTPStore (and the reset's port). A count
// already at zero is not written, so a success after no failure costs no
// write.
func (s *TOTPStore) ClearFailures(ctx context.Context, userID string) error {
	if !id.Valid(userID) {
		return nil
	}
	return stmtErr("clear failed codes", conn(ctx, s.db).Exec("UPDATE totp_factors SET failed_codes = 0 WHERE user_id = ? AND failed_codes <> 0", userID))
}
