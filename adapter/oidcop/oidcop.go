// Package oidcop speaks OpenID Connect for Gatehouse as a provider, on
// github.com/zitadel/oidc/v3's op package (OpenID-certified): the protocol
// endpoints (authorize, token, userinfo, revocation, end session), their
// parsing, client authentication, PKCE, token responses and errors are the
// library's. This package only adapts: it implements the library's Storage
// on the use cases of usecase/oidcprovider, signs with Gatehouse's keys,
// and tightens three defaults (an unknown client is a 400, never a server
// error; a code issued with a PKCE challenge needs its verifier from every
// client; access tokens are RFC 9068 JWTs).
package oidcop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// Paths of the protocol endpoints.
const (
	PathAuthorize = "/oauth2/authorize"
	PathToken     = "/oauth2/token"
	PathUserinfo  = "/oauth2/userinfo"
	PathRevoke    = "/oauth2/revoke"
	PathLogout    = "/oauth2/logout"
)

// Clients reads and authenticates registered clients.
type Clients interface {
	Get(ctx context.Context, clientID string) (oauth.Client, error)
	Authenticate(ctx context.Context, clientID, secret string) (oauth.Client, error)
}

// Authorizations stores authorization requests for the login page.
type Authorizations interface {
	Begin(ctx context.Context, r oauth.Request) (oauth.Request, error)
}

// Exchanger spends codes and opens client sessions.
type Exchanger interface {
	Peek(ctx context.Context, code string) (oauth.Request, error)
	Spend(ctx context.Context, code string) (oauth.Request, error)
	Open(ctx context.Context, r oauth.Request, ip, userAgent string) (oidcprovider.Opened, error)
}

// Tokens serves refresh, userinfo, revocation and logout.
type Tokens interface {
	RefreshGrant(ctx context.Context, raw string) (oidcprovider.Grant, error)
	Rotate(ctx context.Context, raw, ip, userAgent string) (oidcprovider.Grant, string, error)
	Check(ctx context.Context, sessionID, clientID, userID string) (oidcprovider.Grant, error)
	Revoke(ctx context.Context, clientID, sessionID string) error
	EndSession(ctx context.Context, clientID, userID, sessionID string) error
}

// KeySet is a set of signing keys: the one signing now, and all public ones.
type KeySet interface {
	SignerAt(t time.Time) (auth.KeySigner, bool)
	PublicKeys() []auth.PublicKey
}

// LazyKeySet is a KeySet that makes its first key when asked, and may
// learn of keys another instance made.
type LazyKeySet interface {
	KeySet
	Ensure(ctx context.Context) error
	PublicKeyByKID(kid string) (auth.PublicKey, bool)
	LoadIfEmpty()
}

// Config are the provider's settings.
type Config struct {
	// Issuer is the iss of every token and the base of every endpoint.
	Issuer string
	// LoginURL is where /oauth2/authorize sends the browser; "{id}" is
	// replaced by the request's ID.
	LoginURL string
	// AccessTokenTTL is the lifetime of clients' access tokens.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens.
	IDTokenTTL time.Duration
	// LogoutRedirect is where logout goes without a post_logout_redirect_uri.
	LogoutRedirect string
}

// Deps are the use cases and keys the provider works with.
type Deps struct {
	Clients        Clients
	Authorizations Authorizations
	Exchanger      Exchanger
	Tokens         Tokens
	// RSA signs RS256 ID tokens and every access token; EdDSA signs the ID
	// tokens of clients registered for it (the app's own keys).
	RSA   LazyKeySet
	EdDSA KeySet
	Now   func() time.Time
}

// New returns the handler of the protocol endpoints (the Paths above).
func New(cfg Config, d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	st := &storage{cfg: cfg, d: d}
	opts := []op.Option{
		op.WithCrypto(&accessTokens{st: st}),
		// Access tokens are checked only by accessTokens (signature, typ,
		// iss, exp); the library's own fallback check gets no keys, so an
		// ID token can never pass for an access token.
		op.WithAccessTokenKeySet(noKeys{}),
		// id_token_hint is an ID token of either algorithm.
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms("RS256", "EdDSA")),
	}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Scheme == "http" {
		// Development and tests on http://localhost.
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(&op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		DefaultLogoutRedirectURI: cfg.LogoutRedirect,
	}, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(PathAuthorize),
		Token:         op.NewEndpoint(PathToken),
		Userinfo:      op.NewEndpoint(PathUserinfo),
		Revocation:    op.NewEndpoint(PathRevoke),
		EndSession:    op.NewEndpoint(PathLogout),
	}
	srv := &server{LegacyServer: op.NewLegacyServer(provider, endpoints), st: st}
	// The library's login callback is not used: the login page accepts
	// through Gatehouse's own API and gets the redirect from it.
	return op.RegisterLegacyServer(srv, http.NotFound), nil
}

// server tightens the library's LegacyServer where Gatehouse's rules are
// stricter.
type server struct {
	*op.LegacyServer
	st *storage
}

// VerifyAuthRequest answers an unknown client with 400 invalid_request
// (never a redirect, and not the library's 500).
func (s *server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.ClientID == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("client_id is missing")
	}
	c, err := s.st.GetClientByClientID(ctx, r.Data.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client_id").WithParent(err)
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: c}, nil
}

// CodeExchange refuses a code issued with a PKCE challenge when no verifier
// comes with it: the library checks PKCE only for public clients or when a
// verifier is sent, which would let a confidential client's stolen code be
// exchanged without it (RFC 9700 2.1.1).
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	if r.Data.CodeVerifier == "" {
		if req, err := s.st.d.Exchanger.Peek(ctx, r.Data.Code); err == nil && req.CodeChallenge != "" {
			return nil, oidc.ErrInvalidGrant().WithDescription("code_verifier is required")
		}
	}
	return s.LegacyServer.CodeExchange(withClient(ctx, r.Client), r)
}

// RefreshToken signs with the client's algorithm.
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	return s.LegacyServer.RefreshToken(withClient(ctx, r.Client), r)
}

type clientCtxKey struct{}

// withClient remembers the client of a token request, so SigningKey picks
// its ID-token algorithm.
func withClient(ctx context.Context, c op.Client) context.Context {
	return context.WithValue(ctx, clientCtxKey{}, c)
}

func clientFrom(ctx context.Context) *client {
	c, _ := ctx.Value(clientCtxKey{}).(*client)
	return c
}

// loginURL fills the request ID into the login page's URL.
func loginURL(template, requestID string) string {
	return strings.ReplaceAll(template, "{id}", url.QueryEscape(requestID))
}

// oauthErr maps the use cases' errors to OAuth errors the library sends.
func oauthErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oidcprovider.ErrLoginRequired):
		return oidc.ErrLoginRequired().WithDescription("%s", err.Error())
	case errors.Is(err, oidcprovider.ErrPKCERequired), errors.Is(err, oidcprovider.ErrPKCEMethod),
		errors.Is(err, oidcprovider.ErrResponseMode), errors.Is(err, oidcprovider.ErrScopeOpenID):
		return oidc.ErrInvalidRequest().WithDescription("%s", err.Error())
	case errors.Is(err, oauth.ErrCodeInvalid), errors.Is(err, oauth.ErrCodeReused):
		return oidc.ErrInvalidGrant().WithDescription("code is invalid, expired or already used").WithParent(err)
	}
	return err
}
