package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Reasons the provider revokes client sessions, kept with the session.
const (
	ReasonTokenRevoked  = "oauth_token_revoked"
	ReasonClientDeleted = "oauth_client_deleted"
	ReasonGrantRevoked  = "oauth_grant_revoked"
	ReasonCodeReused    = "oauth_code_reused"
	ReasonClientLogout  = "oauth_logout"
)

// ErrClientAuth means a client ID and secret that do not match (or a
// public client presenting a secret it does not have).
var ErrClientAuth = errors.New("client authentication failed")

// secretBytes is the entropy of a client secret.
const secretBytes = 32

// ClientAdminDeps are the ports of a ClientAdmin.
type ClientAdminDeps struct {
	Clients  ClientStore
	Sessions ClientSessionStore
	Tx       Transactor
	Clock    Clock
	Live     Evicter
	// StepUp, when not nil, is the freshness rule for writes by a signed-in
	// administrator (the command line is exempt).
	StepUp *auth.StepUpPolicy
	// Keys, when not nil, is given its first key by the first registration,
	// so the key that signs a client's tokens is published before them.
	Keys interface {
		Ensure(ctx context.Context) error
	}
}

// Actor is who administers clients: a signed-in administrator, or the
// command line.
type Actor struct {
	Principal auth.Principal
	CLI       bool
}

// authorize admits the command line and callers whose account (as loaded
// with their session) holds the admin role; writes also need a fresh
// token.
func (a *ClientAdmin) authorize(act Actor, write bool) error {
	if act.CLI {
		return nil
	}
	if !act.Principal.User.HasRole(user.RoleAdmin) {
		return auth.ErrForbidden
	}
	if write && a.d.StepUp != nil {
		return a.d.StepUp.Check(act.Principal.Claims, a.d.Clock.Now())
	}
	return nil
}

// ClientAdmin registers, lists and deletes clients, and checks their
// secrets: the administration of who may sign users in through Gatehouse.
type ClientAdmin struct{ d ClientAdminDeps }

// NewClientAdmin returns a ClientAdmin.
func NewClientAdmin(d ClientAdminDeps) *ClientAdmin { return &ClientAdmin{d: d} }

// Register stores a new client and returns it with its secret, which is
// shown only here and stored only as its SHA-256 (empty for a public
// client). A *oauth.FieldError names what is wrong with reg.
func (a *ClientAdmin) Register(ctx context.Context, act Actor, reg oauth.Registration) (oauth.Client, string, error) {
	if err := a.authorize(act, true); err != nil {
		return oauth.Client{}, "", err
	}
	reg, err := reg.Normalize()
	if err != nil {
		return oauth.Client{}, "", err
	}
	if a.d.Keys != nil {
		if err := a.d.Keys.Ensure(ctx); err != nil {
			return oauth.Client{}, "", err
		}
	}
	c := oauth.Client{
		ID: id.New(), Name: reg.Name, RedirectURIs: reg.RedirectURIs,
		PostLogoutRedirectURIs: reg.PostLogoutRedirectURIs, Public: reg.Public, FirstParty: reg.FirstParty,
		Scopes: reg.Scopes, IDTokenAlg: reg.IDTokenAlg, CreatedAt: a.d.Clock.Now().UTC(),
	}
	secret := ""
	if !c.Public {
		secret = newSecret()
		c.SecretHash = sha256.Sum256([]byte(secret))
	}
	if err := a.d.Clients.CreateClient(ctx, c); err != nil {
		return oauth.Client{}, "", err
	}
	return c, secret, nil
}

// List lists every client, without secrets.
func (a *ClientAdmin) List(ctx context.Context, act Actor) ([]oauth.Client, error) {
	if err := a.authorize(act, false); err != nil {
		return nil, err
	}
	return a.d.Clients.ListClients(ctx)
}

// Get finds a client; oauth.ErrClientNotFound.
func (a *ClientAdmin) Get(ctx context.Context, clientID string) (oauth.Client, error) {
	return a.d.Clients.ClientByID(ctx, clientID)
}

// Delete removes a client: its sessions are revoked (their access and
// refresh tokens stop working), its pending requests, codes and the
// consents given to it go with it.
func (a *ClientAdmin) Delete(ctx context.Context, act Actor, clientID string) error {
	if err := a.authorize(act, true); err != nil {
		return err
	}
	var ended []string
	err := a.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if _, err := a.d.Clients.ClientByID(ctx, clientID); err != nil {
			return err
		}
		var err error
		ended, err = a.d.Sessions.RevokeClientSessions(ctx, SessionFilter{ClientID: clientID}, ReasonClientDeleted, a.d.Clock.Now().UTC())
		if err != nil {
			return err
		}
		return a.d.Clients.DeleteClient(ctx, clientID)
	})
	if err == nil {
		a.d.Live.Evict(ended...)
	}
	return err
}

// Authenticate checks a confidential client's secret in constant time.
// Unknown clients, public ones and wrong secrets are all ErrClientAuth.
func (a *ClientAdmin) Authenticate(ctx context.Context, clientID, secret string) (oauth.Client, error) {
	c, err := a.d.Clients.ClientByID(ctx, clientID)
	if errors.Is(err, oauth.ErrClientNotFound) {
		return oauth.Client{}, ErrClientAuth
	}
	if err != nil {
		return oauth.Client{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if c.Public || subtle.ConstantTimeCompare(sum[:], c.SecretHash[:]) != 1 {
		return oauth.Client{}, ErrClientAuth
	}
	return c, nil
}

func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashCode is what is stored of a code.
func hashCode(code string) [32]byte { return sha256.Sum256([]byte(code)) }
