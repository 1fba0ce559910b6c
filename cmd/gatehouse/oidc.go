package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/oidcop"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// The OpenID provider's part of the graph: its store, its RSA keys, the
// client sessions' refresh tokens (rotated by a Refresher of their own),
// its use cases and the protocol handler. Built whether or not
// OIDC_PROVIDER_ENABLED is on (the command line registers clients either
// way); the routes are served only when it is.

// providerKeys are the RSA keys that sign ID tokens and clients' access
// tokens: a token.Service of its own, on its own table, made lazily.
type providerKeys struct{ *token.Service }

// idTokenTTL is the lifetime of ID tokens.
const idTokenTTL = time.Hour

// newOAuthStore is the provider's store, reporting the sessions its flows
// end (a revoked grant or token, a deleted client) to the outbox.
func newOAuthStore(db *gorm.DB, events *persistence.WebhookOutbox) *persistence.OAuthStore {
	return persistence.NewOAuthStore(db).Publishing(events)
}

// oidcModule is the OpenID provider (see above).
func oidcModule() fx.Option {
	return fx.Module("oidc",
		fx.Provide(
			newOAuthStore,
			func(db *gorm.DB, ring *sealbox.Keyring) *persistence.OIDCKeyStore {
				return persistence.NewOIDCKeyStore(db, ring)
			},
			newProviderKeys,
			newClientRotator,
			newClientAdmin,
			newAuthorizer,
			newTokensDeps,
			oidcprovider.NewCodeExchanger,
			oidcprovider.NewClientTokens,
			newGrants,
			newOIDCProvider,
		),
		fx.Invoke(scheduleProvider),
	)
}

func newProviderKeys(cfg config.Config, store *persistence.OIDCKeyStore) (providerKeys, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := store.SealAtRest(ctx); err != nil {
		return providerKeys{}, err
	}
	tc := tokenConfig(cfg)
	tc.PrivateKeyFile = ""
	tc.Algorithm, tc.Lazy = token.AlgRS256, true
	// A retired key stays published until the last token it signed has
	// expired: ID tokens live longest.
	tc.TTL = max(cfg.OIDC.AccessTokenTTL, idTokenTTL)
	s, err := token.NewService(ctx, tc, store.KeyStore, time.Now)
	if err != nil {
		return providerKeys{}, err
	}
	return providerKeys{s}, nil
}

// clientRotator rotates clients' refresh tokens with the app's rules: a
// Refresher over the client codec (whose tokens the app's refresh refuses).
type clientRotator struct{ r *authn.Refresher }

func (c clientRotator) Rotate(ctx context.Context, raw, ip, userAgent string) (session.Session, user.User, string, error) {
	rot, err := c.r.Rotate(ctx, raw, authn.Meta{IP: ip, UserAgent: userAgent})
	return rot.Session, rot.User, rot.RefreshToken, err
}

func newClientRotator(d authDeps, live *authn.LivenessCache) clientRotator {
	return clientRotator{authn.NewRefresher(authn.RefresherDeps{
		Sessions: d.Sessions, Codec: d.Codec.ForClients(), Tokens: d.Tokens, Audit: d.Audit, Tx: d.Tx,
		Clock: d.Clock, Live: live, Observer: d.observer(), Policy: sessionPolicy(d.Cfg), Events: d.Events,
	})}
}

type oidcDeps struct {
	fx.In
	Cfg      config.Config
	Store    *persistence.OAuthStore
	Sessions *persistence.SessionStore
	Audit    *persistence.AuditLog
	Tx       *persistence.Transactor
	Clock    systemClock
	Live     *authn.LivenessCache
}

func newClientAdmin(d oidcDeps, keys providerKeys) *oidcprovider.ClientAdmin {
	stepUp := stepUpPolicy(d.Cfg)
	return oidcprovider.NewClientAdmin(oidcprovider.ClientAdminDeps{
		Clients: d.Store, Sessions: d.Store, Tx: d.Tx, Clock: d.Clock, Live: d.Live, Keys: keys,
		StepUp: &stepUp,
	})
}

func newAuthorizer(d oidcDeps) *oidcprovider.Authorizer {
	return oidcprovider.NewAuthorizer(oidcprovider.AuthorizerDeps{
		Clients: d.Store, Requests: d.Store, Grants: d.Store, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Sessions: d.Sessions, CodeTTL: d.Cfg.OIDC.CodeTTL,
	})
}

func newTokensDeps(d oidcDeps, codec *session.RefreshCodec, rot clientRotator) oidcprovider.TokensDeps {
	return oidcprovider.TokensDeps{
		Requests: d.Store, Sessions: d.Sessions, ClientSessions: d.Store, Refresh: codec.ForClients(),
		Rotator: rot, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Live: d.Live, Policy: sessionPolicy(d.Cfg),
		AccessTokenTTL: d.Cfg.OIDC.AccessTokenTTL, MaxSessionsPerUser: d.Cfg.Session.MaxPerUser,
	}
}

func newGrants(d oidcDeps) *oidcprovider.Grants {
	stepUp := stepUpPolicy(d.Cfg)
	return oidcprovider.NewGrants(oidcprovider.GrantsDeps{
		Grants: d.Store, Sessions: d.Store, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Live: d.Live,
		StepUp: &stepUp,
	})
}

type providerDeps struct {
	fx.In
	Cfg        config.Config
	Clients    *oidcprovider.ClientAdmin
	Authorizer *oidcprovider.Authorizer
	Exchanger  *oidcprovider.CodeExchanger
	Tokens     *oidcprovider.ClientTokens
	Grants     *oidcprovider.Grants
	RSA        providerKeys
	EdDSA      *token.Service
}

// newOIDCProvider is what the HTTP layer serves of the provider; nil when
// OIDC_PROVIDER_ENABLED is off.
func newOIDCProvider(d providerDeps) (*httpadapter.OIDCProvider, error) {
	if !d.Cfg.OIDC.Enabled {
		return nil, nil
	}
	h, err := oidcop.New(oidcop.Config{
		Issuer: d.Cfg.OIDC.Issuer, LoginURL: d.Cfg.OIDC.LoginURL,
		AccessTokenTTL: d.Cfg.OIDC.AccessTokenTTL, IDTokenTTL: idTokenTTL,
		LogoutRedirect: d.Cfg.Mail.PublicURL + "/",
	}, oidcop.Deps{
		Clients: d.Clients, Authorizations: d.Authorizer, Exchanger: d.Exchanger, Tokens: d.Tokens,
		RSA: d.RSA, EdDSA: d.EdDSA, Now: time.Now,
	})
	if err != nil {
		return nil, err
	}
	return &httpadapter.OIDCProvider{
		Protocol: h, Requests: d.Authorizer, Clients: d.Clients, Grants: d.Grants, Issuer: d.Cfg.OIDC.Issuer,
	}, nil
}

// scheduleProvider reloads and rotates the RSA keys like the access-token
// keys, and purges spent authorization requests.
func scheduleProvider(r *scheduler.Runner, cfg config.Config, keys providerKeys, a *oidcprovider.Authorizer, log *slog.Logger) {
	scheduleKeySet(r, cfg, "oidc-key", "ID-token signing key rotated", keys.Service, log)
	r.Every("oidc-request-purge", cfg.Session.PurgeInterval, func(ctx context.Context) error {
		_, err := a.PurgeExpired(ctx)
		return err
	})
}

// mergeJWKS is the one JWK Set of the access-token keys and the provider's
// RSA keys (RFC 7517: one document, keys told apart by kid).
func mergeJWKS(sets ...func() []byte) func() []byte {
	return func() []byte {
		var all []json.RawMessage
		for _, set := range sets {
			var doc struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if json.Unmarshal(set(), &doc) == nil {
				all = append(all, doc.Keys...)
			}
		}
		if all == nil {
			all = []json.RawMessage{}
		}
		b, _ := json.Marshal(struct {
			Keys []json.RawMessage `json:"keys"`
		}{all})
		return b
	}
}
