// Package auth holds the domain view of an authenticated caller: the claims an
// access token carries and the sentinel errors of token verification. It knows
// nothing of JWT encoding; adapters translate to and from the wire format.
package auth

import (
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

// Authentication methods references (RFC 8176 "amr" values).
const (
	// MethodPassword is a password proof.
	MethodPassword = "pwd"
	// MethodOTP is a one-time code: TOTP or a recovery code.
	MethodOTP = "otp"
	// MethodHardwareKey is a proof of possession of a hardware-bound key (a passkey).
	MethodHardwareKey = "hwk"
	// MethodMFA marks that more than one factor was proven.
	MethodMFA = "mfa"
	// MethodEmail is a code or link mailed to the account's address (the
	// contract's value; RFC 8176 lists none for it).
	MethodEmail = "email"
	// MethodFederated is a sign-in through another identity provider
	// (OpenID Connect or GitHub); the provider's id is in the "idp" claim.
	MethodFederated = "fed"
)

// Authenticator assurance levels ("aal" claim), after NIST SP 800-63B.
const (
	// AAL1 is one factor.
	AAL1 = "aal1"
	// AAL2 is two factors: a password and a code, or a passkey with user
	// verification (possession plus a PIN or biometric).
	AAL2 = "aal2"
)

// AssuranceOf is the assurance level a set of proven methods reaches.
func AssuranceOf(methods []string) string {
	for _, m := range methods {
		if m == MethodMFA {
			return AAL2
		}
	}
	return AAL1
}

// Claims are the facts an access token asserts about its bearer.
type Claims struct {
	// Subject is the user ID ("sub").
	Subject string
	// SessionID names the session the token belongs to ("sid").
	SessionID string
	// ID is the unique token ID ("jti").
	ID        string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	// AuthTime is when the user last proved their password ("auth_time").
	AuthTime time.Time
	// Fresh is true only for tokens minted right after a password proof.
	Fresh bool
	// Methods are the authentication methods references ("amr").
	Methods []string
	// AAL is the authenticator assurance level ("aal"), AAL1 or AAL2.
	AAL   string
	Roles []string
	// IdP names the provider of a federated sign-in ("idp"); empty otherwise.
	IdP string
	// AppMetadata is the account's appMetadata ("app_metadata"), "" when
	// empty.
	AppMetadata user.AppMetadata
}

// Sentinel errors of access-token verification. Adapters return these
// (possibly wrapped) so the HTTP layer can map them to stable codes.
var (
	// ErrTokenInvalid covers a bad signature, an unexpected alg, kid, iss,
	// aud or typ, and anything malformed.
	ErrTokenInvalid = errors.New("access token invalid")
	// ErrTokenExpired means the token is well formed and signed but past exp.
	ErrTokenExpired = errors.New("access token expired")
	// ErrSessionRevoked means the token's session was revoked or has ended.
	ErrSessionRevoked = errors.New("session revoked")
	// ErrUnauthenticated means no credential was presented at all.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// SigningKey is a private key the service signs access tokens with, as kept
// by a key store. PrivateKeyPEM is PKCS #8 PEM; it never leaves the service.
type SigningKey struct {
	// ID is the JWS "kid" under which the public half is published.
	ID string
	// Algorithm is the JWS "alg", for example "EdDSA".
	Algorithm     string
	PrivateKeyPEM []byte
	CreatedAt     time.Time
	// ActivatesAt is when the key starts signing; until then it is only
	// published. The key signs until the next key activates.
	ActivatesAt time.Time
	// Generation numbers the keys of a store 1, 2, ...: a rotation adds
	// the next number, and a store keeps one key per number, so instances
	// rotating at once add one key, not several.
	Generation int
}
