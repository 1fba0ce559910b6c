// Package federation holds the rules of signing in through other identity
// providers (OpenID Connect issuers, GitHub): linked identities, the
// server-side state of a browser flow, the app's one-time code bound to
// its PKCE challenge, the allowed redirect targets and the linking
// decision. Standard library only.
package federation

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Lifetimes of the browser flow, as the contract publishes them.
const (
	// StateTTL is how long a flow begun at the provider may take.
	StateTTL = 10 * time.Minute
	// CodeTTL is how long the app's one-time code lives.
	CodeTTL = 60 * time.Second
)

// Error codes that travel in the redirect's fragment (#error=CODE).
const (
	CodeDenied        = "OAUTH_DENIED"
	CodeFailed        = "OAUTH_FAILED"
	CodeAccountExists = "OAUTH_ACCOUNT_EXISTS"
	CodeIdentityTaken = "OAUTH_IDENTITY_TAKEN"
	CodeEmailRequired = "OAUTH_EMAIL_REQUIRED"
	CodeUserDisabled  = "USER_DISABLED"
	CodeSignupDenied  = "SIGNUP_REJECTED"
	// CodeUnavailable: the before-signup hook did not answer (the
	// envelope's 503 code, in the fragment).
	CodeUnavailable = "SERVICE_UNAVAILABLE"
)

// Sentinel errors.
var (
	// ErrFailed is an unknown, used or expired state or app code, a wrong
	// verifier, or a failed exchange or ID-token check (OAUTH_FAILED).
	ErrFailed = errors.New("oauth: sign-in could not finish")
	// ErrUnknownProvider names a provider that is not configured.
	ErrUnknownProvider = errors.New("oauth: unknown provider")
	// ErrProviderUnavailable means the provider's discovery could not be
	// read (yet); the next request tries again.
	ErrProviderUnavailable = errors.New("oauth: provider unavailable")
	// ErrIdentityNotFound is an identity id the account does not have.
	ErrIdentityNotFound = errors.New("oauth: identity not found")
	// ErrLastSignInMethod refuses removing the account's only way in.
	ErrLastSignInMethod = errors.New("oauth: last sign-in method")
	// ErrIdentityTaken is an identity already linked to another account.
	ErrIdentityTaken = errors.New("oauth: identity linked to another account")
	// ErrDenied means the provider answered with an error (access_denied).
	ErrDenied = errors.New("oauth: denied at the provider")
)

// Identity is an account at another provider linked to a local account:
// (Provider, Subject) is unique.
type Identity struct {
	ID        string
	UserID    string
	Provider  string
	Subject   string
	Email     string
	CreatedAt time.Time
}

// Claims are what a provider asserted about the person, after the
// adapter checked them (the ID token's signature, iss, aud, exp, nonce;
// GitHub's API answers).
type Claims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Flow is the server-side state of one browser trip to a provider, keyed
// by the hash of its state parameter: single use, StateTTL.
type Flow struct {
	StateHash [32]byte
	Provider  string
	// Nonce goes into the ID token (OpenID Connect) and is checked there.
	Nonce string
	// Verifier is the PKCE verifier towards the provider.
	Verifier string
	// RedirectTo is the app's URL, checked against the allow list.
	RedirectTo string
	// CodeChallenge is the app's PKCE challenge (S256), empty for a link.
	CodeChallenge string
	// LinkUserID is set when the flow links an identity to a signed-in
	// account instead of signing in.
	LinkUserID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// AppCode is the one-time code the browser brings back to the app,
// bound to the app's PKCE challenge. The code itself is never stored.
type AppCode struct {
	Hash          [32]byte
	UserID        string
	Provider      string
	CodeChallenge string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Hash is the SHA-256 of a state or code (256-bit random values, so a
// slow hash buys nothing).
func Hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// ValidChallenge reports whether c looks like an S256 code challenge:
// the base64url (unpadded) SHA-256 of a verifier, 43 characters.
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// VerifierMatches reports whether verifier hashes to challenge (RFC 7636
// S256), compared in constant time.
func VerifierMatches(verifier, challenge string) bool {
	// RFC 7636 section 4.1: 43 to 128 unreserved characters.
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// RedirectPolicy is OAUTH_REDIRECT_URLS: exact URLs, or prefixes written
// with a trailing "*".
type RedirectPolicy struct {
	exact    map[string]bool
	prefixes []string
}

// NewRedirectPolicy returns the policy of entries.
func NewRedirectPolicy(entries []string) RedirectPolicy {
	p := RedirectPolicy{exact: map[string]bool{}}
	for _, e := range entries {
		if pre, ok := strings.CutSuffix(e, "*"); ok {
			p.prefixes = append(p.prefixes, pre)
		} else {
			p.exact[e] = true
		}
	}
	return p
}

// Allows reports whether the app may be sent to u. A URL with a fragment
// is refused (the answer goes there), and so is anything with characters
// that could end the URL early when written into a Location header.
func (p RedirectPolicy) Allows(u string) bool {
	if u == "" || len(u) > 2048 || strings.ContainsAny(u, "#\\\r\n\t ") {
		return false
	}
	if p.exact[u] {
		return true
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(u, pre) && !dotSegments(u[len(pre):]) {
			return true
		}
	}
	return false
}

// dotSegments reports a path that climbs out of the allowed prefix.
func dotSegments(rest string) bool {
	return strings.Contains(rest, "..") || strings.Contains(rest, "@")
}

// Decision is what a sign-in with a provider's identity does.
type Decision int

// The decisions of Decide.
const (
	// SignIn: the identity is linked; sign in to its account.
	SignIn Decision = iota + 1
	// SignUp: no account has the address; create one without a password.
	SignUp
	// LinkAndSignIn: the account with the address is linked automatically.
	LinkAndSignIn
	// AccountExists: an account has the address and may not be linked
	// automatically (OAUTH_ACCOUNT_EXISTS).
	AccountExists
	// EmailRequired: the provider gave no address (OAUTH_EMAIL_REQUIRED).
	EmailRequired
)

// String names the decision, for test tables and logs.
func (d Decision) String() string {
	switch d {
	case SignIn:
		return "sign in"
	case SignUp:
		return "sign up"
	case LinkAndSignIn:
		return "link and sign in"
	case AccountExists:
		return "OAUTH_ACCOUNT_EXISTS"
	case EmailRequired:
		return "OAUTH_EMAIL_REQUIRED"
	}
	return "unknown"
}

// Situation is what Decide looks at.
type Situation struct {
	// Linked: the identity (provider, subject) is linked already.
	Linked bool
	// Claims are the provider's assertions.
	Claims Claims
	// AccountExists: an account has the asserted address.
	AccountExists bool
	// AccountVerified: that account's own address is verified.
	AccountVerified bool
}

// Decide is the linking rule. An address is evidence of a person only
// when both sides proved it: the provider asserts it verified and the
// local account verified it. Otherwise whoever controls either side could
// take over the other (an unverified provider address names any victim;
// an unverified local account may have been planted by an attacker
// before the real owner arrived), so the owner must sign in and link.
func Decide(s Situation) Decision {
	switch {
	case s.Linked:
		return SignIn
	case strings.TrimSpace(s.Claims.Email) == "":
		return EmailRequired
	case !s.AccountExists:
		return SignUp
	case s.Claims.EmailVerified && s.AccountVerified:
		return LinkAndSignIn
	default:
		return AccountExists
	}
}
