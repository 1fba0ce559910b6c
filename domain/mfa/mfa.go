// Package mfa holds the rules of second factors: TOTP replay protection,
// recovery codes, the short-lived token that carries a login from its
// password to its second factor, and passkeys as stored credentials.
package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"time"
)

// Sentinel errors of second factors.
var (
	// ErrCodeInvalid covers a wrong, replayed or expired TOTP or recovery
	// code, and an unknown, used, expired or exhausted mfaToken.
	ErrCodeInvalid = errors.New("second-factor code invalid")
	// ErrPasskeyInvalid covers a WebAuthn ceremony that failed, expired, was
	// begun for someone else, or names an unknown credential.
	ErrPasskeyInvalid = errors.New("passkey invalid")
	// ErrNotFound means no such factor (of the caller's).
	ErrNotFound = errors.New("factor not found")
)

// Second-factor methods a login may ask for, as the contract names them.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// AcceptStep reports whether a TOTP code that matched in time step matched
// may be accepted when lastUsed is the step of the last code accepted for
// the same secret. RFC 6238 section 5.2: a verifier must not accept a code
// twice; refusing every step up to the last used one also refuses an older
// code that is still inside the drift window, so an observed code cannot be
// replayed after a newer one was used.
func AcceptStep(matched, lastUsed int64) bool { return matched > lastUsed }

// RecoveryCodeCount is how many recovery codes a set holds.
const RecoveryCodeCount = 10

// recoveryAlphabet avoids characters people confuse (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// recoveryGroups and recoveryGroupLen shape a code: four groups of four
// characters from a 31-letter alphabet, about 79 bits, so a fast hash is
// enough to store it (an offline search of the space is out of reach).
const (
	recoveryGroups   = 4
	recoveryGroupLen = 4
)

// NewRecoveryCodes returns a fresh set of RecoveryCodeCount codes in their
// display form ("abcd-efgh-jkmn-pqrs").
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCodeCount)
	for i := range out {
		var b strings.Builder
		buf := make([]byte, recoveryGroups*recoveryGroupLen)
		randomIndexes(buf, len(recoveryAlphabet))
		for j, c := range buf {
			if j > 0 && j%recoveryGroupLen == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[c])
		}
		out[i] = b.String()
	}
	return out
}

// randomIndexes fills buf with uniform values in [0, n) by rejection
// sampling, so no letter is likelier than another.
func randomIndexes(buf []byte, n int) {
	limit := byte(256 - 256%n)
	var one [1]byte
	for i := range buf {
		for {
			_, _ = rand.Read(one[:]) // crypto/rand never fails on supported platforms
			if one[0] < limit {
				buf[i] = one[0] % byte(n)
				break
			}
		}
	}
}

// NormalizeRecoveryCode returns the canonical form of a typed code: lower
// case, without spaces or hyphens. ok is false when what remains cannot be
// a code at all.
func NormalizeRecoveryCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	out := b.String()
	return out, len(out) == recoveryGroups*recoveryGroupLen
}

// HashRecoveryCode is the stored form of a normalized code of userID. The
// user ID salts it, so equal codes of two accounts hash apart.
func HashRecoveryCode(userID, normalized string) [32]byte {
	return sha256.Sum256([]byte("gatehouse-recovery-code\x00" + userID + "\x00" + normalized))
}

// Challenge is the state behind an mfaToken: a login whose password was
// proven and whose second factor is awaited.
type Challenge struct {
	// Hash is the SHA-256 of the token; the token itself is never stored.
	Hash      [32]byte
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Failures counts wrong codes presented with the token.
	Failures int
	// UsedAt is set once the token started a session.
	UsedAt time.Time
	// CredentialVersion is the account's credential version when the
	// password was proven; a password change since voids the token.
	CredentialVersion int64
	// Methods are the amr of the first factor when it was not a password
	// (a federated sign-in: "fed"); empty means a password.
	Methods []string
	// IdP names the provider of a federated first factor.
	IdP string
}

// ChallengeTTL is how long an mfaToken lives.
const ChallengeTTL = 5 * time.Minute

// MaxChallengeFailures is how many wrong codes void an mfaToken.
const MaxChallengeFailures = 5

// Usable reports whether the token may still be tried at now: unused,
// unexpired, and with fewer than MaxChallengeFailures wrong codes.
func (c Challenge) Usable(now time.Time) bool {
	return c.UsedAt.IsZero() && now.Before(c.ExpiresAt) && c.Failures < MaxChallengeFailures
}

// TOTP is an account's authenticator-app factor. Secret is the base32
// shared secret; Pending is a secret enrolled but not yet confirmed (it
// replaces Secret on confirmation).
type TOTP struct {
	UserID string
	Secret string
	// ConfirmedAt is zero while no secret is active.
	ConfirmedAt time.Time
	// LastStep is the RFC 6238 time step of the last accepted code.
	LastStep         int64
	Pending          string
	PendingCreatedAt time.Time
	// Failures counts the account's consecutive failed second-factor codes
	// (TOTP and recovery codes). Stores change it only by an atomic
	// increment or a reset, never by writing back what was read.
	Failures int
}

// Active reports whether a confirmed secret is in force.
func (t TOTP) Active() bool { return !t.ConfirmedAt.IsZero() && t.Secret != "" }

// DefaultMaxFailures is the default ceiling of consecutive failed
// second-factor codes per account. NIST SP 800-63B section 5.2.2: a
// verifier shall limit consecutive failed attempts on one account to no
// more than 100, so this is also the highest ceiling allowed.
const DefaultMaxFailures = 100

// FailureCeiling is how many consecutive failed second-factor codes an
// account may see before its TOTP codes are refused, right or wrong, until
// a recovery code succeeds or the password is reset. Recovery codes stay
// accepted past it: at about 79 bits each they cannot be guessed online
// (SP 800-63B 5.1.2.2 asks rate limiting only of look-up secrets under 64
// bits), and they are how the owner gets back in.
type FailureCeiling int

// Refuses reports whether TOTP codes are refused after failures
// consecutive failed codes.
func (c FailureCeiling) Refuses(failures int) bool { return failures >= int(c) }

// ReachedBy reports whether the failure counted as the n-th in a row is
// the one that reached the ceiling: true for exactly one failure of each
// series, so the owner is told once.
func (c FailureCeiling) ReachedBy(n int) bool { return n == int(c) }

// Passkey is a WebAuthn credential registered to an account.
type Passkey struct {
	// ID is the passkey's public identifier (a UUID), used in the API.
	ID     string
	UserID string
	Name   string
	// CredentialID is the authenticator's credential ID.
	CredentialID []byte
	// Credential is the adapter's serialized credential (public key, sign
	// counter, flags, transports); the use cases do not read it.
	Credential []byte
	CreatedAt  time.Time
	// LastUsedAt is zero until the first login with it.
	LastUsedAt time.Time
}
