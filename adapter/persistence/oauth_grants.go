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

// grants selects grant rows with their client's name.
func (s *OAuthStore) grants(ctx context.Context) *gorm.DB {
	return conn(ctx, s.db).Table("oauth_grants").Select(grantSelect).
		Joins("JOIN oauth_clients ON oauth_clients.client_id = oauth_grants.client_id")
}

// Grant implements oidcprovider.GrantStore.
func (s *OAuthStore) Grant(ctx context.Context, userID, clientID string) (oauth.Grant, error) {
	if !id.Valid(userID) || !id.Valid(clientID) {
		return oauth.Grant{}, oauth.ErrGrantNotFound
	}
	q := s.grants(ctx).Where("oauth_grants.user_id = ? AND oauth_grants.client_id = ?", userID, clientID)
	return takeOne("read oauth grant", q, oauth.ErrGrantNotFound, grantRecord.toDomain)
}

// SaveGrant implements oidcprovider.GrantStore.
func (s *OAuthStore) SaveGrant(ctx context.Context, g oauth.Grant) error {
	rec := grantRecord{UserID: g.UserID, ClientID: g.Client.ID, Scopes: scopeList(g.Scopes),
		CreatedAt: toDB(g.CreatedAt), UpdatedAt: toDB(g.UpdatedAt)}
	return stmtErr("save oauth grant", conn(ctx, s.db).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "updated_at"}),
	}).Create(&rec))
}

// ListGrants implements oidcprovider.GrantStore.
func (s *OAuthStore) ListGrants(ctx context.Context, userID string) ([]oauth.Grant, error) {
	if !id.Valid(userID) {
		return []oauth.Grant{}, nil
	}
	q := s.grants(ctx).Where("oauth_grants.user_id = ?", userID).Order("oauth_grants.updated_at DESC, oauth_grants.client_id")
	return findAll("list oauth grants", q, grantRecord.toDomain)
}

// DeleteGrant implements oidcprovider.GrantStore.
func (s *OAuthStore) DeleteGrant(ctx context.Context, userID, clientID string) error {
	if !id.Valid(userID) || !id.Valid(clientID) {
		return oauth.ErrGrantNotFound
	}
	return oneRow("delete oauth grant", conn(ctx, s.db).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&grantRecord{}),
		oauth.ErrGrantNotFound)
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

func (r clientSessionRecord) toDomain() oauth.ClientSession {
	return oauth.ClientSession{SessionID: r.SessionID, ClientID: r.ClientID, UserID: r.UserID,
		Scopes: fromScopeList(r.Scopes), Nonce: r.Nonce, CreatedAt: fromDB(r.CreatedAt)}
}

// CreateClientSession implements oidcprovider.ClientSessionStore.
func (s *OAuthStore) CreateClientSession(ctx context.Context, cs oauth.ClientSession) error {
	rec := clientSessionRecord{SessionID: cs.SessionID, ClientID: cs.ClientID, UserID: cs.UserID,
		Scopes: scopeList(cs.Scopes), Nonce: cs.Nonce, CreatedAt: toDB(cs.CreatedAt)}
	return stmtErr("create client session", conn(ctx, s.db).Create(&rec))
}

// ClientSession implements oidcprovider.ClientSessionStore.
func (s *OAuthStore) ClientSession(ctx context.Context, sessionID string) (oauth.ClientSession, error) {
	if !id.Valid(sessionID) {
		return oauth.ClientSession{}, session.ErrNotFound
	}
	return takeOne("read client session", conn(ctx, s.db).Where("session_id = ?", sessionID), session.ErrNotFound,
		clientSessionRecord.toDomain)
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
	}, func(db *gorm.DB, ids []string) error {
		if !s.events.Enabled() {
			return nil
		}
		// A client's sessions belong to many accounts: each event names its own.
		var owned []ownedSession
		res := db.Model(&sessionRecord{}).Select("id, user_id").Where("id IN ?", ids).Order("id").Scan(&owned)
		if err := stmtErr("read revoked client sessions", res); err != nil {
			return err
		}
		return publishRevoked(withTx(ctx, db), s.events, owned, reason, now)
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
