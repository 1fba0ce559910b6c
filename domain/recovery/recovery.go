// Package recovery holds the rules of emailed tokens (address verification
// and password reset): 256-bit random secrets stored only as a hash, bound to
// one purpose, one account and one address, single-use and short-lived.
package recovery

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// Purpose says what an emailed token may be used for; a token of one
// purpose is worthless for another.
type Purpose string

// The purposes of emailed tokens.
const (
	PurposeVerifyEmail   Purpose = "verify_email"
	PurposePasswordReset Purpose = "password_reset"
)

// Sentinel errors of the recovery flows.
var (
	// ErrLinkInvalid is an emailed token that is unknown, used, expired, of
	// another purpose, or issued for an address the account no longer has.
	ErrLinkInvalid = errors.New("email link invalid")
	// ErrMailUnavailable is an operation that must send mail while no mail
	// transport is configured.
	ErrMailUnavailable = errors.New("mail unavailable")
	// ErrEmailNotVerified is a login, after the password was proven, of an
	// unverified account while verification is required.
	ErrEmailNotVerified = errors.New("email not verified")
)

// secretBytes is the entropy of a token: 256 bits.
const secretBytes = 32

// SecretLength is the length of an encoded token (unpadded base64url of 32
// bytes); anything else is malformed.
var SecretLength = base64.RawURLEncoding.EncodedLen(secretBytes)

// Token is the stored side of an emailed token: its hash, never the secret.
type Token struct {
	Hash      [32]byte
	Purpose   Purpose
	UserID    string
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewSecret returns a fresh random token for the link and its hash for the
// store. The token is random, so SHA-256 is enough: a slow hash buys nothing.
func NewSecret() (raw string, hash [32]byte) {
	var b [secretBytes]byte
	// crypto/rand.Read never fails (Go 1.24+): it aborts the program instead.
	_, _ = rand.Read(b[:])
	raw = base64.RawURLEncoding.EncodeToString(b[:])
	return raw, sha256.Sum256([]byte(raw))
}

// HashSecret returns the hash of a presented token, and false when the
// token does not have the shape NewSecret produces.
func HashSecret(raw string) ([32]byte, bool) {
	if len(raw) != SecretLength {
		return [32]byte{}, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(raw); err != nil {
		return [32]byte{}, false
	}
	return sha256.Sum256([]byte(raw)), true
}

// Issue returns the stored side of a new token for userID at email.
func Issue(hash [32]byte, p Purpose, userID, email string, now time.Time, ttl time.Duration) Token {
	return Token{Hash: hash, Purpose: p, UserID: userID, Email: email, CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// Accepts reports whether t may be used at now for purpose p by an account
// whose address is now currentEmail. A token is bound to the address it was
// mailed to: after an email change, links sent to the old address are void.
func (t Token) Accepts(p Purpose, currentEmail string, now time.Time) bool {
	return t.Purpose == p && t.Email == currentEmail && now.Before(t.ExpiresAt)
}
