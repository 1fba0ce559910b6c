// Package oauthclient speaks to other identity providers for the
// federation use cases: any OpenID Connect issuer (discovery, JWKS and the
// ID token's checks through github.com/coreos/go-oidc/v3, the code flow
// through golang.org/x/oauth2) and GitHub (OAuth 2.0 plus its user and
// emails API). Nothing from the provider leaves this package but the
// checked claims.
package oauthclient

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/usecase/providers"
)

// Config is one configured provider.
type Config struct {
	// ID is the provider's id in URLs ([a-z0-9-]{1,32}).
	ID   string
	Name string
	// Issuer is the OpenID Connect issuer; empty for GitHub.
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// RedirectURL is {PUBLIC_URL}/auth/oauth/{id}/callback.
	RedirectURL string
	// GitHubURL and GitHubAPIURL point GitHub (or GitHub Enterprise)
	// elsewhere; used when Issuer is empty.
	GitHubURL, GitHubAPIURL string
}

// requestTimeout bounds every call to a provider.
const requestTimeout = 10 * time.Second

// Info is what GET /auth/providers shows of a provider.
type Info struct{ ID, Name string }

// Registry holds the configured providers in configured order.
type Registry struct {
	order []Info
	byID  map[string]providers.Provider
}

var _ providers.Providers = (*Registry)(nil)

// New builds a provider for every config; client is the HTTP client
// they use (nil: one with requestTimeout). Nothing is fetched here: an
// issuer's discovery is read on first use and retried until it answers,
// so a provider that is down never stops the start.
func New(cfgs []Config, client *http.Client) *Registry {
	if client == nil {
		client = &http.Client{Timeout: requestTimeout}
	}
	r := &Registry{byID: map[string]providers.Provider{}}
	for _, c := range cfgs {
		r.order = append(r.order, Info{ID: c.ID, Name: c.Name})
		if c.Issuer == "" {
			r.byID[c.ID] = newGitHub(c, client)
		} else {
			r.byID[c.ID] = newOIDC(c, client)
		}
	}
	return r
}

// Provider implements providers.Providers.
func (r *Registry) Provider(id string) (providers.Provider, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// List returns the providers in configured order.
func (r *Registry) List() []Info { return append([]Info{}, r.order...) }

// withClient makes oauth2 and go-oidc use client.
func withClient(ctx context.Context, client *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}
