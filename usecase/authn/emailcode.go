package authn

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Sign in with an emailed code: EmailCodeRequester queues the request,
// EmailCodeIssuer makes the code and link when the mail is sent, and
// EmailCodeLogin checks either and starts the session.

// EmailCodeStore keeps the pending code of each address: every port, what
// a store implements.
type EmailCodeStore interface {
	// Replace stores p as the pending code of p.Email; the address's
	// earlier code, if any, is void from then on.
	Replace(ctx context.Context, p emailcode.Pending) error
	// ByEmail and ByToken read the pending code of an address, or of a
	// link token's hash, without taking it; emailcode.ErrCodeInvalid if
	// none.
	ByEmail(ctx context.Context, email string) (emailcode.Pending, error)
	ByToken(ctx context.Context, hash [32]byte) (emailcode.Pending, error)
	// TakeByToken deletes the pending code whose link token hashes to
	// hash and returns it: the link's one use. emailcode.ErrCodeInvalid if
	// none.
	TakeByToken(ctx context.Context, hash [32]byte) (emailcode.Pending, error)
	// Update loads the pending code of email, locks it until the
	// transaction ends and calls fn, then deletes it when fn says so, else
	// stores its Failures. fn's error is returned and nothing is written;
	// emailcode.ErrCodeInvalid when the address has no pending code.
	Update(ctx context.Context, email string, fn func(*emailcode.Pending) (remove bool, err error)) error
	// Delete deletes the pending code recordID (one whose mail failed).
	Delete(ctx context.Context, recordID string) error
	// PurgeExpired deletes codes that expired before before.
	PurgeExpired(ctx context.Context, before time.Time) (int, error)
}

// MailQueue is the transactional mail outbox, as far as queuing goes.
type MailQueue interface {
	// Enqueue stores m in the caller's transaction, due at due.
	Enqueue(ctx context.Context, m outbox.Message, due time.Time) error
}

// MailBudget counts a mail a client asks for against the per-IP and
// per-address budgets every mail request shares (forgot-password's);
// throttle.LimitedError past either.
type MailBudget interface {
	AdmitMail(ctx context.Context, email, ip string) error
}

// EmailCodeRequesterDeps are the ports of an EmailCodeRequester.
type EmailCodeRequesterDeps struct {
	// Queue is nil when no mail transport is configured: every request is
	// then emailtoken.ErrMailUnavailable.
	Queue MailQueue
	// Budget is optional; without it requests are not throttled.
	Budget MailBudget
	Tx     Transactor
	Clock  Clock
}

// EmailCodeRequester serves POST /auth/email-code.
type EmailCodeRequester struct {
	queue  MailQueue
	budget MailBudget
	tx     Transactor
	clock  Clock
}

// NewEmailCodeRequester returns an EmailCodeRequester.
func NewEmailCodeRequester(d EmailCodeRequesterDeps) *EmailCodeRequester {
	return &EmailCodeRequester{queue: d.Queue, budget: d.Budget, tx: d.Tx, clock: d.Clock}
}

// Request queues a sign-in code for email. It does the same work for every
// address, whether it has an account or not: the request is queued as is,
// and EmailCodeIssuer decides when the mail is sent. A request over the
// mail budget is dropped silently, answered like any other.
func (r *EmailCodeRequester) Request(ctx context.Context, email string, meta Meta) error {
	if r.queue == nil {
		return emailtoken.ErrMailUnavailable
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return user.Invalid("email", "must be a valid email address")
	}
	meta = meta.clean()
	now := nowUTC(r.clock)
	err := r.tx.WithinTx(ctx, func(ctx context.Context) error {
		if r.budget != nil {
			if err := r.budget.AdmitMail(ctx, e, meta.IP); err != nil {
				return err
			}
		}
		return r.queue.Enqueue(ctx, outbox.Message{
			ID: id.New(), Kind: outbox.KindEmailCodeRequested, To: e, CreatedAt: now,
		}, now)
	})
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		return nil
	}
	return err
}

// EmailCodeIssuerDeps are the ports and settings of an EmailCodeIssuer.
type EmailCodeIssuerDeps struct {
	Users  EmailCodeAccounts
	Codes  EmailCodeStore
	Sealer *emailcode.Sealer
	Tx     Transactor
	Clock  Clock
	// TTL is the lifetime of a code and its link (EMAIL_CODE_TTL).
	TTL time.Duration
	// Link is the link template; "{token}" is replaced (EMAIL_CODE_LINK).
	Link string
	// Signup mails a code to an address with no account too
	// (EMAIL_CODE_SIGNUP).
	Signup bool
}

// EmailCodeAccounts is what issuing a code needs of the accounts.
type EmailCodeAccounts interface {
	// ByEmail finds an account by normalized email; user.ErrNotFound if none.
	ByEmail(ctx context.Context, email string) (user.User, error)
}

// EmailCodeIssuer turns a queued request (outbox.KindEmailCodeRequested)
// into its mail at send time: the code and the link are made then, their
// hashes stored, and they exist only in memory and in the mail, never in
// the outbox.
type EmailCodeIssuer struct {
	users  EmailCodeAccounts
	codes  EmailCodeStore
	sealer *emailcode.Sealer
	tx     Transactor
	clock  Clock
	ttl    time.Duration
	link   string
	signup bool
}

// NewEmailCodeIssuer returns an EmailCodeIssuer.
func NewEmailCodeIssuer(d EmailCodeIssuerDeps) *EmailCodeIssuer {
	ttl := d.TTL
	if ttl <= 0 {
		ttl = emailcode.DefaultTTL
	}
	return &EmailCodeIssuer{users: d.Users, codes: d.Codes, sealer: d.Sealer, tx: d.Tx, clock: d.Clock,
		ttl: ttl, link: d.Link, signup: d.Signup}
}

// IssueEmailCode returns the mail for request m: a new code and link for
// an enabled account with the address (or, with sign-up allowed, for an
// address with none), which void the address's earlier code. nil when
// there is nothing to send (a disabled account, or no account and no
// sign-up). undo deletes the code again when the mail does not go out.
func (i *EmailCodeIssuer) IssueEmailCode(ctx context.Context, m outbox.Message) (*outbox.Message, func(context.Context), error) {
	code := emailcode.NewCode()
	raw, hash := emailtoken.NewSecret()
	p := emailcode.Pending{ID: id.New(), Email: m.To, TokenHash: hash}
	p.CodeSeal = i.sealer.Seal(p.ID, code)
	out := m
	err := i.tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := i.users.ByEmail(ctx, m.To)
		switch {
		case errors.Is(err, user.ErrNotFound):
			if !i.signup {
				return errNoMail
			}
		case err != nil:
			return err
		case u.CanSignIn() != nil:
			// A disabled account gets no code: it could not use it.
			return errNoMail
		default:
			p.UserID, p.CredentialVersion, out.Locale = u.ID, u.CredentialVersion, u.Locale
		}
		now := nowUTC(i.clock)
		p.CreatedAt, p.ExpiresAt = now, now.Add(i.ttl)
		return i.codes.Replace(ctx, p)
	})
	if errors.Is(err, errNoMail) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	out.Kind, out.Code, out.TTL = outbox.KindEmailCode, code, i.ttl
	out.Link = strings.ReplaceAll(i.link, "{token}", raw)
	undo := func(ctx context.Context) { _ = i.codes.Delete(ctx, p.ID) }
	return &out, undo, nil
}

// errNoMail ends IssueEmailCode's transaction when nothing is to be sent.
var errNoMail = errors.New("no mail to send")
