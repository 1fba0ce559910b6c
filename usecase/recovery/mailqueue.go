package recovery

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Meta describes the client of a request.
type Meta struct {
	IP        string
	UserAgent string
}

// MailQueueDeps are the ports and settings of a MailQueue.
type MailQueueDeps struct {
	Outbox Outbox
	// Tokens voids the links of an address an account leaves.
	Tokens LinkVoider
	// Users finds the owner of an address, for the language of a notice.
	Users   UserFinder
	Limiter Limiter
	Tx      Transactor
	Clock   Clock
	// Observer is optional.
	Observer Observer
	// Enabled is whether a mail transport is configured; without one the
	// queue holds nothing, and what needs a mail says so.
	Enabled bool
	// PerAddress and PerIP throttle the mails a client can trigger.
	PerAddress, PerIP throttle.Policy
}

// MailQueue queues mail in the caller's transaction, so a mail goes out if
// and only if what it reports commits, within the per-address and per-IP
// mail budgets. It is the mail port of the other use cases (registration,
// email change, second factors) and shared by the recovery interactors.
type MailQueue struct {
	d MailQueueDeps
}

// NewMailQueue returns a MailQueue.
func NewMailQueue(d MailQueueDeps) *MailQueue {
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	return &MailQueue{d: d}
}

// Enabled reports whether mail can be sent.
func (q *MailQueue) Enabled() bool { return q.d.Enabled }

func (q *MailQueue) now() time.Time { return q.d.Clock.Now().UTC() }

// Notice queues a notice (no link) of kind to address to, in the caller's
// transaction, so it goes out if and only if what it reports commits.
// Without mail it does nothing. Notices are not throttled: each reports a
// change the account's owner made or must hear about.
func (q *MailQueue) Notice(ctx context.Context, to string, kind outbox.Kind) error {
	if !q.Enabled() {
		return nil
	}
	return q.queue(ctx, outbox.Message{Kind: kind, To: to}, q.now())
}

// Registered queues a verification link for a new account, in the
// caller's transaction. Without mail it does nothing. The mail counts in
// the per-IP and per-address mail budgets like any other a client can
// trigger: past either it is not sent (the account stands; its owner can
// ask for a link later), so registration cannot mail an address at will.
func (q *MailQueue) Registered(ctx context.Context, u user.User, ip string) error {
	if !q.Enabled() {
		return nil
	}
	now := q.now()
	return unlessLimited(q.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := q.admit(ctx, u.Email, ip, now); err != nil {
			return err
		}
		return q.queueVerification(ctx, u, now)
	}))
}

// RegisteredAgain tells the owner of email that someone tried to register
// it, when registration must not tell accounts apart. Throttled per IP and
// per address like the other mails, silently.
func (q *MailQueue) RegisteredAgain(ctx context.Context, email, ip string) error {
	if !q.Enabled() {
		return nil
	}
	now := q.now()
	return unlessLimited(q.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := q.admit(ctx, email, ip, now); err != nil {
			return err
		}
		// In the owner's language: the account has the address.
		owner, err := q.d.Users.ByEmail(ctx, email)
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return err
		}
		return q.queue(ctx, outbox.Message{Kind: outbox.KindAccountExists, To: email, Locale: owner.Locale}, now)
	}))
}

// unlessLimited drops a throttle refusal: a mail over budget is simply not
// sent, and the request answers as if it had been.
func unlessLimited(err error) error {
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		return nil
	}
	return err
}

// EmailChanged, in the caller's transaction, voids the links sent to the
// old address (and pending email-change links), queues a verification link
// to the new one and a notice to the old one.
func (q *MailQueue) EmailChanged(ctx context.Context, u user.User, oldEmail string) error {
	now := q.now()
	if err := q.voidLinks(ctx, u.ID); err != nil {
		return err
	}
	if !q.Enabled() {
		return nil
	}
	if err := q.queueVerification(ctx, u, now); err != nil {
		return err
	}
	return q.queue(ctx, outbox.Message{Kind: outbox.KindEmailChanged, To: oldEmail, Locale: u.Locale}, now)
}

// EmailChangeRequested queues, in the caller's transaction, the request to
// move u to newEmail (REQUIRE_EMAIL_VERIFICATION): whether newEmail gets the
// confirmation link or, when another account has it, a notice, is decided
// when the mail is sent, so the request does the same work for every
// address.
func (q *MailQueue) EmailChangeRequested(ctx context.Context, u user.User, newEmail string) error {
	if !q.Enabled() {
		return emailtoken.ErrMailUnavailable
	}
	return q.queue(ctx, outbox.Message{Kind: outbox.KindEmailChangeRequested, UserID: u.ID, To: newEmail, Locale: u.Locale}, q.now())
}

// queueVerification queues, in the caller's transaction, the request for a
// verification link to u's address: the link is issued when the mail is
// sent (see deliver), so the outbox never holds it.
func (q *MailQueue) queueVerification(ctx context.Context, u user.User, now time.Time) error {
	return q.queue(ctx, outbox.Message{Kind: outbox.KindVerifyRequested, UserID: u.ID, To: u.Email, Locale: u.Locale}, now)
}

func (q *MailQueue) queue(ctx context.Context, m outbox.Message, now time.Time) error {
	m.ID, m.CreatedAt = id.New(), now
	if err := q.d.Outbox.Enqueue(ctx, m, now); err != nil {
		return err
	}
	q.d.Observer.MailQueued()
	return nil
}

// Throttle keys, apart from the login throttle's "account:" keys.
const (
	addressKeyPrefix = "mail:address:"
	ipKeyPrefix      = "mail:ip:"
)

// AdmitMail counts a mail a client asks for (a sign-in code) against the
// budgets the other mails share, per IP and per address;
// throttle.LimitedError past either. It runs in the caller's transaction.
func (q *MailQueue) AdmitMail(ctx context.Context, email, ip string) error {
	return q.admit(ctx, email, ip, q.now())
}

// admit counts a mail request against the client (its IP, an IPv6 client
// by its /64, which one host holds whole) and the address.
func (q *MailQueue) admit(ctx context.Context, email, ip string, now time.Time) error {
	if ip != "" {
		if err := q.count(ctx, ipKeyPrefix+throttle.ClientKey(ip), q.d.PerIP, now); err != nil {
			return err
		}
	}
	return q.count(ctx, addressKeyPrefix+email, q.d.PerAddress, now)
}

// count admits one more request under p, or returns a LimitedError; the
// policy's failures are the requests counted.
func (q *MailQueue) count(ctx context.Context, key string, p throttle.Policy, now time.Time) error {
	if q.d.Limiter == nil || p.MaxFailures <= 0 {
		return nil
	}
	return q.d.Limiter.Update(ctx, key, func(st *throttle.State) error {
		if wait, ok := p.Admit(*st, now); !ok {
			return &throttle.LimitedError{RetryAfter: wait}
		}
		*st = p.Fail(*st, now)
		return nil
	})
}

// voidLinks deletes every unused link of the account: after an address
// change, what was mailed to the old address (and any pending change) must
// not work any more.
func (q *MailQueue) voidLinks(ctx context.Context, userID string) error {
	for _, p := range []emailtoken.Purpose{emailtoken.PurposeVerifyEmail, emailtoken.PurposePasswordReset, emailtoken.PurposeChangeEmail} {
		if err := q.d.Tokens.DeleteForUser(ctx, userID, p); err != nil {
			return err
		}
	}
	return nil
}

// record appends a security event of userID.
func record(ctx context.Context, log EventRecorder, t audit.Type, userID string, meta Meta, now time.Time) error {
	return log.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, Type: t, IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now,
	})
}
