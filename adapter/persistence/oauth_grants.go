package persistence

import (
	"context"
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
	}, nil)
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
