// Package recovery holds the rules of emailed tokens (address verification
// and password reset): 256-bit random secrets stored only as a hash, bound to
// one purpose, one account and one address, single-use and short-lived.
package emailtoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

// Purpose says what an emailed token may be used for; a token of one
// purpose is worthless for another.
type Purpose string

// The purposes of emailed tokens.
const (
	PurposeVerifyEmail   Purpose = "verify_email"
	PurposePasswordReset Purpose = "password_reset"
	// PurposeChangeEmail confirms an email change requested while
	// verification is required: the token is mailed to the new address,
	// and using it moves the account there.
	PurposeChangeEmail Purpose = "change_email"
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
	Hash    [32]byte
	Purpose Purpose
	UserID  string
	// Email is the address the link was mailed to.
	Email string
	// CredentialVersion is the account's credential version when the link
	// was issued: a password change by any path moves it, which voids the
	// reset and email-change links issued before.
	CredentialVersion int64
	CreatedAt         time.Time
	ExpiresAt         time.Time
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

// Issue returns the stored side of a new token for account u, mailed to
// email (u's address, or the new one of an email change).
func Issue(hash [32]byte, p Purpose, u user.User, email string, now time.Time, ttl time.Duration) Token {
	return Token{Hash: hash, Purpose: p, UserID: u.ID, Email: email, CredentialVersion: u.CredentialVersion,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// Accepts reports whether t may be used at now for purpose p by account u
// as it is now. A verification or reset link is bound to the address it was
// mailed to: after an email change, links sent to the old address are void.
// A reset or email-change link is bound to the credential the account had:
// a password change by any path (change, reset, an administrator's disable)
// voids it, so a link taken from a mailbox does not outlive the owner's
// recovery of the account. A hash upgrade is no change of credential.
func (t Token) Accepts(p Purpose, u user.User, now time.Time) bool {
	if t.Purpose != p || t.UserID != u.ID || !now.Before(t.ExpiresAt) {
		return false
	}
	if p != PurposeChangeEmail && t.Email != u.Email {
		return false
	}
	if p != PurposeVerifyEmail && t.CredentialVersion != u.CredentialVersion {
		return false
	}
	return true
}

// Supersedes reports whether a newer link of purpose p voids the older
// unused ones of the account: a new reset link (or email-change link)
// replaces the previous, so only the last one mailed works. Verification
// links all stay valid: using any proves the same address.
func Supersedes(p Purpose) bool { return p != PurposeVerifyEmail }
