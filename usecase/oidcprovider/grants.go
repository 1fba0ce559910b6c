package oidcprovider

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
)

// GrantsDeps are the ports of Grants.
type GrantsDeps struct {
	Grants   GrantStore
	Sessions ClientSessionStore
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	Live     Evicter
	// StepUp, when not nil, is the freshness rule for withdrawing a consent.
	StepUp *auth.StepUpPolicy
}

// Grants lets users see and withdraw the consents they gave, and names the
// clients of sessions for the session list.
type Grants struct{ d GrantsDeps }

// NewGrants returns Grants.
func NewGrants(d GrantsDeps) *Grants { return &Grants{d: d} }

// List lists userID's consents, newest first.
func (g *Grants) List(ctx context.Context, userID string) ([]oauth.Grant, error) {
	return g.d.Grants.ListGrants(ctx, userID)
}

// Revoke withdraws userID's consent to clientID and ends that client's
// sessions of the account (an oauth_grant_revoked event);
// oauth.ErrGrantNotFound when there is none.
func (g *Grants) Revoke(ctx context.Context, p auth.Principal, clientID, ip, userAgent string) error {
	if g.d.StepUp != nil {
		if err := g.d.StepUp.Check(p.Claims, g.d.Clock.Now()); err != nil {
			return err
		}
	}
	userID, sessionID := p.UserID(), p.SessionID()
	var ended []string
	err := g.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := g.d.Clock.Now().UTC()
		if err := g.d.Grants.DeleteGrant(ctx, userID, clientID); err != nil {
			return err
		}
		var err error
		ended, err = g.d.Sessions.RevokeClientSessions(ctx, SessionFilter{UserID: userID, ClientID: clientID}, ReasonGrantRevoked, now)
		if err != nil {
			return err
		}
		return g.d.Audit.Append(ctx, audit.Event{ID: id.New(), UserID: userID, SessionID: sessionID,
			Type: audit.OAuthGrantRevoked, IP: ip, UserAgent: userAgent, CreatedAt: now})
	})
	if err == nil {
		g.d.Live.Evict(ended...)
	}
	return err
}

// SessionClients names the clients of those of sessionIDs that belong to
// clients.
func (g *Grants) SessionClients(ctx context.Context, sessionIDs []string) (map[string]oauth.Ref, error) {
	if len(sessionIDs) == 0 {
		return map[string]oauth.Ref{}, nil
	}
	return g.d.Sessions.SessionClients(ctx, sessionIDs)
}
