package persistence

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/oauth"
)

type requestRecord struct {
	ID                  string           `gorm:"column:id;primaryKey"`
	ClientID            string           `gorm:"column:client_id"`
	RedirectURI         string           `gorm:"column:redirect_uri"`
	Scopes              string           `gorm:"column:scopes"`
	State               string           `gorm:"column:state"`
	Nonce               string           `gorm:"column:nonce"`
	CodeChallenge       string           `gorm:"column:code_challenge"`
	CodeChallengeMethod string           `gorm:"column:code_challenge_method"`
	ResponseMode        string           `gorm:"column:response_mode"`
	Prompt              string           `gorm:"column:prompt"`
	MaxAge              sql.NullInt64    `gorm:"column:max_age"`
	CreatedAt           time.Time        `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt           time.Time        `gorm:"column:expires_at"`
	DoneAt              sql.NullTime     `gorm:"column:done_at"`
	UserID              sql.NullString   `gorm:"column:user_id"`
	GrantedScopes       string           `gorm:"column:granted_scopes"`
	AuthTime            sql.NullTime     `gorm:"column:auth_time"`
	AuthMethods         string           `gorm:"column:auth_methods"`
	LoginSessionID      sql.NullString   `gorm:"column:login_session_id"`
	SessionID           sql.NullString   `gorm:"column:session_id"`
	CodeHash            sql.Null[[]byte] `gorm:"column:code_hash"`
	CodeExpiresAt       sql.NullTime     `gorm:"column:code_expires_at"`
	CodeUsedAt          sql.NullTime     `gorm:"column:code_used_at"`
}

func (requestRecord) TableName() string { return "oauth_requests" }

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func requestFromDomain(r oauth.Request) requestRecord {
	rec := requestRecord{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scopes: scopeList(r.Scopes),
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		ResponseMode: r.ResponseMode, Prompt: scopeList(r.Prompt),
		CreatedAt: toDB(r.CreatedAt), ExpiresAt: toDB(r.ExpiresAt), DoneAt: toDBNull(r.DoneAt),
		UserID: nullString(r.UserID), GrantedScopes: scopeList(r.GrantedScopes), AuthTime: toDBNull(r.AuthTime),
		AuthMethods: strings.Join(r.Methods, ","), LoginSessionID: nullString(r.LoginSessionID),
		SessionID: nullString(r.SessionID), CodeExpiresAt: toDBNull(r.CodeExpiresAt), CodeUsedAt: toDBNull(r.CodeUsedAt),
	}
	if r.MaxAge != nil {
		rec.MaxAge = sql.NullInt64{Int64: *r.MaxAge, Valid: true}
	}
	if r.CodeHash != ([32]byte{}) {
		rec.CodeHash = sql.Null[[]byte]{V: r.CodeHash[:], Valid: true}
	}
	return rec
}

func (rec requestRecord) toDomain() oauth.Request {
	r := oauth.Request{
		ID: rec.ID, ClientID: rec.ClientID, RedirectURI: rec.RedirectURI, Scopes: fromScopeList(rec.Scopes),
		State: rec.State, Nonce: rec.Nonce, CodeChallenge: rec.CodeChallenge, CodeChallengeMethod: rec.CodeChallengeMethod,
		ResponseMode: rec.ResponseMode, Prompt: fromScopeList(rec.Prompt),
		CreatedAt: fromDB(rec.CreatedAt), ExpiresAt: fromDB(rec.ExpiresAt), DoneAt: fromDBNull(rec.DoneAt),
		UserID: rec.UserID.String, GrantedScopes: fromScopeList(rec.GrantedScopes), AuthTime: fromDBNull(rec.AuthTime),
		LoginSessionID: rec.LoginSessionID.String, SessionID: rec.SessionID.String,
		CodeExpiresAt: fromDBNull(rec.CodeExpiresAt), CodeUsedAt: fromDBNull(rec.CodeUsedAt),
	}
	if rec.AuthMethods != "" {
		r.Methods = strings.Split(rec.AuthMethods, ",")
	}
	if rec.MaxAge.Valid {
		v := rec.MaxAge.Int64
		r.MaxAge = &v
	}
	if rec.CodeHash.Valid {
		copy(r.CodeHash[:], rec.CodeHash.V)
	}
	return r
}

// maxRequestID bounds what is looked up: request IDs are 43 characters.
const maxRequestID = 64

// CreateRequest implements oidcprovider.RequestStore.
func (s *OAuthStore) CreateRequest(ctx context.Context, r oauth.Request) error {
	rec := requestFromDomain(r)
	return stmtErr("create oauth request", conn(ctx, s.db).Create(&rec))
}

// RequestByID implements oidcprovider.RequestStore.
func (s *OAuthStore) RequestByID(ctx context.Context, requestID string) (oauth.Request, error) {
	return s.requestWhere(ctx, conn(ctx, s.db), "id = ?", requestID)
}

func (s *OAuthStore) requestWhere(_ context.Context, db *gorm.DB, where string, arg any) (oauth.Request, error) {
	if v, ok := arg.(string); ok && (v == "" || len(v) > maxRequestID) {
		return oauth.Request{}, oauth.ErrRequestNotFound
	}
	return takeOne("read oauth request", db.Where(where, arg), oauth.ErrRequestNotFound, requestRecord.toDomain)
}

// UpdateRequest implements oidcprovider.RequestStore: the row is locked
// (FOR UPDATE on PostgreSQL; a SQLite transaction is begun IMMEDIATE and
// holds the write lock) so two answers to one request serialize and the
// second finds it done.
func (s *OAuthStore) UpdateRequest(ctx context.Context, requestID string, fn func(*oauth.Request) error) error {
	if requestID == "" || len(requestID) > maxRequestID {
		return oauth.ErrRequestNotFound
	}
	// A failed BEGIN or COMMIT is wrapped too, so a database that went away
	// reads as unavailable (503), not as an internal error.
	return updateTx(ctx, s.db, "update oauth request", func(db *gorm.DB, keep func(error) error) error {
		r, err := s.requestWhere(ctx, forUpdate(db), "id = ?", requestID)
		if err != nil {
			return keep(err) // not found, or a storage error already wrapped
		}
		if err := fn(&r); err != nil {
			return keep(err)
		}
		rec := requestFromDomain(r)
		return db.Model(&requestRecord{}).Where("id = ?", requestID).Select(
			"done_at", "user_id", "granted_scopes", "auth_time", "auth_methods", "login_session_id",
			"session_id", "code_hash", "code_expires_at").Updates(&rec).Error
	})
}

// SpendCode implements oidcprovider.RequestStore with one UPDATE, so of
// two exchanges racing with one code exactly one spends it.
func (s *OAuthStore) SpendCode(ctx context.Context, hash [32]byte, now time.Time) (oauth.Request, error) {
	at := toDB(now)
	db := conn(ctx, s.db)
	res := db.Exec("UPDATE oauth_requests SET code_used_at = ? WHERE code_hash = ? AND code_used_at IS NULL AND code_expires_at > ?",
		at, hash[:], at)
	if res.Error != nil {
		return oauth.Request{}, wrapErr("spend oauth code", res.Error)
	}
	r, err := s.RequestByCode(ctx, hash)
	if err != nil {
		return oauth.Request{}, err
	}
	if res.RowsAffected == 1 {
		return r, nil
	}
	if !r.CodeUsedAt.IsZero() {
		return r, oauth.ErrCodeReused
	}
	return oauth.Request{}, oauth.ErrCodeInvalid
}

// RequestByCode implements oidcprovider.RequestStore.
func (s *OAuthStore) RequestByCode(ctx context.Context, hash [32]byte) (oauth.Request, error) {
	r, err := s.requestWhere(ctx, conn(ctx, s.db), "code_hash = ?", hash[:])
	if errors.Is(err, oauth.ErrRequestNotFound) {
		return oauth.Request{}, oauth.ErrCodeInvalid
	}
	return r, err
}

// PurgeRequests implements oidcprovider.RequestStore.
func (s *OAuthStore) PurgeRequests(ctx context.Context, before time.Time) (int, error) {
	at := toDB(before)
	return rowCount("purge oauth requests",
		conn(ctx, s.db).Exec("DELETE FROM oauth_requests WHERE expires_at < ? AND (code_expires_at IS NULL OR code_expires_at < ?)", at, at))
}
