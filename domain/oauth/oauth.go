// Package oauth holds what Gatehouse knows as an OpenID provider: the
// registered clients, the authorization requests handed to the login page,
// and the consent users give. The protocol itself (OpenID Connect, OAuth
// 2.0, PKCE) is spoken by a certified library in an adapter; the rules here
// are Gatehouse's own: exact redirect URIs, single-use requests and codes,
// what accepting a request needs, which scopes a consent covers.
package oauth

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors of the provider.
var (
	// ErrClientNotFound means no client has that ID.
	ErrClientNotFound = errors.New("oauth client not found")
	// ErrRequestNotFound means an authorization request that is unknown,
	// used or expired; the contract answers all three alike.
	ErrRequestNotFound = errors.New("authorization request not found")
	// ErrCodeInvalid means a code that is unknown, expired, or already spent.
	ErrCodeInvalid = errors.New("authorization code invalid")
	// ErrCodeReused means a spent code came back; what it issued is revoked.
	ErrCodeReused = errors.New("authorization code reused")
	// ErrGrantNotFound means the user gave that client no consent.
	ErrGrantNotFound = errors.New("grant not found")
)

// The scopes the provider knows.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// KnownScopes are the scopes a client may be registered for, in the order
// the discovery document lists them.
var KnownScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// ID-token signing algorithms a client may be registered with.
const (
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// Prompt values of OpenID Connect Core 3.1.2.1 the provider acts on.
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
)

// Client is an application registered to sign its users in through
// Gatehouse.
type Client struct {
	ID string
	// SecretHash is the SHA-256 of the client secret; zero for a public
	// client, which has none.
	SecretHash             [32]byte
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public clients (single-page and native apps) cannot keep a secret:
	// they authenticate with their client ID and PKCE alone.
	Public bool
	// FirstParty clients belong to the operator: their users are not asked
	// for consent.
	FirstParty bool
	// Scopes are those the client may ask for.
	Scopes []string
	// IDTokenAlg signs its ID tokens: AlgRS256 (the default) or AlgEdDSA.
	IDTokenAlg string
	CreatedAt  time.Time
}

// Ref is how a client is named to users: its ID and name.
type Ref struct {
	ID   string
	Name string
}

// Ref returns c's ID and name.
func (c Client) Ref() Ref { return Ref{ID: c.ID, Name: c.Name} }

// AllowsScope reports whether c may ask for scope.
func (c Client) AllowsScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Registration is what an administrator asks for when registering a client.
type Registration struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	FirstParty             bool
	// Scopes defaults to KnownScopes.
	Scopes []string
	// IDTokenAlg defaults to AlgRS256.
	IDTokenAlg string
}

// FieldError names the registration field that is wrong and why.
type FieldError struct {
	Field   string
	Message string
}

// Error is "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Limits of a registration.
const (
	maxNameLen      = 100
	maxRedirectURIs = 20
	maxURILen       = 2000
)

// Normalize checks r and fills in its defaults. Redirect URIs are kept
// exactly as given, since they are compared exactly.
func (r Registration) Normalize() (Registration, error) {
	r.Name = strings.TrimSpace(r.Name)
	if n := utf8.RuneCountInString(r.Name); n < 1 || n > maxNameLen || strings.ContainsFunc(r.Name, isControl) {
		return r, &FieldError{"name", "must be 1 to 100 characters without control characters"}
	}
	if len(r.RedirectURIs) == 0 || len(r.RedirectURIs) > maxRedirectURIs {
		return r, &FieldError{"redirectUris", "must list 1 to 20 URIs"}
	}
	for _, u := range r.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return r, &FieldError{"redirectUris", err.Error()}
		}
	}
	if len(r.PostLogoutRedirectURIs) > maxRedirectURIs {
		return r, &FieldError{"postLogoutRedirectUris", "must list at most 20 URIs"}
	}
	for _, u := range r.PostLogoutRedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return r, &FieldError{"postLogoutRedirectUris", err.Error()}
		}
	}
	if r.PostLogoutRedirectURIs == nil {
		r.PostLogoutRedirectURIs = []string{}
	}
	r.RedirectURIs = dedupe(r.RedirectURIs)
	r.PostLogoutRedirectURIs = dedupe(r.PostLogoutRedirectURIs)
	if r.Scopes == nil {
		r.Scopes = slices.Clone(KnownScopes)
	}
	for _, s := range r.Scopes {
		if !slices.Contains(KnownScopes, s) {
			return r, &FieldError{"scopes", "unknown scope " + s}
		}
	}
	if !slices.Contains(r.Scopes, ScopeOpenID) {
		return r, &FieldError{"scopes", "must include openid"}
	}
	r.Scopes = dedupe(r.Scopes)
	switch r.IDTokenAlg {
	case "":
		r.IDTokenAlg = AlgRS256
	case AlgRS256, AlgEdDSA:
	default:
		return r, &FieldError{"idTokenSignedResponseAlg", "must be RS256 or EdDSA"}
	}
	return r, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// CheckRedirectURI applies the registration rule of redirect URIs: absolute,
// https (or http on a loopback host, RFC 8252 7.3), no fragment (RFC 6749
// 3.1.2), no user information.
func CheckRedirectURI(raw string) error {
	if len(raw) == 0 || len(raw) > maxURILen {
		return errors.New("must be 1 to 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not carry user information")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return errors.New("must use https (http only on localhost or 127.0.0.1)")
		}
	default:
		return errors.New("must use https (http only on localhost or 127.0.0.1)")
	}
	return nil
}

// RedirectRegistered reports whether uri is one of c's redirect URIs,
// compared exactly (byte for byte, RFC 9700 2.1).
func (c Client) RedirectRegistered(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }

// Request is one authorization request, from /oauth2/authorize until its
// code is spent or it expires.
type Request struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	ResponseMode        string
	Prompt              []string
	// MaxAge is the client's max_age in seconds; nil when it sent none.
	MaxAge    *int64
	CreatedAt time.Time
	ExpiresAt time.Time
	// DoneAt is when the user accepted or rejected it: it is then no
	// longer shown to the login page.
	DoneAt time.Time

	// Set when accepted.
	UserID        string
	GrantedScopes []string
	AuthTime      time.Time
	Methods       []string
	// LoginSessionID is the app session whose token accepted the request.
	LoginSessionID string
	// SessionID is the session the code opens; chosen when the request is
	// accepted, so a reused code knows what to revoke.
	SessionID     string
	CodeHash      [32]byte
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time
}

// Pending reports whether r still waits for the user at now.
func (r Request) Pending(now time.Time) bool { return r.DoneAt.IsZero() && now.Before(r.ExpiresAt) }

// HasPrompt reports whether the client asked for prompt p.
func (r Request) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// Proof is what the signed-in user's access token says about how they
// signed in: the basis for accepting a request.
type Proof struct {
	UserID string
	// SessionID is the app session of that token.
	SessionID string
	AuthTime  time.Time
	// Fresh means the token was minted right after a credential proof.
	Fresh   bool
	Methods []string
	// IssuedAt is when that token was minted.
	IssuedAt time.Time
}

// ErrReauthenticate means the user's sign-in is too old for the request
// (max_age) or the client asked for a new one (prompt=login).
var ErrReauthenticate = errors.New("the request needs a recent sign-in")

// ReauthenticateError is ErrReauthenticate with the age, in seconds, the
// sign-in may have (0: a new one).
type ReauthenticateError struct{ MaxAge int64 }

// Error is ErrReauthenticate's message, whatever the age.
func (e *ReauthenticateError) Error() string { return ErrReauthenticate.Error() }

// Is makes errors.Is(err, ErrReauthenticate) hold.
func (e *ReauthenticateError) Is(target error) bool { return target == ErrReauthenticate }

// CheckProof applies max_age and prompt=login to p at now. With
// prompt=login (or max_age=0) the user must have signed in after the
// request began (a fresh token, auth_time at or after the request's
// creation: p.AuthTime is the session's, to the microsecond, when known);
// with max_age=N, auth_time must be at most N seconds old.
func (r Request) CheckProof(p Proof, now time.Time) error {
	// max_age=0 asks for a sign-in now, like prompt=login (OIDC Core
	// 3.1.2.1); the library also turns prompt=login into max_age=0.
	if r.HasPrompt(PromptLogin) || r.MaxAge != nil && *r.MaxAge == 0 {
		if !p.Fresh || p.AuthTime.Before(r.CreatedAt) {
			return &ReauthenticateError{MaxAge: 0}
		}
		return nil
	}
	if r.MaxAge != nil && now.Sub(p.AuthTime) > time.Duration(*r.MaxAge)*time.Second {
		return &ReauthenticateError{MaxAge: *r.MaxAge}
	}
	return nil
}

// Granted returns the scopes the user grants when accepting r with asked
// (nil means all the request's scopes): a subset of the request's, openid
// always included.
func (r Request) Granted(asked []string) ([]string, error) {
	if asked == nil {
		return slices.Clone(r.Scopes), nil
	}
	out := []string{ScopeOpenID}
	for _, s := range asked {
		if !slices.Contains(r.Scopes, s) {
			return nil, &FieldError{"scopes", "scope " + s + " was not requested"}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Grant is a user's consent to a client for some scopes.
type Grant struct {
	UserID    string
	Client    Ref
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Covers reports whether g already consents to every scope of scopes.
func (g Grant) Covers(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(g.Scopes, s) {
			return false
		}
	}
	return true
}

// Widen adds scopes to g and reports whether any was new.
func (g *Grant) Widen(scopes []string, now time.Time) bool {
	added := false
	for _, s := range scopes {
		if !slices.Contains(g.Scopes, s) {
			g.Scopes = append(g.Scopes, s)
			added = true
		}
	}
	if added {
		g.UpdatedAt = now
	}
	return added
}

// ClientSession is what a client's session holds beyond a session: the
// client and the scopes granted to it.
type ClientSession struct {
	SessionID string
	ClientID  string
	UserID    string
	Scopes    []string
	Nonce     string
	CreatedAt time.Time
}
