// Package account holds the interactors of a signed-in user's own account:
// reading and editing the profile, changing password and email, deleting the
// account, and reading its security events.
package account

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
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

// UserRepository stores accounts.
type UserRepository interface {
	ByID(ctx context.Context, id string) (user.User, error)
	// Update writes the mutable fields; user.ErrEmailTaken, user.ErrNotFound.
	Update(ctx context.Context, u user.User) error
	// Delete removes the account with its sessions and refresh tokens.
	Delete(ctx context.Context, id string) error
	// BumpCredential increments the account's credential version, so no
	// session proven with the old credential can start after it.
	BumpCredential(ctx context.Context, id string) error
}

// SessionRevoker ends sessions.
type SessionRevoker interface {
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
}

// AuditLog records and lists security events.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
	ListByUser(ctx context.Context, userID, cursor string, limit int) (audit.Page, error)
	// ScrubUser removes personal data (IP, user agent) from a user's events.
	ScrubUser(ctx context.Context, userID string) error
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, plain string) (string, error)
	Verify(ctx context.Context, plain, encoded string) (match, needsRehash bool, err error)
}
