// Package recovery holds the interactors of account recovery and email:
// address verification, forgot and reset password, the mails that go with
// register and email change, and the delivery of the transactional outbox.
// The ports it consumes are declared here.
package recovery

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Transactor runs fn in one database transaction; a nested call joins the
// caller's, which is how the hooks called from register and email change
// write their token and message in that transaction.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// UserReader loads an account by ID; user.ErrNotFound.
type UserReader interface {
	ByID(ctx context.Context, id string) (user.User, error)
}

// UserFinder loads accounts by ID and by address; user.ErrNotFound.
type UserFinder interface {
	UserReader
	ByEmail(ctx context.Context, email string) (user.User, error)
}

// AddressWriter proves and changes accounts' addresses.
type AddressWriter interface {
	UserReader
	// MarkEmailVerified marks the address proven while the account still
	// has it; user.ErrNotFound otherwise.
	MarkEmailVerified(ctx context.Context, id, email string, now time.Time) error
	// SetEmail moves the account to an address; user.ErrEmailTaken.
	SetEmail(ctx context.Context, id, email string, verified bool, now time.Time) error
}

// PasswordWriter replaces passwords (and proves the address the reset link
// reached).
type PasswordWriter interface {
	UserReader
	// SetPassword stores a new hash while the credential version is still
	// proven; user.ErrCredentialChanged otherwise.
	SetPassword(ctx context.Context, id, hash string, proven int64, now time.Time) error
	MarkEmailVerified(ctx context.Context, id, email string, now time.Time) error
}

// LinkVoider deletes an account's unused links of a purpose.
type LinkVoider interface {
	DeleteForUser(ctx context.Context, userID string, p emailtoken.Purpose) error
}

// LinkTaker finds and uses links; emailtoken.ErrLinkInvalid for unknown ones.
type LinkTaker interface {
	LinkVoider
	ByHash(ctx context.Context, hash [32]byte) (emailtoken.Token, error)
	// Take deletes and returns the link: its one use.
	Take(ctx context.Context, hash [32]byte) (emailtoken.Token, error)
}

// LinkIssuer stores the links of mails being sent.
type LinkIssuer interface {
	Insert(ctx context.Context, t emailtoken.Token) error
	// Take deletes a link (of a mail that did not go out).
	Take(ctx context.Context, hash [32]byte) (emailtoken.Token, error)
	// Supersede deletes the account's other links of the purpose.
	Supersede(ctx context.Context, userID string, p emailtoken.Purpose, keep [32]byte) error
}

// LinkPurger deletes expired links.
type LinkPurger interface {
	PurgeExpired(ctx context.Context, now time.Time) (int, error)
}

// EventRecorder records security events.
type EventRecorder interface {
	Append(ctx context.Context, e audit.Event) error
}

// UserRepository reads and updates accounts, each write changing only
// its own fields.
type UserRepository interface {
	ByEmail(ctx context.Context, email string) (user.User, error)
	ByID(ctx context.Context, id string) (user.User, error)
	// SetPassword stores a new hash and increments the credential version
	// (so no session proven with the old password can start after a
	// reset), only while the version is still proven;
	// user.ErrCredentialChanged otherwise.
	SetPassword(ctx context.Context, id, hash string, proven int64, now time.Time) error
	// MarkEmailVerified records the address email proven, only while the
	// account has it; user.ErrNotFound otherwise.
	MarkEmailVerified(ctx context.Context, id, email string, now time.Time) error
	// SetEmail moves the account to an address; user.ErrEmailTaken.
	SetEmail(ctx context.Context, id, email string, verified bool, now time.Time) error
}

// PasswordGuard throttles password-hashing attempts per account and client,
// as login does; authn.PasswordGate implements it.
type PasswordGuard interface {
	AdmitPassword(ctx context.Context, email, ip string) error
	PasswordProven(ctx context.Context, email, ip string) error
	PasswordUnchecked(ctx context.Context, email, ip string)
}

// FactorFailures forgets an account's failed second-factor codes: a reset
// proves the mailbox and lifts the ceiling they reached (the factors stay).
type FactorFailures interface {
	ClearFailures(ctx context.Context, userID string) error
}

// SessionCache forgets what an instance cached about a user's sessions, so
// a reset's revocation is seen here at once.
type SessionCache interface {
	ForgetUser(userID string)
}

// TokenStore keeps emailed tokens, by hash.
type TokenStore interface {
	Insert(ctx context.Context, t emailtoken.Token) error
	// ByHash finds an unused token; emailtoken.ErrLinkInvalid if none.
	ByHash(ctx context.Context, hash [32]byte) (emailtoken.Token, error)
	// Take deletes the token with hash and returns it: the one use of it.
	// Of two transactions taking one token, one gets emailtoken.ErrLinkInvalid.
	Take(ctx context.Context, hash [32]byte) (emailtoken.Token, error)
	// DeleteForUser deletes userID's unused tokens of purpose p.
	DeleteForUser(ctx context.Context, userID string, p emailtoken.Purpose) error
	// Supersede deletes userID's unused tokens of purpose p but the one
	// with hash keep: a newer link replaces the older.
	Supersede(ctx context.Context, userID string, p emailtoken.Purpose, keep [32]byte) error
	// PurgeExpired deletes tokens that expired before now.
	PurgeExpired(ctx context.Context, now time.Time) (int, error)
}

// Outbox is the transactional mail outbox.
type Outbox interface {
	// Enqueue stores m in the caller's transaction, due at due. It refuses
	// a message with a link: links are made at send time, never stored.
	Enqueue(ctx context.Context, m outbox.Message, due time.Time) error
	// Claim takes up to limit due messages for this instance until
	// now+lease, counting an attempt on each; no other instance claims them
	// meanwhile.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error)
	// Delivered removes a sent message.
	Delivered(ctx context.Context, id string) error
	// Retry releases the claim and makes the message due again at at.
	Retry(ctx context.Context, id string, at time.Time, reason string) error
	// GiveUp marks the message failed for good.
	GiveUp(ctx context.Context, id, reason string) error
}

// CodeIssuer turns a queued sign-in code request
// (outbox.KindEmailCodeRequested) into its mail at send time, as render
// does for links; authn.EmailCodeIssuer implements it.
type CodeIssuer interface {
	// IssueEmailCode returns the mail, or nil when nothing is to be sent;
	// undo withdraws what was issued when the mail does not go out.
	IssueEmailCode(ctx context.Context, m outbox.Message) (mail *outbox.Message, undo func(context.Context), err error)
}

// MailSender renders and sends one message through the mail transport.
type MailSender interface {
	Send(ctx context.Context, m outbox.Message) error
}

// SessionRevoker ends sessions.
type SessionRevoker interface {
	RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error)
}

// PasswordHasher hashes new passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, plain string) (string, error)
}

// Limiter keeps throttle state by key, shared by every instance (the login
// throttle's store, with keys of their own).
type Limiter interface {
	Update(ctx context.Context, key string, fn func(*throttle.State) error) error
}

// Observer is told about mail delivery, for metrics. Cheap and safe for
// concurrent use.
type Observer interface {
	MailQueued()
	MailSent()
	// MailFailed counts a failed attempt; final when the message is given up.
	MailFailed(final bool)
}

type noObserver struct{}

func (noObserver) MailQueued()     {}
func (noObserver) MailSent()       {}
func (noObserver) MailFailed(bool) {}

// Events publishes webhook events in the caller's transaction.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// publish publishes events in order when ev is set.
func publish(ctx context.Context, ev Events, events ...webhook.Event) error {
	if ev == nil {
		return nil
	}
	for _, e := range events {
		if err := ev.Publish(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
