package httpadapter

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"
)

// The endpoints integrators use besides the auth flow itself: the session
// check resource servers call in online mode, the discovery document generic
// OIDC-aware verifiers read, and the root that sends a newcomer to the docs.

// sessionStateDTO is what GET /auth/session tells a resource server about the
// session of the bearer token: it is alive (a dead one is 401), and who it is.
type sessionStateDTO struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	Active bool   `json:"active"`
	// Roles are the account's current roles, which may differ from the
	// token's when they changed after it was minted.
	Roles          []string `json:"roles"`
	AuthTime       string   `json:"authTime"`
	Fresh          bool     `json:"fresh"`
	Methods        []string `json:"amr"`
	TokenExpiresAt string   `json:"tokenExpiresAt"`
}

// sessionState answers whether the bearer's session is still alive. The auth
// middleware already did the work (signature, expiry, liveness); this only
// reports it, so the answer costs what any authenticated request costs.
func (h *handlers) sessionState(c echo.Context) error {
	p := principal(c)
	roles := p.User.Roles
	if p.User.ID == "" {
		roles = p.Claims.Roles
	}
	if roles == nil {
		roles = []string{}
	}
	amr := p.Claims.Methods
	if amr == nil {
		amr = []string{}
	}
	noStore(c)
	return ok(c, http.StatusOK, "Session active", sessionStateDTO{
		ID: p.Claims.SessionID, UserID: p.Claims.Subject, Active: true, Roles: roles,
		AuthTime: rfc3339(p.Claims.AuthTime), Fresh: p.Claims.Fresh, Methods: amr,
		TokenExpiresAt: rfc3339(p.Claims.ExpiresAt),
	})
}

// discoveryDTO is the subset of OpenID Connect Discovery 1.0 metadata that
// holds for Gatehouse: where the keys are and which algorithms sign. It is a
// plain JSON document (like the JWK Set), not an envelope, since generic
// libraries read it as is.
type discoveryDTO struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
	// The provider's endpoints and capabilities, when it is served.
	*providerMetadata
	SigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenSigningAlgs []string `json:"access_token_signing_alg_values_supported"`
	SubjectTypes           []string `json:"subject_types_supported"`
	ClaimsSupported        []string `json:"claims_supported"`
}

// tokenClaims are the claims an access token carries (the contract's list).
var tokenClaims = []string{"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "auth_time", "fresh", "amr", "aal", "roles", "app_metadata"}

// idTokenClaims are the claims the provider's ID tokens and userinfo carry.
var idTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "sid",
	"at_hash", "c_hash", "email", "email_verified", "name"}

// discovery answers the discovery document. Every URL in it comes from
// PUBLIC_URL, never from the request's Host or X-Forwarded-* headers, so the
// document is the same for every request and a shared cache may keep it: a
// forged header can neither point a verifier at other keys nor poison a
// cache with such a document.
func (h *handlers) discovery(c echo.Context) error {
	algs := jwksAlgorithms(h.jwks())
	doc := discoveryDTO{
		Issuer: h.issuer, JWKSURI: h.publicURL + "/.well-known/jwks.json",
		SigningAlgs: algs, AccessTokenSigningAlgs: algs,
		SubjectTypes: []string{"public"}, ClaimsSupported: tokenClaims,
	}
	if h.oidc != nil {
		// An OpenID client checks that the issuer is the URL it read this
		// document from; the provider's endpoints derive from it.
		md := h.oidc.metadata()
		doc.providerMetadata = &md
		doc.Issuer = strings.TrimRight(h.oidc.Issuer, "/")
		doc.SigningAlgs = []string{"RS256", "EdDSA"}
		doc.ClaimsSupported = mergeClaims(tokenClaims, idTokenClaims)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json; charset=utf-8", b)
}

// jwksAlgorithms lists the distinct "alg" values of a JWK Set document.
func jwksAlgorithms(set []byte) []string {
	var doc struct {
		Keys []struct {
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	out := []string{}
	if json.Unmarshal(set, &doc) != nil {
		return out
	}
	seen := map[string]bool{}
	for _, k := range doc.Keys {
		if k.Alg != "" && !seen[k.Alg] {
			seen[k.Alg] = true
			out = append(out, k.Alg)
		}
	}
	sort.Strings(out)
	return out
}

// root sends a browser that opens the service's address to the docs.
func root(c echo.Context) error {
	return c.Redirect(http.StatusFound, "/docs")
}

// mergeClaims lists a's claims, then b's not in a.
func mergeClaims(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
