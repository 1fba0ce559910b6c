// Package auth holds the interactors of authentication: register, login,
// refresh, logout, reauthenticate, session management and the access-token
// check. Each owns its transaction; the ports it consumes are declared here.
package auth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

// Transactor runs fn in one database transaction. Repositories called with
// the ctx passed to fn take part in it. fn's error rolls back.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// UserRepository stores accounts.
type UserRepository interface {
	// Create inserts u; user.ErrEmailTaken when the normalized email exists.
	Create(ctx context.Context, u user.User) error
	// ByEmail finds an account by normalized email; user.ErrNotFound if none.
	ByEmail(ctx context.Context, email string) (user.User, error)
	// ByID finds an account; user.ErrNotFound if none.
	ByID(ctx context.Context, id string) (user.User, error)
	// Update writes the mutable fields of u (email, name, roles, password
	// hash, updatedAt); user.ErrEmailTaken, user.ErrNotFound.
	Update(ctx context.Context, u user.User) error
	// LockCredential returns the account's current credential version and
	// holds it (a share lock where the store has row locks) until the
	// transaction ends, so a credential change either committed before or
	// waits until after; user.ErrNotFound if the account is gone.
	LockCredential(ctx context.Context, id string) (int64, error)
}

// SessionStore stores sessions and their refresh-token families.
type SessionStore interface {
	// Create inserts a session and its first refresh token.
	Create(ctx context.Context, s session.Session, first session.RefreshToken) error
	// ByID finds a session, revoked or not; session.ErrNotFound if none.
	ByID(ctx context.Context, id string) (session.Session, error)
	// WithUser is ByID that also returns the session's user, in one lookup:
	// the per-request liveness check, which then needs no second query for
	// the caller's profile. session.ErrNotFound if none.
	WithUser(ctx context.Context, id string) (session.Session, user.User, error)
	// LockByID is ByID that also locks the session against concurrent change
	// until the transaction ends, for read-modify-write (revoke,
	// reauthenticate) that must not undo a rotation committed meanwhile.
	LockByID(ctx context.Context, id string) (session.Session, error)
	// LockByRefreshHash finds the token with this hash and its session, and
	// locks the session against concurrent change until the transaction ends.
	// The token is read after the lock is held. session.ErrRefreshInvalid if
	// no token has this hash.
	LockByRefreshHash(ctx context.Context, hash [32]byte) (session.Session, session.RefreshToken, error)
	// Rotate saves s, marks used as rotated (its RotatedAt and
	// SuccessorSealed) and inserts next.
	Rotate(ctx context.Context, s session.Session, used, next session.RefreshToken) error
	// RotateCurrent is the one-step fast path of a refresh. If the token
	// with in.Hash is its session's current, unrotated token and the session
	// is active at in.Now (the Rotate case of session.Policy.Decide), it
	// atomically marks the token rotated, inserts in.Next as the next
	// generation and touches the session as session.Policy.Touch does, and
	// returns the updated session, its user and true. Otherwise it changes
	// nothing and returns false, and the caller takes the locked path, where
	// the domain policy decides. A store may always return false.
	RotateCurrent(ctx context.Context, in RotateInput) (session.Session, user.User, bool, error)
	// Save writes the mutable fields of s (last use, expiries, auth time,
	// revocation, user agent, IP, generation). Call it only on a session
	// read with a lock in the same transaction.
	Save(ctx context.Context, s session.Session) error
	// RevokeAllForUser revokes every active session of userID except
	// exceptID (may be empty) and returns the IDs it revoked.
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
	// ListActive lists userID's sessions that are active at now, newest first.
	ListActive(ctx context.Context, userID string, now time.Time) ([]session.Session, error)
	// PurgeExpired deletes, in batches of at most batch, sessions (with their
	// refresh tokens) that were revoked or expired more than retention
	// before now, and returns how many it deleted. Safe to run on several
	// instances at once.
	PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error)
}

// RotateInput is what RotateCurrent needs to rotate without a round trip
// back to the caller.
type RotateInput struct {
	Hash            [32]byte
	Now             time.Time
	IdleTTL         time.Duration
	Next            [32]byte
	SuccessorSealed []byte
	UserAgent, IP   string
}

// AuditLog records security events in the caller's transaction.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, plain string) (string, error)
	// Verify reports whether plain matches encoded, and whether encoded was
	// made with other parameters than the current ones.
	Verify(ctx context.Context, plain, encoded string) (match, needsRehash bool, err error)
	// VerifyDummy costs what a failed Verify costs, for unknown accounts.
	VerifyDummy(ctx context.Context, plain string)
}

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	Issue(c domauth.Claims) (string, error)
	TTL() time.Duration
}

// TokenVerifier checks access tokens' signatures and claims.
type TokenVerifier interface {
	Verify(raw string) (domauth.Claims, error)
}

// Observer is told of security-relevant outcomes, for metrics. All methods
// must be cheap and safe for concurrent use.
type Observer interface {
	LoginSucceeded()
	LoginFailed()
	RefreshRotated()
	RefreshReuseDetected()
	// LoginThrottled counts password attempts refused by the account throttle.
	LoginThrottled()
}

// noObserver is the Observer used when none is configured.
type noObserver struct{}

func (noObserver) LoginSucceeded()       {}
func (noObserver) LoginFailed()          {}
func (noObserver) RefreshRotated()       {}
func (noObserver) RefreshReuseDetected() {}
func (noObserver) LoginThrottled()       {}

// LoginThrottle keeps the per-account throttle state, shared by every
// instance on the store.
type LoginThrottle interface {
	// Update loads key's state (the zero State if none) and locks it until
	// the transaction ends, calls fn, and stores what fn leaves; a zero State
	// deletes the record. fn's error is returned and nothing is stored.
	Update(ctx context.Context, key string, fn func(*throttle.State) error) error
	// PurgeStale deletes records whose last failure and lockout both ended
	// before before.
	PurgeStale(ctx context.Context, before time.Time) (int, error)
}

// AccountMail queues the mails that go with registration (a verification
// link, or a notice to the owner of an address already registered). The
// call runs in the caller's transaction, so the mail is queued if and only
// if the account change commits.
type AccountMail interface {
	Registered(ctx context.Context, u user.User) error
	RegisteredAgain(ctx context.Context, email string) error
}
