// Package admin holds the interactors of administration: finding and
// changing accounts, ending their sessions, reading their security events,
// and managing signing keys. Every write is recorded as a security event on
// the target account with the acting administrator as its actor. The ports
// it consumes are declared here.
package admin

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/usecase/authn"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
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

// UserReader loads one account; user.ErrNotFound.
type UserReader interface {
	ByID(ctx context.Context, id string) (user.User, error)
}

// FactsReader tells what administrators see of accounts beside the
// accounts themselves.
type FactsReader interface {
	// Facts returns the facts of each of ids (missing ones are zero).
	Facts(ctx context.Context, ids []string, now time.Time) (map[string]Facts, error)
}

// AccountSearcher finds accounts.
type AccountSearcher interface {
	FactsReader
	// Search lists accounts whose email or name contains q (any case),
	// newest first, limit per page after cursor; the cursor of the next
	// page is empty on the last. audit.ErrInvalidCursor for a foreign one.
	Search(ctx context.Context, q, cursor string, limit int) ([]user.User, string, error)
}

// AccountViewer reads one account with its facts.
type AccountViewer interface {
	UserReader
	FactsReader
}

// AdminLocker locks the administrators.
type AdminLocker interface {
	// LockAdmins returns the IDs of the enabled accounts holding the admin
	// role, locked until the caller's transaction ends, so that two
	// administrators acting at once cannot both take away the last one.
	LockAdmins(ctx context.Context) ([]string, error)
}

// AccountEditor changes accounts in locked read-modify-writes.
type AccountEditor interface {
	AccountViewer
	AdminLocker
	ByEmail(ctx context.Context, email string) (user.User, error)
	// UpdateAdmin reads the account under its row lock in the caller's
	// transaction, lets fn change it and, when fn changed one of them,
	// writes name, roles, disabled, emailVerified and updatedAt (nothing
	// else), bumping the credential version on a disable. It returns the
	// account as stored; fn's error is returned and nothing is written.
	// user.ErrNotFound if none.
	UpdateAdmin(ctx context.Context, id string, fn func(*user.User) error) (user.User, error)
}

// AccountRemover deletes accounts.
type AccountRemover interface {
	AdminLocker
	// Delete removes the account with its sessions and refresh tokens.
	Delete(ctx context.Context, id string) error
}

// UserCreator stores a new account; user.ErrEmailTaken.
type UserCreator interface {
	Create(ctx context.Context, u user.User) error
}

// Directory is every account port at once: what a store of accounts
// implements for the administrators (each interactor takes only the part
// it calls).
type Directory interface {
	AccountSearcher
	AccountEditor
	AccountRemover
	UserCreator
}

// Factors tells whether an administrator's account has a second factor,
// which raises the bar of administrative writes to aal2.
type Factors interface {
	// HasSecondFactor reports whether the account has an active factor
	// whose code makes a token aal2 (a confirmed TOTP).
	HasSecondFactor(ctx context.Context, userID string) (bool, error)
}

// Facts are the per-account figures of the admin view.
type Facts struct {
	ActiveSessions int
	LastLoginAt    time.Time // zero if never
	MFAEnabled     bool
	Passkeys       int
}

// SessionCache forgets what an instance cached about an account's sessions
// and the account itself (authn.LivenessCache), so a change made here is
// seen at once on this instance even with SESSION_CACHE_TTL on.
type SessionCache interface {
	ForgetUser(userID string)
}

// Sessions ends an account's sessions.
type Sessions interface {
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
// audit.ErrInvalidCursor.
type EventReader interface {
	ListByUser(ctx context.Context, userID, cursor string, limit int) (audit.Page, error)
}

// AuditLog is every security-event port at once.
type AuditLog interface {
	EventScrubber
	EventReader
}

// PasswordHasher hashes passwords (for accounts made by the command line).
type PasswordHasher interface {
	Hash(ctx context.Context, plain string) (string, error)
}

// SigningKeys lists and rotates the access-token signing keys.
type SigningKeys interface {
	Keys(ctx context.Context) ([]auth.KeyStatus, error)
	Rotate(ctx context.Context) (auth.KeyStatus, error)
}

// Notifier is told of every administrative action after it committed, for
// the operators' log. It must not block.
type Notifier interface {
	AdminAction(ctx context.Context, e audit.Event)
}

// Events publishes webhook events in the caller's transaction.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// SignupHook is the before-signup hook (see authn.SignupHook).
type SignupHook interface {
	BeforeSignup(ctx context.Context, s authn.SignupAttempt) error
}
