package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// emailTokenRecord is a row of email_tokens.
type emailTokenRecord struct {
	TokenHash         []byte    `gorm:"column:token_hash;primaryKey"`
	Purpose           string    `gorm:"column:purpose"`
	UserID            string    `gorm:"column:user_id"`
	Email             string    `gorm:"column:email"`
	CredentialVersion int64     `gorm:"column:credential_version"`
	CreatedAt         time.Time `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt         time.Time `gorm:"column:expires_at"`
}

func (emailTokenRecord) TableName() string { return "email_tokens" }

func (r emailTokenRecord) toDomain() (emailtoken.Token, error) {
	t := emailtoken.Token{
		Purpose: emailtoken.Purpose(r.Purpose), UserID: r.UserID, Email: r.Email,
		CredentialVersion: r.CredentialVersion, CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt),
	}
	if len(r.TokenHash) != len(t.Hash) {
		return emailtoken.Token{}, fmt.Errorf("persistence: email token hash of %d bytes", len(r.TokenHash))
	}
	copy(t.Hash[:], r.TokenHash)
	return t, nil
}

// EmailTokenStore keeps emailed tokens (verification, reset) by hash.
type EmailTokenStore struct{ db *gorm.DB }

var _ recovery.TokenStore = (*EmailTokenStore)(nil)

// NewEmailTokenStore returns an EmailTokenStore on db.
func NewEmailTokenStore(db *gorm.DB) *EmailTokenStore { return &EmailTokenStore{db: db} }

// Insert implements recovery.TokenStore.
func (s *EmailTokenStore) Insert(ctx context.Context, t emailtoken.Token) error {
	rec := emailTokenRecord{
		TokenHash: t.Hash[:], Purpose: string(t.Purpose), UserID: t.UserID, Email: t.Email,
		CredentialVersion: t.CredentialVersion, CreatedAt: toDB(t.CreatedAt), ExpiresAt: toDB(t.ExpiresAt),
	}
	return stmtErr("insert email token", conn(ctx, s.db).Create(&rec))
}

// ByHash implements recovery.TokenStore.
func (s *EmailTokenStore) ByHash(ctx context.Context, hash [32]byte) (emailtoken.Token, error) {
	return takeChecked("email token by hash", conn(ctx, s.db).Where("token_hash = ?", hash[:]), emailtoken.ErrLinkInvalid,
		emailTokenRecord.toDomain)
}

// Take implements recovery.TokenStore: the DELETE is the one use, so of
// two transactions taking one token only one deletes a row (PostgreSQL
// makes the second wait for the first and then find nothing; SQLite
// serializes writers).
func (s *EmailTokenStore) Take(ctx context.Context, hash [32]byte) (emailtoken.Token, error) {
	return spendOne("take email token", conn(ctx, s.db).Where("token_hash = ?", hash[:]), emailtoken.ErrLinkInvalid, emailTokenRecord.toDomain)
}

// DeleteForUser implements recovery.TokenStore.
func (s *EmailTokenStore) DeleteForUser(ctx context.Context, userID string, p emailtoken.Purpose) error {
	if !id.Valid(userID) {
		return nil
	}
	return stmtErr("delete email tokens", conn(ctx, s.db).Where("user_id = ? AND purpose = ?", userID, string(p)).Delete(&emailTokenRecord{}))
}

// Supersede implements recovery.TokenStore.
func (s *EmailTokenStore) Supersede(ctx context.Context, userID string, p emailtoken.Purpose, keep [32]byte) error {
	if !id.Valid(userID) {
		return nil
	}
	return stmtErr("supersede email tokens", conn(ctx, s.db).Where("user_id = ? AND purpose = ? AND token_hash <> ?", userID, string(p), keep[:]).
		Delete(&emailTokenRecord{}))
}

// PurgeExpired implements recovery.TokenStore.
func (s *EmailTokenStore) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	return rowCount("purge email tokens", conn(ctx, s.db).Where("expires_at < ?", toDB(now)).Delete(&emailTokenRecord{}))
}

// outboxRecord is a row of mail_outbox. Times the sender compares are Unix
// milliseconds (see the migration). The link column of rows written before
// migration 00010 is blank since, and nothing writes it: links are made at
// send time.
type outboxRecord struct {
	ID            string         `gorm:"column:id;primaryKey"`
	Kind          string         `gorm:"column:kind"`
	Recipient     string         `gorm:"column:recipient"`
	UserID        sql.NullString `gorm:"column:user_id"`
	Locale        string         `gorm:"column:locale"`
	TTLSeconds    int64          `gorm:"column:ttl_seconds"`
	Status        string         `gorm:"column:status"`
	Attempts      int            `gorm:"column:attempts"`
	NextAttemptAt int64          `gorm:"column:next_attempt_at"`
	LockedUntil   int64          `gorm:"column:locked_until"`
	LastError     string         `gorm:"column:last_error"`
	CreatedAt     time.Time      `gorm:"column:created_at;autoCreateTime:false"`
}

func (outboxRecord) TableName() string { return "mail_outbox" }

// Outbox statuses; a delivered message is deleted.
const (
	outboxPending = "pending"
	outboxFailed  = "failed"
)

// maxErrorText bounds the stored reason of a failed attempt.
const maxErrorText = 500

// MailOutbox is the transactional mail outbox.
type MailOutbox struct{ db *gorm.DB }

var _ recovery.Outbox = (*MailOutbox)(nil)

// NewMailOutbox returns a MailOutbox on db.
func NewMailOutbox(db *gorm.DB) *MailOutbox { return &MailOutbox{db: db} }

// Enqueue implements recovery.Outbox.
func (o *MailOutbox) Enqueue(ctx context.Context, m outbox.Message, due time.Time) error {
	if !id.Valid(m.ID) {
		return fmt.Errorf("persistence: enqueue mail: invalid id %q", m.ID)
	}
	if m.Link != "" || m.Code != "" {
		return errors.New("persistence: enqueue mail: the outbox never stores a link or a code")
	}
	locale := m.Locale
	if locale == "" {
		locale = user.DefaultLocale
	}
	rec := outboxRecord{
		ID: m.ID, Kind: string(m.Kind), Recipient: m.To, Locale: locale,
		UserID:     sql.NullString{String: m.UserID, Valid: m.UserID != ""},
		TTLSeconds: int64(m.TTL / time.Second), Status: outboxPending,
		NextAttemptAt: due.UnixMilli(), CreatedAt: toDB(m.CreatedAt),
	}
	return stmtErr("enqueue mail", conn(ctx, o.db).Create(&rec))
}

// Claim implements recovery.Outbox with one statement that picks due,
// unclaimed rows and claims them (see claimRows).
func (o *MailOutbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	nowMS := now.UnixMilli()
	// 'pending' is written out, not bound: a prepared statement's generic
	// plan can use the partial index mail_outbox_claim_idx only when the
	// query repeats the index's predicate literally.
	recs, err := claimRows[outboxRecord](ctx, o.db, "claim mail", "mail_outbox", "id",
		"SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND locked_until <= ? ORDER BY next_attempt_at LIMIT ?",
		"id, kind, recipient, user_id, locale, ttl_seconds, attempts, created_at", now.Add(lease).UnixMilli(), nowMS, nowMS, limit)
	if err != nil {
		return nil, err
	}
	out := make([]outbox.Message, len(recs))
	for i, r := range recs {
		out[i] = outbox.Message{
			ID: r.ID, Kind: outbox.Kind(r.Kind), To: r.Recipient, UserID: r.UserID.String, Locale: r.Locale,
			TTL: time.Duration(r.TTLSeconds) * time.Second, CreatedAt: fromDB(r.CreatedAt), Attempts: r.Attempts,
		}
	}
	return out, nil
}

// Delivered implements recovery.Outbox.
func (o *MailOutbox) Delivered(ctx context.Context, msgID string) error {
	return stmtErr("mail delivered", conn(ctx, o.db).Exec("DELETE FROM mail_outbox WHERE id = ?", msgID))
}

// Retry implements recovery.Outbox.
func (o *MailOutbox) Retry(ctx context.Context, msgID string, at time.Time, reason string) error {
	return stmtErr("mail retry", conn(ctx, o.db).Exec("UPDATE mail_outbox SET locked_until = 0, next_attempt_at = ?, last_error = ? WHERE id = ?",
		at.UnixMilli(), clip(reason), msgID))
}

// GiveUp implements recovery.Outbox. The row stays for operators.
func (o *MailOutbox) GiveUp(ctx context.Context, msgID, reason string) error {
	return stmtErr("mail give up", conn(ctx, o.db).Exec("UPDATE mail_outbox SET status = ?, locked_until = 0, last_error = ? WHERE id = ?",
		outboxFailed, clip(reason), msgID))
}

func clip(s string) string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return strings.ToValidUTF8(s, "")
}
