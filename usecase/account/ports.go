// Package account holds the interactors of a signed-in user's own account:
// reading and editing the profile, changing password and email, deleting the
// account, and reading its security events.
package account

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Transactor runs fn in one database transaction.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// UserReader loads accounts; user.ErrNotFound when the account is gone.
// Each write port below changes only the fields its operation changes, so
// it never undoes another request's change made between the caller's read
// and its write.
type UserReader interface {
	ByID(ctx context.Context, id string) (user.User, error)
}

// ProfileWriter edits the profile fields.
type ProfileWriter interface {
	UserReader
	// UpdateProfile writes only the fields ch sets, and updatedAt;
	// user.ErrNotFound.
	UpdateProfile(ctx context.Context, id string, ch ProfileChange) error
}

// PasswordWriter replaces the password.
type PasswordWriter interface {
	UserReader
	// SetPassword stores a new hash and increments the credential version
	// (so no session proven with the old credential can start after it),
	// only while the version is still proven; user.ErrCredentialChanged
	// otherwise.
	SetPassword(ctx context.Context, id, hash string, proven int64, now time.Time) error
}

// EmailWriter moves an account to another address.
type EmailWriter interface {
	UserReader
	// SetEmail moves the account to an address; user.ErrEmailTaken.
	SetEmail(ctx context.Context, id, email string, verified bool, now time.Time) error
}

// UserDeleter removes accounts.
type UserDeleter interface {
	UserReader
	// Delete removes the account with its sessions and refresh tokens.
	Delete(ctx context.Context, id string) error
}

// ProfileChange is a change of the profile fields a user edits; a nil
// field stays as it is.
type ProfileChange struct {
	Name, Locale *string
	UpdatedAt    time.Time
}

// SessionRevoker ends sessions.
type SessionRevoker interface {
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
}

// EventRecorder records security events.
type EventRecorder interface {
	Append(ctx context.Context, e audit.Event) error
}

// EventScrubber records security events and strips accounts' events.
type EventScrubber interface {
	EventRecorder
	// ScrubUser removes personal data (IP, user agent) from a user's events.
	ScrubUser(ctx context.Context, userID string) error
}

// EventReader lists a user's security events, newest first;
// audit.ErrInvalidCursor for a cursor it did not issue.
type EventReader interface {
	ListByUser(ctx context.Context, userID, cursor string, limit int) (audit.Page, error)
}

// EventDeleter deletes old security events.
type EventDeleter interface {
	// PurgeBefore deletes, in batches of at most batch, events created
	// before before, and returns how many. Safe on several instances at once.
	PurgeBefore(ctx context.Context, before time.Time, batch int) (int, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, plain string) (string, error)
	Verify(ctx context.Context, plain, encoded string) (match, needsRehash bool, err error)
}

// PasswordGuard throttles password proofs per account and client, as login
// does; authn.PasswordGate implements it.
type PasswordGuard interface {
	// AdmitPassword counts an attempt before the password is checked;
	// throttle.LimitedError when refused.
	AdmitPassword(ctx context.Context, email, ip string) error
	// PasswordProven takes the count back after a correct password.
	PasswordProven(ctx context.Context, email, ip string) error
	// PasswordUnchecked takes the count back when the password could not
	// be checked at all.
	PasswordUnchecked(ctx context.Context, email, ip string)
}

// Throttle keeps throttle state shared by every instance (see the auth use
// cases' LoginThrottle).
type Throttle interface {
	Update(ctx context.Context, key string, fn func(*throttle.State) error) error
}

// SessionCache forgets what an instance cached about a user's sessions, so
// a revocation made here is seen here at once.
type SessionCache interface {
	ForgetUser(userID string)
}

// EmailChangeMail is the mail of an email change, queued in the caller's
// transaction.
type EmailChangeMail interface {
	// EmailChanged voids the emailed links of the old address and queues a
	// verification link to the new one and a notice to the old one.
	EmailChanged(ctx context.Context, u user.User, oldEmail string) error
	// EmailChangeRequested queues the confirmation of a change of u's
	// address to newEmail: a link to newEmail, or a notice to its owner
	// when another account has it, decided when the mail is sent.
	EmailChangeRequested(ctx context.Context, u user.User, newEmail string) error
}

// UserRepository is every account port at once: what a store of accounts
// implements (each interactor takes only the part it calls).
type UserRepository interface {
	ProfileWriter
	PasswordWriter
	EmailWriter
	UserDeleter
}

// AuditLog is every security-event port at once: what an event store
// implements (each interactor takes only the part it calls).
type AuditLog interface {
	EventScrubber
	EventReader
	EventDeleter
}
