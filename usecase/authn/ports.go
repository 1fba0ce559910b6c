// Package auth holds the interactors of authentication, one type per
// operation: Registrar, PasswordLogin, MFAVerifier, PasskeyLogin, Refresher,
// Authenticator, Reauthenticator (step-up), SessionRevoker, SessionListing
// and Purger. Each that writes owns its transaction, and each takes, in its
// constructor, only the ports it calls. What several share is a collaborator
// they hold, not a common base: SessionOpener (a new session under the
// per-account cap, with its first token pair), PasswordGate (the
// per-account password throttle, which other packages' password checks go
// through too) and LivenessCache (this instance's memory of session
// liveness). The ports are declared here, sized to their uses.
package authn

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
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

// UserRepository is every account port: what a store implements.
type UserRepository interface {
	UserCreator
	UserReader
	PasswordAccounts
}

// UserCreator stores new accounts (registration).
type UserCreator interface {
	// Create inserts u; user.ErrEmailTaken when the normalized email exists.
	Create(ctx context.Context, u user.User) error
}

// UserReader reads an account by ID.
type UserReader interface {
	// ByID finds an account; user.ErrNotFound if none.
	ByID(ctx context.Context, id string) (user.User, error)
}

// CredentialLocker holds an account's credential while a session starts.
type CredentialLocker interface {
	// LockCredential returns the account's current credential version and
	// holds it (a share lock where the store has row locks) until the
	// transaction ends, so a credential change either committed before or
	// waits until after; user.ErrNotFound if the account is gone.
	LockCredential(ctx context.Context, id string) (int64, error)
}

// PasswordAccounts is what a password check needs of the accounts: find
// one by email, hold its credential, and store an upgraded hash.
type PasswordAccounts interface {
	CredentialLocker
	// ByEmail finds an account by normalized email; user.ErrNotFound if none.
	ByEmail(ctx context.Context, email string) (user.User, error)
	// UpgradeHash replaces the password hash, and nothing else, while the
	// credential version is still proven; otherwise it does nothing.
	UpgradeHash(ctx context.Context, id, hash string, proven int64) error
}

// The session ports are sized to their uses; a store implements them all
// (SessionStore), and each interactor asks only for what it calls.

// SessionStarter stores new sessions (login, registration).
type SessionStarter interface {
	// Create inserts a new session, its refresh state included;
	// user.ErrNotFound when its user does not exist (deleted meanwhile).
	Create(ctx context.Context, s session.Session) error
}

// SessionLivenessReader is the per-request liveness check.
type SessionLivenessReader interface {
	// Liveness reads a session's liveness (session.Liveness) and its user
	// in one lookup; session.ErrNotFound if none. The user comes without
	// its password hash: nothing downstream of an access check needs it.
	Liveness(ctx context.Context, id string) (session.Liveness, user.User, error)
}

// SessionAuthenticator reads a session whole with its user.
type SessionAuthenticator interface {
	// WithUser finds a session, revoked or not, and its user in one lookup.
	// session.ErrNotFound if none.
	WithUser(ctx context.Context, id string) (session.Session, user.User, error)
}

// SessionUpdater changes one session under its lock.
type SessionUpdater interface {
	// Update loads session id and locks it until the transaction ends
	// (ctx's, or one of its own), calls fn with it, and writes what fn
	// leaves when that differs from what it read. An error from fn is
	// returned and nothing is written. The store owns lock and transaction;
	// the domain decides inside fn. session.ErrNotFound if none.
	Update(ctx context.Context, id string, fn func(*session.Session) error) error
}

// RefreshRotator is what a refresh needs: the one-step fast path for the
// common case, and the update function for everything the policy decides.
type RefreshRotator interface {
	SessionUpdater
	LegacyTokens
	// RotateCurrent is the fast path. If in.Token is the current token of
	// its session and the session is active at in.Now (the Rotate case of
	// in.Policy.Decide), it applies in.Policy.Rotate in one step and returns
	// the updated session, its user (without the password hash, which a
	// refresh never needs) and true. Otherwise it changes nothing
	// and returns false, and the caller takes Update, where the policy
	// decides.
	RotateCurrent(ctx context.Context, in RotateInput) (session.Session, user.User, bool, error)
}

// LegacyTokens recognises refresh tokens of the format before the MAC.
type LegacyTokens interface {
	// LegacyToken finds a token issued before the authenticated format: its
	// session and generation. session.ErrRefreshInvalid if the store never
	// knew its hash.
	LegacyToken(ctx context.Context, hash [32]byte) (sessionID string, generation int64, err error)
}

// SessionBulkRevoker ends all of an account's sessions at once.
type SessionBulkRevoker interface {
	// RevokeAllForUser revokes every active session of userID except
	// exceptID (may be empty) and returns the IDs it revoked.
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
}

// SessionLister lists an account's sessions.
type SessionLister interface {
	// ListActive lists userID's sessions that are active at now, newest
	// first (creation time, then ID), at most limit of them, after cursor
	// (empty for the first page; session.ErrInvalidCursor if not one
	// session.CursorAfter made).
	ListActive(ctx context.Context, userID string, now time.Time, cursor string, limit int) (session.Page, error)
}

// SessionCapper bounds how many sessions one account holds.
type SessionCapper interface {
	// RevokeBeyond revokes userID's sessions active at now except the keep
	// newest (creation time, then ID), with reason, and returns the IDs it
	// revoked.
	RevokeBeyond(ctx context.Context, userID string, keep int, reason string, now time.Time) ([]string, error)
}

// SessionPurger keeps the session table small.
type SessionPurger interface {
	// PurgeExpired deletes, in batches of at most batch, sessions (with
	// their legacy token rows) that were revoked or expired more than
	// retention before now, and returns how many it deleted. Safe to run on
	// several instances at once.
	PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error)
	// EraseSealed erases the sealed successors of rotations made before
	// before (whose grace interval has passed), in batches, and returns how
	// many it erased.
	EraseSealed(ctx context.Context, before time.Time, batch int) (int, error)
}

// SessionStore is every session port: what a store implements.
type SessionStore interface {
	SessionStarter
	SessionAuthenticator
	SessionLivenessReader
	RefreshRotator
	SessionBulkRevoker
	SessionLister
	SessionCapper
	SessionPurger
}

// RotateInput is what RotateCurrent needs to rotate without a round trip
// back to the caller.
type RotateInput struct {
	// Token is the presented token, its SessionID known.
	Token           session.Presented
	Policy          session.Policy
	Now             time.Time
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
	Issue(c auth.Claims) (string, error)
	TTL() time.Duration
}

// TokenVerifier checks access tokens' signatures and claims.
type TokenVerifier interface {
	Verify(raw string) (auth.Claims, error)
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

// observerOr is o, or one that observes nothing when o is nil.
func observerOr(o Observer) Observer {
	if o == nil {
		return noObserver{}
	}
	return o
}

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
// if the account change commits. ip is the registering client's: both
// mails count in the per-IP and per-address mail budgets, and past either
// the mail is not sent while the account is still created.
type AccountMail interface {
	Registered(ctx context.Context, u user.User, ip string) error
	RegisteredAgain(ctx context.Context, email, ip string) error
}
