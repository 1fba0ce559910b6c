// Package mfa holds the interactors of second factors: TOTP enrolment,
// confirmation and removal, recovery codes, passkey registration, listing
// and removal, and the checks login and reauthentication ask of them. The
// rules for changing factors are enforced here, for every factor operation
// alike: a fresh token, aal2 once TOTP is active, a verified address to
// enrol one while mail is on, and a notice mailed for every change.
package factors

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Transactor runs fn in one database transaction.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// UserRepository reads accounts.
type UserRepository interface {
	ByID(ctx context.Context, id string) (user.User, error)
}

// AuditLog records security events in the caller's transaction.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
}

// TOTPReader reads a user's TOTP factor; mfa.ErrNotFound when none.
type TOTPReader interface {
	Get(ctx context.Context, userID string) (mfa.TOTP, error)
}

// TOTPStore keeps each account's TOTP factor. Secrets are plain here; the
// store encrypts them at rest.
type TOTPStore interface {
	// Get returns userID's factor; mfa.ErrNotFound if none.
	Get(ctx context.Context, userID string) (mfa.TOTP, error)
	// Update loads userID's factor (a zero TOTP with UserID set if none),
	// locks it until the transaction ends, calls fn and stores what fn
	// leaves (but Failures); a factor with neither Secret nor Pending is
	// deleted. fn's error is returned and nothing is stored.
	Update(ctx context.Context, userID string, fn func(*mfa.TOTP) error) error
	// AddFailure counts one more failed code of userID atomically (one
	// statement, whatever runs in parallel) and returns the new count; 0
	// when userID has no factor.
	AddFailure(ctx context.Context, userID string) (int, error)
	// ClearFailures sets userID's count of failed codes to zero.
	ClearFailures(ctx context.Context, userID string) error
}

// FactorMail mails the account's owner notices about its factors.
type FactorMail interface {
	// Enabled reports whether mail is configured: only then can an address
	// be proven, so only then does enrolment ask for a proven one.
	Enabled() bool
	// Notice queues a notice (no link) of kind to address to, in the
	// caller's transaction; nothing when mail is off.
	Notice(ctx context.Context, to string, kind outbox.Kind) error
}

// SessionRevoker ends the account's other sessions when the owner asks for
// it together with a new factor.
type SessionRevoker interface {
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
}

// SessionCache forgets what this instance cached about a user's sessions,
// so a revocation made here is seen here at once.
type SessionCache interface {
	ForgetUser(userID string)
}

// RecoveryCodeStore keeps the hashes of each account's recovery codes.
type RecoveryCodeStore interface {
	// Replace voids userID's codes and stores hashes as the new set.
	Replace(ctx context.Context, userID string, hashes [][32]byte, now time.Time) error
	// Use marks the unused code with hash of userID used at now, atomically;
	// false when there is no such unused code.
	Use(ctx context.Context, userID string, hash [32]byte, now time.Time) (bool, error)
	// DeleteAll removes userID's codes.
	DeleteAll(ctx context.Context, userID string) error
}

// OTP is the TOTP algorithm (RFC 6238: SHA-1, 6 digits, 30 s).
type OTP interface {
	// NewKey makes a secret for account, labelled with issuer.
	NewKey(issuer, account string) (OTPKey, error)
	// Match reports the time step in which code is valid for secret at now,
	// allowing one step of drift either way; ok is false when it is valid
	// in none.
	Match(secret, code string, now time.Time) (step int64, ok bool)
}

// OTPKey is a new TOTP secret with what an authenticator app needs.
type OTPKey struct {
	Secret string
	// URI is the otpauth:// URI.
	URI string
	// QRPNG is a PNG image of a QR code of URI.
	QRPNG []byte
}

// PasskeyStore keeps passkeys.
type PasskeyStore interface {
	// Create stores p; mfa.ErrPasskeyInvalid when its credential ID is
	// already registered (to anyone).
	Create(ctx context.Context, p mfa.Passkey) error
	// ListByUser lists userID's passkeys, oldest first.
	ListByUser(ctx context.Context, userID string) ([]mfa.Passkey, error)
	// ByCredentialID finds a passkey; mfa.ErrNotFound if none.
	ByCredentialID(ctx context.Context, credentialID []byte) (mfa.Passkey, error)
	// Update writes Credential and LastUsedAt of p.
	Update(ctx context.Context, p mfa.Passkey) error
	// Delete removes userID's passkey id; mfa.ErrNotFound if userID has none
	// with that id.
	Delete(ctx context.Context, userID, id string) error
}

// Ceremony is a WebAuthn ceremony in progress, kept server-side so any
// instance can finish it.
type Ceremony struct {
	ID string
	// UserID is empty for a discoverable login.
	UserID  string
	Purpose string
	// Name is the passkey name asked for when a registration began.
	Name string
	// State is the adapter's serialized session data (the challenge).
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Ceremony purposes.
const (
	PurposeRegistration = "registration"
	PurposeLogin        = "login"
)

// CeremonyTTL is how long a WebAuthn ceremony may take.
const CeremonyTTL = 5 * time.Minute

// CeremonyStore keeps ceremonies in progress.
type CeremonyStore interface {
	Create(ctx context.Context, c Ceremony) error
	// Take removes and returns ceremony id of purpose, so it can be
	// finished once; mfa.ErrPasskeyInvalid if there is none.
	Take(ctx context.Context, id, purpose string) (Ceremony, error)
	// TakeForUser removes userID's ceremonies of purpose and returns the
	// newest; mfa.ErrPasskeyInvalid if there is none.
	TakeForUser(ctx context.Context, userID, purpose string) (Ceremony, error)
	// PurgeExpired deletes ceremonies that expired before before.
	PurgeExpired(ctx context.Context, before time.Time) (int, error)
}

// WebAuthn runs the relying party's side of WebAuthn ceremonies.
type WebAuthn interface {
	// BeginRegistration returns the creation options for u (JSON), and the
	// state to keep until the response comes; existing credentials are
	// excluded.
	BeginRegistration(u user.User, existing []mfa.Passkey) (options, state []byte, err error)
	// FinishRegistration checks the authenticator's response against state
	// and returns the new credential (ID and serialized credential);
	// mfa.ErrPasskeyInvalid when it does not verify.
	FinishRegistration(u user.User, existing []mfa.Passkey, state, response []byte) (credentialID, credential []byte, err error)
	// BeginLogin returns request options for a discoverable login (empty
	// allow list) and the state to keep.
	BeginLogin() (options, state []byte, err error)
	// FinishLogin checks an assertion against state. find resolves the
	// credential the assertion names to its account's passkeys. It returns
	// the passkey used, with its credential updated (sign counter, flags),
	// and whether the user was verified; mfa.ErrPasskeyInvalid on failure.
	FinishLogin(state, response []byte, find func(credentialID, userHandle []byte) (user.User, []mfa.Passkey, error)) (used mfa.Passkey, userVerified bool, err error)
}

// Events publishes webhook events in the caller's transaction.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}
