package persistence

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// OAuthStore keeps what Gatehouse knows as an OpenID provider: clients,
// authorization requests and their codes, consents, and which sessions
// belong to clients.
type OAuthStore struct {
	db *gorm.DB
	// events, when set, receives session.revoked for the sessions the
	// provider's flows end (RevokeClientSessions).
	events *WebhookOutbox
}

var (
	_ oidcprovider.ClientStore        = (*OAuthStore)(nil)
	_ oidcprovider.RequestStore       = (*OAuthStore)(nil)
	_ oidcprovider.GrantStore         = (*OAuthStore)(nil)
	_ oidcprovider.ClientSessionStore = (*OAuthStore)(nil)
)

// NewOAuthStore returns an OAuthStore on db.
func NewOAuthStore(db *gorm.DB) *OAuthStore { return &OAuthStore{db: db} }

// Publishing makes the store report the sessions it revokes to o.
func (s *OAuthStore) Publishing(o *WebhookOutbox) *OAuthStore {
	s.events = o
	return s
}

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
	return stmtErr("create oauth client", conn(ctx, s.db).Create(&rec))
}

// ClientByID implements oidcprovider.ClientStore.
func (s *OAuthStore) ClientByID(ctx context.Context, clientID string) (oauth.Client, error) {
	if !id.Valid(clientID) {
		return oauth.Client{}, oauth.ErrClientNotFound
	}
	return takeOne("read oauth client", conn(ctx, s.db).Where("client_id = ?", clientID), oauth.ErrClientNotFound, clientRecord.toDomain)
}

// ListClients implements oidcprovider.ClientStore.
func (s *OAuthStore) ListClients(ctx context.Context) ([]oauth.Client, error) {
	return findAll("list oauth clients", conn(ctx, s.db).Order("created_at, client_id"), clientRecord.toDomain)
}

// DeleteClient implements oidcprovider.ClientStore; the foreign keys take
// its requests, grants and client-session rows with it.
func (s *OAuthStore) DeleteClient(ctx context.Context, clientID string) error {
	if !id.Valid(clientID) {
		return oauth.ErrClientNotFound
	}
	return oneRow("delete oauth client", conn(ctx, s.db).Where("client_id = ?", clientID).Delete(&clientRecord{}), oauth.ErrClientNotFound)
}
