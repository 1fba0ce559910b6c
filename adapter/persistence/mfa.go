package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/auth"
	mfauc "github.com/gatehouse/gatehouse/usecase/mfa"
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

var _ mfauc.TOTPStore = (*TOTPStore)(nil)

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

// Get implements mfa.TOTPStore.
func (s *TOTPStore) Get(ctx context.Context, userID string) (mfa.TOTP, error) {
	if !id.Valid(userID) {
		return mfa.TOTP{}, mfa.ErrNotFound
	}
	var r totpRecord
	err := conn(ctx, s.db).Where("user_id = ?", userID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return mfa.TOTP{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.TOTP{}, wrapErr("get totp", err)
	}
	return s.toDomain(r)
}

// Update implements mfa.TOTPStore. On PostgreSQL the row is locked (FOR
// UPDATE), so two instances checking codes of one account serialize and
// the second sees the step the first accepted; on SQLite the transaction's
// write lock does that.
func (s *TOTPStore) Update(ctx context.Context, userID string, fn func(*mfa.TOTP) error) error {
	if !id.Valid(userID) {
		return mfa.ErrNotFound
	}
	var fnErr error
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		var r totpRecord
		q := db.Where("user_id = ?", userID)
		if isPostgres(db) {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		err := q.Take(&r).Error
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
		if fnErr = fn(&t); fnErr != nil {
			return fnErr
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
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		var dbe *dbError
		if errors.As(err, &dbe) {
			return err
		}
		return wrapErr("update totp", err)
	}
	return nil
}

// AddFailure implements mfa.TOTPStore: one statement that increments the
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

// ClearFailures implements mfa.TOTPStore (and the reset's port). A count
// already at zero is not written, so a success after no failure costs no
// write.
func (s *TOTPStore) ClearFailures(ctx context.Context, userID string) error {
	if !id.Valid(userID) {
		return nil
	}
	err := conn(ctx, s.db).Exec("UPDATE totp_factors SET failed_codes = 0 WHERE user_id = ? AND failed_codes <> 0", userID).Error
	if err != nil {
		return wrapErr("clear failed codes", err)
	}
	return nil
}

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

var _ mfauc.RecoveryCodeStore = (*RecoveryCodeStore)(nil)

// NewRecoveryCodeStore returns a RecoveryCodeStore on db.
func NewRecoveryCodeStore(db *gorm.DB) *RecoveryCodeStore { return &RecoveryCodeStore{db: db} }

// Replace implements mfa.RecoveryCodeStore.
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

// Use implements mfa.RecoveryCodeStore: one conditional UPDATE, so of two
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

// DeleteAll implements mfa.RecoveryCodeStore.
func (s *RecoveryCodeStore) DeleteAll(ctx context.Context, userID string) error {
	if err := conn(ctx, s.db).Where("user_id = ?", userID).Delete(&recoveryCodeRecord{}).Error; err != nil {
		return wrapErr("delete recovery codes", err)
	}
	return nil
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

// mfaChallengeRecord is a row of mfa_challenges.
type mfaChallengeRecord struct {
	TokenHash []byte       `gorm:"column:token_hash;primaryKey"`
	UserID    string       `gorm:"column:user_id"`
	CreatedAt time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt time.Time    `gorm:"column:expires_at"`
	Failures  int          `gorm:"column:failures"`
	UsedAt    sql.NullTime `gorm:"column:used_at"`
	CredVer   int64        `gorm:"column:credential_version"`
	// FirstMethods is mfa.Challenge.Methods, space separated.
	FirstMethods string `gorm:"column:first_methods"`
}

func (mfaChallengeRecord) TableName() string { return "mfa_challenges" }

func (r mfaChallengeRecord) toDomain() mfa.Challenge {
	c := mfa.Challenge{UserID: r.UserID, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt),
		Failures: r.Failures, UsedAt: fromDBNull(r.UsedAt), CredentialVersion: r.CredVer}
	if r.FirstMethods != "" {
		c.Methods = strings.Fields(r.FirstMethods)
	}
	copy(c.Hash[:], r.TokenHash)
	return c
}

// MFAChallengeStore keeps logins awaiting their second factor.
type MFAChallengeStore struct{ db *gorm.DB }

var _ auth.MFAChallengeStore = (*MFAChallengeStore)(nil)

// NewMFAChallengeStore returns an MFAChallengeStore on db.
func NewMFAChallengeStore(db *gorm.DB) *MFAChallengeStore { return &MFAChallengeStore{db: db} }

// Create implements auth.MFAChallengeStore.
func (s *MFAChallengeStore) Create(ctx context.Context, c mfa.Challenge) error {
	r := mfaChallengeRecord{TokenHash: c.Hash[:], UserID: c.UserID, CreatedAt: toDB(c.CreatedAt),
		ExpiresAt: toDB(c.ExpiresAt), Failures: c.Failures, UsedAt: toDBNull(c.UsedAt), CredVer: c.CredentialVersion,
		FirstMethods: strings.Join(c.Methods, " ")}
	if err := conn(ctx, s.db).Create(&r).Error; err != nil {
		return wrapErr("create mfa challenge", err)
	}
	return nil
}

// Get implements auth.MFAChallengeStore.
func (s *MFAChallengeStore) Get(ctx context.Context, hash [32]byte) (mfa.Challenge, error) {
	var r mfaChallengeRecord
	err := conn(ctx, s.db).Where("token_hash = ?", hash[:]).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return mfa.Challenge{}, mfa.ErrCodeInvalid
	}
	if err != nil {
		return mfa.Challenge{}, wrapErr("get mfa challenge", err)
	}
	return r.toDomain(), nil
}

// Update implements auth.MFAChallengeStore; the row is locked on
// PostgreSQL, so one token cannot start two sessions.
func (s *MFAChallengeStore) Update(ctx context.Context, hash [32]byte, fn func(*mfa.Challenge) error) error {
	var fnErr error
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		var r mfaChallengeRecord
		q := db.Where("token_hash = ?", hash[:])
		if isPostgres(db) {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		if err := q.Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				fnErr = mfa.ErrCodeInvalid
			}
			return err
		}
		c := r.toDomain()
		if fnErr = fn(&c); fnErr != nil {
			return fnErr
		}
		return db.Model(&mfaChallengeRecord{}).Where("token_hash = ?", hash[:]).
			Updates(map[string]any{"failures": c.Failures, "used_at": toDBNull(c.UsedAt)}).Error
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		var dbe *dbError
		if errors.As(err, &dbe) {
			return err
		}
		return wrapErr("update mfa challenge", err)
	}
	return nil
}

// PurgeExpired implements auth.MFAChallengeStore.
func (s *MFAChallengeStore) PurgeExpired(ctx context.Context, before time.Time) (int, error) {
	res := conn(ctx, s.db).Where("expires_at < ?", toDB(before)).Delete(&mfaChallengeRecord{})
	if res.Error != nil {
		return 0, wrapErr("purge mfa challenges", res.Error)
	}
	return int(res.RowsAffected), nil
}

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

var _ mfauc.PasskeyStore = (*PasskeyStore)(nil)

// NewPasskeyStore returns a PasskeyStore on db.
func NewPasskeyStore(db *gorm.DB) *PasskeyStore { return &PasskeyStore{db: db} }

// Create implements mfa.PasskeyStore.
func (s *PasskeyStore) Create(ctx context.Context, p mfa.Passkey) error {
	r := passkeyRecord{ID: p.ID, UserID: p.UserID, Name: p.Name, CredentialID: p.CredentialID,
		Credential: p.Credential, CreatedAt: toDB(p.CreatedAt), LastUsedAt: toDBNull(p.LastUsedAt)}
	if err := conn(ctx, s.db).Create(&r).Error; err != nil {
		if isUniqueViolation(err, pgPasskeyCredentialKey, sqlitePasskeyCredentialKey) {
			return mfa.ErrPasskeyInvalid
		}
		return wrapErr("create passkey", err)
	}
	return nil
}

// ListByUser implements mfa.PasskeyStore.
func (s *PasskeyStore) ListByUser(ctx context.Context, userID string) ([]mfa.Passkey, error) {
	if !id.Valid(userID) {
		return nil, nil
	}
	var recs []passkeyRecord
	if err := conn(ctx, s.db).Where("user_id = ?", userID).Order("created_at, id").Find(&recs).Error; err != nil {
		return nil, wrapErr("list passkeys", err)
	}
	out := make([]mfa.Passkey, len(recs))
	for i, r := range recs {
		out[i] = r.toDomain()
	}
	return out, nil
}

// ByCredentialID implements mfa.PasskeyStore.
func (s *PasskeyStore) ByCredentialID(ctx context.Context, credentialID []byte) (mfa.Passkey, error) {
	var r passkeyRecord
	err := conn(ctx, s.db).Where("credential_id = ?", credentialID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return mfa.Passkey{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.Passkey{}, wrapErr("get passkey", err)
	}
	return r.toDomain(), nil
}

// Update implements mfa.PasskeyStore.
func (s *PasskeyStore) Update(ctx context.Context, p mfa.Passkey) error {
	res := conn(ctx, s.db).Model(&passkeyRecord{}).Where("id = ?", p.ID).
		Updates(map[string]any{"credential": p.Credential, "last_used_at": toDBNull(p.LastUsedAt)})
	if res.Error != nil {
		return wrapErr("update passkey", res.Error)
	}
	if res.RowsAffected == 0 {
		return mfa.ErrNotFound
	}
	return nil
}

// Delete implements mfa.PasskeyStore.
func (s *PasskeyStore) Delete(ctx context.Context, userID, passkeyID string) error {
	if !id.Valid(passkeyID) || !id.Valid(userID) {
		return mfa.ErrNotFound
	}
	res := conn(ctx, s.db).Where("id = ? AND user_id = ?", passkeyID, userID).Delete(&passkeyRecord{})
	if res.Error != nil {
		return wrapErr("delete passkey", res.Error)
	}
	if res.RowsAffected == 0 {
		return mfa.ErrNotFound
	}
	return nil
}

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

func (r ceremonyRecord) toDomain() mfauc.Ceremony {
	return mfauc.Ceremony{ID: r.ID, UserID: r.UserID.String, Purpose: r.Purpose, Name: r.Name,
		State: r.SessionData, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt)}
}

// CeremonyStore keeps WebAuthn ceremonies in progress, so one begun on one
// instance can be finished on another.
type CeremonyStore struct{ db *gorm.DB }

var _ mfauc.CeremonyStore = (*CeremonyStore)(nil)

// NewCeremonyStore returns a CeremonyStore on db.
func NewCeremonyStore(db *gorm.DB) *CeremonyStore { return &CeremonyStore{db: db} }

// Create implements mfa.CeremonyStore.
func (s *CeremonyStore) Create(ctx context.Context, c mfauc.Ceremony) error {
	r := ceremonyRecord{ID: c.ID, UserID: sql.NullString{String: c.UserID, Valid: c.UserID != ""}, Purpose: c.Purpose,
		Name: c.Name, SessionData: c.State, CreatedAt: toDB(c.CreatedAt), ExpiresAt: toDB(c.ExpiresAt)}
	if err := conn(ctx, s.db).Create(&r).Error; err != nil {
		return wrapErr("create webauthn ceremony", err)
	}
	return nil
}

// Take implements mfa.CeremonyStore. The row is deleted by the statement
// that reads it (DELETE ... RETURNING, which both engines have), so of two
// instances finishing one ceremony at once exactly one gets it.
func (s *CeremonyStore) Take(ctx context.Context, ceremonyID, purpose string) (mfauc.Ceremony, error) {
	if !id.Valid(ceremonyID) {
		return mfauc.Ceremony{}, mfa.ErrPasskeyInvalid
	}
	var recs []ceremonyRecord
	err := conn(ctx, s.db).Clauses(clause.Returning{}).Where("id = ? AND purpose = ?", ceremonyID, purpose).Delete(&recs).Error
	if err != nil {
		return mfauc.Ceremony{}, wrapErr("take webauthn ceremony", err)
	}
	if len(recs) != 1 {
		return mfauc.Ceremony{}, mfa.ErrPasskeyInvalid
	}
	return recs[0].toDomain(), nil
}

// TakeForUser implements mfa.CeremonyStore.
func (s *CeremonyStore) TakeForUser(ctx context.Context, userID, purpose string) (mfauc.Ceremony, error) {
	if !id.Valid(userID) {
		return mfauc.Ceremony{}, mfa.ErrPasskeyInvalid
	}
	var recs []ceremonyRecord
	err := conn(ctx, s.db).Clauses(clause.Returning{}).Where("user_id = ? AND purpose = ?", userID, purpose).Delete(&recs).Error
	if err != nil {
		return mfauc.Ceremony{}, wrapErr("take webauthn ceremony", err)
	}
	if len(recs) == 0 {
		return mfauc.Ceremony{}, mfa.ErrPasskeyInvalid
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
	res := conn(ctx, s.db).Where("expires_at < ?", toDB(before)).Delete(&ceremonyRecord{})
	if res.Error != nil {
		return 0, wrapErr("purge webauthn ceremonies", res.Error)
	}
	return int(res.RowsAffected), nil
}
