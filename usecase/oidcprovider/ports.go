// Package oidcprovider holds the use cases of Gatehouse as an OpenID
// provider: clients registered by administrators, the login hand-off (an
// authorization request stored for the app's login page, accepted or
// rejected with the user's token), the code exchange that opens a client
// session, the rotation of clients' refresh tokens, what a client's access
// token may read, revocation, and the consents users give. The protocol is
// spoken by a certified library in adapter/oidcop, which calls these use
// cases through its storage; nothing here knows OAuth's wire format.
//
// A client's authorization is a session like any other (the sessions table,
// its lifetimes, refresh-token rotation and reuse detection, the per-account
// cap, and every revocation path: logout everywhere, password change or
// reset, disabling, deletion), plus a row naming the client and the scopes
// it was granted. So whatever ends a user's sessions ends the clients'
// tokens too, with no extra rule to forget.
package oidcprovider

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Transactor runs fn in one database transaction; stores called with fn's
// ctx take part in it.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// ClientStore keeps registered clients.
type ClientStore interface {
	// CreateClient inserts c.
	CreateClient(ctx context.Context, c oauth.Client) error
	// ClientByID finds a client; oauth.ErrClientNotFound if none.
	ClientByID(ctx context.Context, id string) (oauth.Client, error)
	// ListClients lists every client, oldest first.
	ListClients(ctx context.Context) ([]oauth.Client, error)
	// DeleteClient removes a client with its requests, grants and client
	// sessions rows; oauth.ErrClientNotFound if none.
	DeleteClient(ctx context.Context, id string) error
}

// RequestStore keeps authorization requests.
type RequestStore interface {
	CreateRequest(ctx context.Context, r oauth.Request) error
	// RequestByID finds a request; oauth.ErrRequestNotFound if none.
	RequestByID(ctx context.Context, id string) (oauth.Request, error)
	// UpdateRequest loads request id under a lock until the transaction
	// ends, calls fn and writes what fn leaves; oauth.ErrRequestNotFound.
	UpdateRequest(ctx context.Context, id string, fn func(*oauth.Request) error) error
	// SpendCode marks the code whose hash is hash used at now, if it is
	// unused and unexpired, in one statement, and returns its request.
	// Otherwise: oauth.ErrCodeReused with the request when it was spent
	// before, oauth.ErrCodeInvalid when unknown or expired.
	SpendCode(ctx context.Context, hash [32]byte, now time.Time) (oauth.Request, error)
	// RequestByCode finds the request of a code without spending it;
	// oauth.ErrCodeInvalid if none.
	RequestByCode(ctx context.Context, hash [32]byte) (oauth.Request, error)
	// PurgeRequests deletes requests that expired before before (their
	// codes with them) and returns how many.
	PurgeRequests(ctx context.Context, before time.Time) (int, error)
}

// GrantStore keeps consents.
type GrantStore interface {
	// Grant finds userID's consent to clientID; oauth.ErrGrantNotFound.
	Grant(ctx context.Context, userID, clientID string) (oauth.Grant, error)
	// SaveGrant inserts or replaces g.
	SaveGrant(ctx context.Context, g oauth.Grant) error
	// ListGrants lists userID's consents, newest first.
	ListGrants(ctx context.Context, userID string) ([]oauth.Grant, error)
	// DeleteGrant removes one; oauth.ErrGrantNotFound if none.
	DeleteGrant(ctx context.Context, userID, clientID string) error
}

// ClientSessionStore keeps which sessions belong to clients, and ends them.
type ClientSessionStore interface {
	CreateClientSession(ctx context.Context, cs oauth.ClientSession) error
	// ClientSession finds the client row of a session; session.ErrNotFound
	// when the session is not a client's.
	ClientSession(ctx context.Context, sessionID string) (oauth.ClientSession, error)
	// RevokeClientSessions revokes the active client sessions that match
	// f, with reason, at now, and returns their IDs.
	RevokeClientSessions(ctx context.Context, f SessionFilter, reason string, now time.Time) ([]string, error)
	// SessionClients names the clients of those of ids that are client
	// sessions.
	SessionClients(ctx context.Context, ids []string) (map[string]oauth.Ref, error)
}

// SessionFilter selects client sessions: every set field must match, and
// at least one is set.
type SessionFilter struct {
	SessionID string
	UserID    string
	ClientID  string
}

// Sessions is what the provider needs of the session store.
type Sessions interface {
	// Create inserts a new session; user.ErrNotFound when its user is gone.
	Create(ctx context.Context, s session.Session) error
	// WithUser finds a session, revoked or not, and its user.
	WithUser(ctx context.Context, id string) (session.Session, user.User, error)
	// Liveness reads what decides whether a session's tokens still work,
	// and its user.
	Liveness(ctx context.Context, id string) (session.Liveness, user.User, error)
	// RevokeBeyond revokes userID's oldest active sessions beyond keep.
	RevokeBeyond(ctx context.Context, userID string, keep int, reason string, now time.Time) ([]string, error)
}

// Rotator rotates a client's refresh token with the rules of the app's:
// the current one rotates, its predecessor within the grace interval gets
// the same successor, an older one revokes the session
// (session.ErrRefreshReused), anything else is session.ErrRefreshInvalid.
type Rotator interface {
	Rotate(ctx context.Context, raw, ip, userAgent string) (session.Session, user.User, string, error)
}

// RefreshTokens issues and reads the refresh tokens of client sessions.
type RefreshTokens interface {
	Issue(sessionID string, gen int64) (string, [32]byte, error)
	Parse(raw string) (session.Presented, error)
}

// Users reads accounts.
type Users interface {
	ByID(ctx context.Context, id string) (user.User, error)
}

// AuditLog records security events in the caller's transaction.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
}

// Evicter makes this instance forget sessions it may have cached as live.
type Evicter interface {
	Evict(ids ...string)
}
