package oauthclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/domain/federation"
)

// oidcProvider is an OpenID Connect issuer.
type oidcProvider struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
}

func newOIDC(c Config, client *http.Client) *oidcProvider {
	return &oidcProvider{cfg: c, client: client}
}

// load reads the discovery document once it answers; until then every
// call fails with federation.ErrProviderUnavailable and the next one retries.
func (p *oidcProvider) load(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return nil
	}
	// go-oidc checks that the document's issuer is exactly the configured
	// one (OpenID Connect Discovery 1.0 section 4.3).
	prov, err := oidc.NewProvider(withClient(ctx, p.client), p.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", federation.ErrProviderUnavailable, p.cfg.ID, err)
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = prov.Claims(&meta)
	ep := prov.Endpoint()
	// client_secret_basic, unless the provider says it takes only
	// client_secret_post (the default when it says nothing is basic,
	// OpenID Connect Discovery 1.0).
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
		slices.Contains(meta.AuthMethods, "client_secret_post") {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	p.conf = oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: ep,
		RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes,
	}
	// Checks signature (the issuer's JWKS), iss, aud (our client id) and
	// exp; the nonce is checked in Identify.
	p.verifier = prov.VerifierContext(withClient(context.Background(), p.client), &oidc.Config{ClientID: p.cfg.ClientID})
	p.provider = prov
	return nil
}

// AuthURL implements federation.Provider.
func (p *oidcProvider) AuthURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	if err := p.load(ctx); err != nil {
		return "", err
	}
	return p.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// idClaims are the ID token's (and userinfo's) claims read here.
type idClaims struct {
	Subject       string          `json:"sub"`
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
	Name          string          `json:"name"`
}

// verified reads email_verified, which some providers send as a string.
func (c idClaims) verified() bool {
	s := string(c.EmailVerified)
	return s == "true" || s == `"true"`
}

// Identify implements federation.Provider.
func (p *oidcProvider) Identify(ctx context.Context, code, verifier, nonce string) (federation.Claims, error) {
	if err := p.load(ctx); err != nil {
		return federation.Claims{}, err
	}
	ctx = withClient(ctx, p.client)
	tok, err := p.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return federation.Claims{}, fmt.Errorf("%w: code exchange: %v", federation.ErrFailed, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return federation.Claims{}, fmt.Errorf("%w: no id_token", federation.ErrFailed)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return federation.Claims{}, fmt.Errorf("%w: id token: %v", federation.ErrFailed, err)
	}
	// OpenID Connect Core 3.1.3.7 step 11: the nonce sent must come back.
	if idt.Nonce != nonce {
		return federation.Claims{}, fmt.Errorf("%w: id token: nonce mismatch", federation.ErrFailed)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return federation.Claims{}, fmt.Errorf("%w: id token claims: %v", federation.ErrFailed, err)
	}
	if c.Email == "" {
		// Providers may keep the address to userinfo; its sub must be the
		// ID token's (OpenID Connect Core 5.3.2).
		info, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return federation.Claims{}, fmt.Errorf("%w: userinfo: %v", federation.ErrFailed, err)
		}
		var u idClaims
		if err := info.Claims(&u); err != nil || u.Subject != idt.Subject {
			return federation.Claims{}, fmt.Errorf("%w: userinfo subject mismatch", federation.ErrFailed)
		}
		c.Email, c.EmailVerified = u.Email, u.EmailVerified
		if c.Name == "" {
			c.Name = u.Name
		}
	}
	return federation.Claims{Subject: idt.Subject, Email: c.Email, EmailVerified: c.verified(), Name: c.Name}, nil
}
