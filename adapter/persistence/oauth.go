package persistence

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// OAuthStore keeps what Gatehouse knows as an OpenID provider: clients,
// authorization requests and their codes, consents, and which sessions
// belong to clients.
type OAuthStore struct{ db *gorm.DB }

var (
	_ oidcprovider.ClientStore        = (*OAuthStore)(nil)
	_ oidcprovider.RequestStore       = (*OAuthStore)(nil)
	_ oidcprovider.GrantStore         = (*OAuthStore)(nil)
	_ oidcprovider.ClientSessionStore = (*OAuthStore)(nil)
)

// NewOAuthStore returns an OAuthStore on db.
func NewOAuthStore(db *gorm.DB) *OAuthStore { return &OAuthStore{db: db} }

// Lists of URIs are stored as JSON arrays (a URI may hold any character
// but a space-free list separator is not guaranteed); scopes, which are
// space-free by RFC 6749 3.3, as a space-separated string.

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func fromJSONList(s string) []string {
	var l []string
	if json.Unmarshal([]byte(s), &l) != nil || l == nil {
		return []string{}
	}
	return l
}

func scopeList(l []string) string { return strings.Join(l, " ") }

func fromScopeList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Fields(s)
}

type clientRecord struct {
	ClientID               string           `gorm:"column:client_id;primaryKey"`
	SecretHash             sql.Null[[]byte] `gorm:"column:secret_hash"`
	Name                   string           `gorm:"column:name"`
	RedirectURIs           string           `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs string           `gorm:"column:post_logout_redirect_uris"`
	Public                 bool             `gorm:"column:public"`
	FirstParty             bool             `gorm:"column:first_party"`
	Scopes                 string           `gorm:"column:scopes"`
	IDTokenAlg             string           `gorm:"column:id_token_alg"`
	CreatedAt              time.Time        `gorm:"column:created_at;autoCreateTime:false"`
}

func (clientRecord) TableName() string { return "oauth_clients" }

func clientFromDomain(c oauth.Client) clientRecord {
	r := clientRecord{
		ClientID: c.ID, Name: c.Name, RedirectURIs: jsonList(c.RedirectURIs),
		PostLogoutRedirectURIs: jsonList(c.PostLogoutRedirectURIs), Public: c.Public, FirstParty: c.FirstParty,
		Scopes: scopeList(c.Scopes), IDTokenAlg: c.IDTokenAlg, CreatedAt: toDB(c.CreatedAt),
	}
	if c.SecretHash != ([32]byte{}) {
		r.SecretHash = sql.Null[[]byte]{V: c.SecretHash[:], Valid: true}
	}
	return r
}

func (r clientRecord) toDomain() oauth.Client {
	c := oauth.Client{
		ID: r.ClientID, Name: r.Name, RedirectURIs: fromJSONList(r.RedirectURIs),
		PostLogoutRedirectURIs: fromJSONList(r.PostLogoutRedirectURIs), Public: r.Public, FirstParty: r.FirstParty,
		Scopes: fromScopeList(r.Scopes), IDTokenAlg: r.IDTokenAlg, CreatedAt: fromDB(r.CreatedAt),
	}
	if r.SecretHash.Valid {
		copy(c.SecretHash[:], r.SecretHash.V)
	}
	return c
}

// CreateClient implements oidcprovider.ClientStore.
func (s *OAuthStore) CreateClient(ctx context.Context, c oauth.Client) error {
	rec := clientFromDomain(c)
	if err := conn(ctx, s.db).Create(&rec).Error; err != nil {
		return wrapErr("create oauth client", err)
	}
	return nil
}

// ClientByID implements oidcprovider.ClientStore.
func (s *OAuthStore) ClientByID(ctx context.Context, clientID string) (oauth.Client, error) {
	if !id.Valid(clientID) {
		return oauth.Client{}, oauth.ErrClientNotFound
	}
	var rec clientRecord
	err := conn(ctx, s.db).Where("client_id = ?", clientID).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.Client{}, oauth.ErrClientNotFound
	}
	if err != nil {
		return oauth.Client{}, wrapErr("read oauth client", err)
	}
	return rec.toDomain(), nil
}

// ListClients implements oidcprovider.ClientStore.
func (s *OAuthStore) ListClients(ctx context.Context) ([]oauth.Client, error) {
	var recs []clientRecord
	if err := conn(ctx, s.db).Order("created_at, client_id").Find(&recs).Error; err != nil {
		return nil, wrapErr("list oauth clients", err)
	}
	out := make([]oauth.Client, len(recs))
	for i, r := range recs {
		out[i] = r.toDomain()
	}
	return out, nil
}

// DeleteClient implements oidcprovider.ClientStore; the foreign keys take
// its requests, grants and client-session rows with it.
func (s *OAuthStore) DeleteClient(ctx context.Context, clientID string) error {
	if !id.Valid(clientID) {
		return oauth.ErrClientNotFound
	}
	res := conn(ctx, s.db).Where("client_id = ?", clientID).Delete(&clientRecord{})
	if res.Error != nil {
		return wrapErr("delete oauth client", res.Error)
	}
	if res.RowsAffected == 0 {
		return oauth.ErrClientNotFound
	}
	return nil
}

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
	if err := conn(ctx, s.db).Create(&rec).Error; err != nil {
		return wrapErr("create oauth request", err)
	}
	return nil
}

// RequestByID implements oidcprovider.RequestStore.
func (s *OAuthStore) RequestByID(ctx context.Context, requestID string) (oauth.Request, error) {
	return s.requestWhere(ctx, conn(ctx, s.db), "id = ?", requestID)
}

func (s *OAuthStore) requestWhere(_ context.Context, db *gorm.DB, where string, arg any) (oauth.Request, error) {
	if v, ok := arg.(string); ok && (v == "" || len(v) > maxRequestID) {
		return oauth.Request{}, oauth.ErrRequestNotFound
	}
	var rec requestRecord
	err := db.Where(where, arg).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.Request{}, oauth.ErrRequestNotFound
	}
	if err != nil {
		return oauth.Request{}, wrapErr("read oauth request", err)
	}
	return rec.toDomain(), nil
}

// UpdateRequest implements oidcprovider.RequestStore: the row is locked
// (FOR UPDATE on PostgreSQL; a SQLite transaction is begun IMMEDIATE and
// holds the write lock) so two answers to one request serialize and the
// second finds it done.
func (s *OAuthStore) UpdateRequest(ctx context.Context, requestID string, fn func(*oauth.Request) error) error {
	if requestID == "" || len(requestID) > maxRequestID {
		return oauth.ErrRequestNotFound
	}
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		r, err := s.requestWhere(ctx, forUpdate(db), "id = ?", requestID)
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		rec := requestFromDomain(r)
		err = db.Model(&requestRecord{}).Where("id = ?", requestID).Select(
			"done_at", "user_id", "granted_scopes", "auth_time", "auth_methods", "login_session_id",
			"session_id", "code_hash", "code_expires_at").Updates(&rec).Error
		if err != nil {
			return wrapErr("update oauth request", err)
		}
		return nil
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
	res := conn(ctx, s.db).Exec("DELETE FROM oauth_requests WHERE expires_at < ? AND (code_expires_at IS NULL OR code_expires_at < ?)", at, at)
	if res.Error != nil {
		return 0, wrapErr("purge oauth requests", res.Error)
	}
	return int(res.RowsAffected), nil
}

type grantRecord struct {
	UserID    string    `gorm:"column:user_id;primaryKey"`
	ClientID  string    `gorm:"column:client_id;primaryKey"`
	Scopes    string    `gorm:"column:scopes"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
	// Name is read with the client, never written.
	Name string `gorm:"column:name;->"`
}

func (grantRecord) TableName() string { return "oauth_grants" }

func (r grantRecord) toDomain() oauth.Grant {
	return oauth.Grant{UserID: r.UserID, Client: oauth.Ref{ID: r.ClientID, Name: r.Name},
		Scopes: fromScopeList(r.Scopes), CreatedAt: fromDB(r.CreatedAt), UpdatedAt: fromDB(r.UpdatedAt)}
}

const grantSelect = "oauth_grants.user_id, oauth_grants.client_id, oauth_grants.scopes, oauth_grants.created_at, oauth_grants.updated_at, oauth_clients.name"

// Grant implements oidcprovider.GrantStore.
func (s *OAuthStore) Grant(ctx context.Context, userID, clientID string) (oauth.Grant, error) {
	if !id.Valid(userID) || !id.Valid(clientID) {
		return oauth.Grant{}, oauth.ErrGrantNotFound
	}
	var rec grantRecord
	err := conn(ctx, s.db).Table("oauth_grants").Select(grantSelect).
		Joins("JOIN oauth_clients ON oauth_clients.client_id = oauth_grants.client_id").
		Where("oauth_grants.user_id = ? AND oauth_grants.client_id = ?", userID, clientID).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.Grant{}, oauth.ErrGrantNotFound
	}
	if err != nil {
		return oauth.Grant{}, wrapErr("read oauth grant", err)
	}
	return rec.toDomain(), nil
}

// SaveGrant implements oidcprovider.GrantStore.
func (s *OAuthStore) SaveGrant(ctx context.Context, g oauth.Grant) error {
	rec := grantRecord{UserID: g.UserID, ClientID: g.Client.ID, Scopes: scopeList(g.Scopes),
		CreatedAt: toDB(g.CreatedAt), UpdatedAt: toDB(g.UpdatedAt)}
	err := conn(ctx, s.db).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "updated_at"}),
	}).Create(&rec).Error
	if err != nil {
		return wrapErr("save oauth grant", err)
	}
	return nil
}

// ListGrants implements oidcprovider.GrantStore.
func (s *OAuthStore) ListGrants(ctx context.Context, userID string) ([]oauth.Grant, error) {
	if !id.Valid(userID) {
		return []oauth.Grant{}, nil
	}
	var recs []grantRecord
	err := conn(ctx, s.db).Table("oauth_grants").Select(grantSelect).
		Joins("JOIN oauth_clients ON oauth_clients.client_id = oauth_grants.client_id").
		Where("oauth_grants.user_id = ?", userID).
		Order("oauth_grants.updated_at DESC, oauth_grants.client_id").Find(&recs).Error
	if err != nil {
		return nil, wrapErr("list oauth grants", err)
	}
	out := make([]oauth.Grant, len(recs))
	for i, r := range recs {
		out[i] = r.toDomain()
	}
	return out, nil
}

// DeleteGrant implements oidcprovider.GrantStore.
func (s *OAuthStore) DeleteGrant(ctx context.Context, userID, clientID string) error {
	if !id.Valid(userID) || !id.Valid(clientID) {
		return oauth.ErrGrantNotFound
	}
	res := conn(ctx, s.db).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&grantRecord{})
	if res.Error != nil {
		return wrapErr("delete oauth grant", res.Error)
	}
	if res.RowsAffected == 0 {
		return oauth.ErrGrantNotFound
	}
	return nil
}

type clientSessionRecord struct {
	SessionID string    `gorm:"column:session_id;primaryKey"`
	ClientID  string    `gorm:"column:client_id"`
	UserID    string    `gorm:"column:user_id"`
	Scopes    string    `gorm:"column:scopes"`
	Nonce     string    `gorm:"column:nonce"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (clientSessionRecord) TableName() string { return "oauth_sessions" }

// CreateClientSession implements oidcprovider.ClientSessionStore.
func (s *OAuthStore) CreateClientSession(ctx context.Context, cs oauth.ClientSession) error {
	rec := clientSessionRecord{SessionID: cs.SessionID, ClientID: cs.ClientID, UserID: cs.UserID,
		Scopes: scopeList(cs.Scopes), Nonce: cs.Nonce, CreatedAt: toDB(cs.CreatedAt)}
	if err := conn(ctx, s.db).Create(&rec).Error; err != nil {
		return wrapErr("create client session", err)
	}
	return nil
}

// ClientSession implements oidcprovider.ClientSessionStore.
func (s *OAuthStore) ClientSession(ctx context.Context, sessionID string) (oauth.ClientSession, error) {
	if !id.Valid(sessionID) {
		return oauth.ClientSession{}, session.ErrNotFound
	}
	var rec clientSessionRecord
	err := conn(ctx, s.db).Where("session_id = ?", sessionID).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.ClientSession{}, session.ErrNotFound
	}
	if err != nil {
		return oauth.ClientSession{}, wrapErr("read client session", err)
	}
	return oauth.ClientSession{SessionID: rec.SessionID, ClientID: rec.ClientID, UserID: rec.UserID,
		Scopes: fromScopeList(rec.Scopes), Nonce: rec.Nonce, CreatedAt: fromDB(rec.CreatedAt)}, nil
}

// RevokeClientSessions implements oidcprovider.ClientSessionStore: the
// matching sessions are locked and revoked as RevokeAllForUser does.
func (s *OAuthStore) RevokeClientSessions(ctx context.Context, f oidcprovider.SessionFilter, reason string, now time.Time) ([]string, error) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"session_id", f.SessionID}, {"user_id", f.UserID}, {"client_id", f.ClientID}} {
		if c.v == "" {
			continue
		}
		if !id.Valid(c.v) {
			return nil, nil
		}
		conds = append(conds, "oauth_sessions."+c.col+" = ?")
		args = append(args, c.v)
	}
	if len(conds) == 0 {
		return nil, errors.New("persistence: revoke client sessions: empty filter")
	}
	at := toDB(now)
	return revokeLocked(ctx, s.db, "client sessions", reason, at, func(q *gorm.DB) *gorm.DB {
		return q.Where("id IN (SELECT session_id FROM oauth_sessions WHERE "+strings.Join(conds, " AND ")+")", args...).
			Where(activeAt, at, at)
	})
}

// SessionClients implements oidcprovider.ClientSessionStore.
func (s *OAuthStore) SessionClients(ctx context.Context, ids []string) (map[string]oauth.Ref, error) {
	var rows []struct {
		SessionID string `gorm:"column:session_id"`
		ClientID  string `gorm:"column:client_id"`
		Name      string `gorm:"column:name"`
	}
	err := conn(ctx, s.db).Table("oauth_sessions").
		Select("oauth_sessions.session_id, oauth_sessions.client_id, oauth_clients.name").
		Joins("JOIN oauth_clients ON oauth_clients.client_id = oauth_sessions.client_id").
		Where("oauth_sessions.session_id IN ?", ids).Scan(&rows).Error
	if err != nil {
		return nil, wrapErr("name session clients", err)
	}
	out := make(map[string]oauth.Ref, len(rows))
	for _, r := range rows {
		out[r.SessionID] = oauth.Ref{ID: r.ClientID, Name: r.Name}
	}
	return out, nil
}
