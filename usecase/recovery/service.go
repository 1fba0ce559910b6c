package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Deps are the ports the recovery interactors consume.
type Deps struct {
	Users    UserRepository
	Tokens   TokenStore
	Outbox   Outbox
	Sessions SessionRevoker
	Audit    AuditLog
	Tx       Transactor
	Hasher   PasswordHasher
	Limiter  Limiter
	Clock    Clock
	// Sender is nil when no mail transport is configured (mail off).
	Sender MailSender
	// Observer is optional.
	Observer Observer
	Log      *slog.Logger
	// Guard, when set, puts the hashing of a new password under the login
	// throttle; Cache, when set, is told of the reset's revocation.
	Guard PasswordGuard
	Cache SessionCache
	// Factors, when set, has a reset clear the failed second-factor codes.
	Factors FactorFailures
	// Events is optional: email.verified, user.updated, password.changed.
	Events Events
}

// Events publishes webhook events in the caller's transaction.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// publish publishes e when events are configured.
func (s *Service) publish(ctx context.Context, events ...webhook.Event) error {
	if s.d.Events == nil {
		return nil
	}
	for _, e := range events {
		if err := s.d.Events.Publish(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Config are the recovery settings.
type Config struct {
	// VerifyLink and ResetLink are link templates; "{token}" is replaced.
	VerifyLink, ResetLink string
	VerifyTTL, ResetTTL   time.Duration
	// Retry is the delivery back-off.
	Retry outbox.Retry
	// Lease is how long a claimed message is this instance's; it must
	// outlast one delivery attempt.
	Lease time.Duration
	// PerAddress and PerIP throttle the mails a client can trigger.
	PerAddress, PerIP throttle.Policy
}

// Service runs the recovery use cases.
type Service struct {
	d   Deps
	cfg Config
}

// NewService returns a Service.
func NewService(d Deps, cfg Config) *Service {
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, cfg: cfg}
}

// Meta describes the client of a request.
type Meta struct {
	IP        string
	UserAgent string
}

// Enabled reports whether mail can be sent.
func (s *Service) Enabled() bool { return s.d.Sender != nil }

func (s *Service) now() time.Time { return s.d.Clock.Now().UTC() }

// RequestVerification queues a verification link to the caller's address;
// nothing when it is already verified.
func (s *Service) RequestVerification(ctx context.Context, p domauth.Principal, meta Meta) error {
	if !s.Enabled() {
		return recovery.ErrMailUnavailable
	}
	now := s.now()
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := s.d.Users.ByID(ctx, p.UserID())
		if errors.Is(err, user.ErrNotFound) {
			return domauth.ErrSessionRevoked
		}
		if err != nil || u.EmailVerified {
			return err
		}
		if err := s.admit(ctx, u.Email, meta.IP, now); err != nil {
			return err
		}
		return s.queueVerification(ctx, u, now)
	})
}

// Verify marks the address of the token's account verified.
func (s *Service) Verify(ctx context.Context, raw string) (user.User, error) {
	hash, ok := recovery.HashSecret(raw)
	if !ok {
		return user.User{}, user.Invalid("token", "is not a link token")
	}
	now := s.now()
	var out user.User
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// Taking the token first makes two uses race on its deletion; a
		// failure below rolls the deletion back, so a token presented for
		// the wrong purpose stays usable for its own.
		t, err := s.d.Tokens.Take(ctx, hash)
		if err != nil {
			return err
		}
		if t.Purpose == recovery.PurposeChangeEmail {
			out, err = s.confirmEmailChange(ctx, t, now)
			return err
		}
		u, err := s.tokenUser(ctx, t, recovery.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		if err := s.d.Tokens.DeleteForUser(ctx, u.ID, recovery.PurposeVerifyEmail); err != nil {
			return err
		}
		out = u
		if u.EmailVerified {
			return nil
		}
		if err := s.d.Users.MarkEmailVerified(ctx, u.ID, u.Email, now); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				// The account left the address since the read above.
				return recovery.ErrLinkInvalid
			}
			return err
		}
		u.EmailVerified, u.UpdatedAt = true, now
		out = u
		if err := s.publish(ctx, webhook.NewUserUpdated(id.New(), u, []string{"emailVerified"}, now),
			webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
			return err
		}
		return s.record(ctx, audit.EmailVerified, u.ID, Meta{}, now)
	})
	return out, err
}

// confirmEmailChange moves the account of t to the address t was mailed
// to, which the use of the link proves; in the caller's transaction, after
// t was taken. user.ErrEmailTaken when another account took the address
// meanwhile (the link stays usable). The links of the old address die, and
// the old address gets a notice.
func (s *Service) confirmEmailChange(ctx context.Context, t recovery.Token, now time.Time) (user.User, error) {
	u, err := s.tokenUser(ctx, t, recovery.PurposeChangeEmail, now)
	if err != nil {
		return user.User{}, err
	}
	old := u.Email
	if err := s.d.Users.SetEmail(ctx, u.ID, t.Email, true, now); err != nil {
		return user.User{}, err
	}
	u.Email, u.EmailVerified, u.UpdatedAt = t.Email, true, now
	if err := s.voidLinks(ctx, u.ID); err != nil {
		return user.User{}, err
	}
	if old != u.Email {
		if err := s.queue(ctx, outbox.Message{Kind: outbox.KindEmailChanged, To: old}, now); err != nil {
			return user.User{}, err
		}
	}
	if err := s.record(ctx, audit.EmailChanged, u.ID, Meta{}, now); err != nil {
		return user.User{}, err
	}
	if err := s.publish(ctx, webhook.NewUserUpdated(id.New(), u, []string{"email", "emailVerified"}, now),
		webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
		return user.User{}, err
	}
	return u, s.record(ctx, audit.EmailVerified, u.ID, Meta{}, now)
}

// voidLinks deletes every unused link of the account: after an address
// change, what was mailed to the old address (and any pending change) must
// not work any more.
func (s *Service) voidLinks(ctx context.Context, userID string) error {
	for _, p := range []recovery.Purpose{recovery.PurposeVerifyEmail, recovery.PurposePasswordReset, recovery.PurposeChangeEmail} {
		if err := s.d.Tokens.DeleteForUser(ctx, userID, p); err != nil {
			return err
		}
	}
	return nil
}

// tokenUser loads the account of t and checks that t may be used for p.
func (s *Service) tokenUser(ctx context.Context, t recovery.Token, p recovery.Purpose, now time.Time) (user.User, error) {
	u, err := s.d.Users.ByID(ctx, t.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, recovery.ErrLinkInvalid
	}
	if err != nil {
		return user.User{}, err
	}
	if !t.Accepts(p, u, now) {
		return user.User{}, recovery.ErrLinkInvalid
	}
	return u, nil
}

// ForgotPassword queues a password-reset request for email. It answers the
// same, after the same work, whether or not an account has the address:
// the request is queued as is, and the sender decides later (see
// outbox.KindResetRequested). A throttled request is dropped silently.
func (s *Service) ForgotPassword(ctx context.Context, email string, meta Meta) error {
	if !s.Enabled() {
		return recovery.ErrMailUnavailable
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return user.Invalid("email", "must be a valid email address")
	}
	now := s.now()
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.admit(ctx, e, meta.IP, now); err != nil {
			return err
		}
		return s.d.Outbox.Enqueue(ctx, outbox.Message{
			ID: id.New(), Kind: outbox.KindResetRequested, To: e, CreatedAt: now,
		}, now)
	})
	return s.unlessLimited(err)
}

// ResetPassword sets a new password with a reset token: every session of
// the account ends, and a notice goes to the address.
func (s *Service) ResetPassword(ctx context.Context, raw, newPassword string, meta Meta) error {
	hash, ok := recovery.HashSecret(raw)
	if !ok {
		return user.Invalid("token", "is not a link token")
	}
	now := s.now()
	// Checked before hashing, so a bad link costs no hash and a weak
	// password does not use the link up.
	t, err := s.d.Tokens.ByHash(ctx, hash)
	if err != nil {
		return err
	}
	u, err := s.tokenUser(ctx, t, recovery.PurposePasswordReset, now)
	if err != nil {
		return err
	}
	if err := user.CheckPassword("newPassword", newPassword, u.Email); err != nil {
		return err
	}
	// A hash on demand is what the login throttle rations: the reset goes
	// through it like every other password-hashing route.
	if s.d.Guard != nil {
		if err := s.d.Guard.AdmitPassword(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	encoded, err := s.d.Hasher.Hash(ctx, newPassword)
	if err != nil {
		if s.d.Guard != nil {
			s.d.Guard.PasswordUnchecked(ctx, u.Email, meta.IP)
		}
		return fmt.Errorf("reset password: hash: %w", err)
	}
	if s.d.Cache != nil {
		// After the transaction (deferred), so nothing caches the state
		// from before the commit again.
		defer s.d.Cache.ForgetUser(u.ID)
	}
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		t, err := s.d.Tokens.Take(ctx, hash)
		if err != nil {
			return err
		}
		u, err := s.tokenUser(ctx, t, recovery.PurposePasswordReset, now)
		if err != nil {
			return err
		}
		// A reset is a credential change (the version moves with the hash):
		// a login that proved the old password and is about to start its
		// session must not succeed.
		err = s.d.Users.SetPassword(ctx, u.ID, encoded, t.CredentialVersion, now)
		if errors.Is(err, user.ErrCredentialChanged) {
			return recovery.ErrLinkInvalid
		}
		if err != nil {
			return err
		}
		// The link reached the address, which proves it as well as a
		// verification link would.
		if err := s.d.Users.MarkEmailVerified(ctx, u.ID, u.Email, now); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return recovery.ErrLinkInvalid
			}
			return err
		}
		if !u.EmailVerified {
			v := u
			v.EmailVerified, v.UpdatedAt = true, now
			if err := s.publish(ctx, webhook.NewUserUpdated(id.New(), v, []string{"emailVerified"}, now),
				webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
				return err
			}
		}
		// Second factors are kept (a mailbox alone never removes one); only
		// the ceiling of failed codes is lifted, as the contract promises
		// the owner who reached it. Before the sessions, the order in which
		// a code check and a factor enrolment lock these rows.
		if s.d.Factors != nil {
			if err := s.d.Factors.ClearFailures(ctx, u.ID); err != nil {
				return err
			}
		}
		if _, err := s.d.Sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonPasswordReset, now); err != nil {
			return err
		}
		if err := s.d.Tokens.DeleteForUser(ctx, u.ID, recovery.PurposePasswordReset); err != nil {
			return err
		}
		if err := s.record(ctx, audit.PasswordReset, u.ID, meta, now); err != nil {
			return err
		}
		if err := s.publish(ctx, webhook.NewPasswordChanged(id.New(), u.ID, webhook.ViaReset, now)); err != nil {
			return err
		}
		return s.queue(ctx, outbox.Message{Kind: outbox.KindPasswordChanged, To: u.Email, Locale: u.Locale}, now)
	})
	if err == nil && s.d.Guard != nil {
		// The link proved the mailbox: earlier failed guesses of this
		// client at the account are forgiven, as after a correct password.
		_ = s.d.Guard.PasswordProven(ctx, u.Email, meta.IP)
	}
	return err
}

// Notice queues a notice (no link) of kind to address to, in the caller's
// transaction, so it goes out if and only if what it reports commits.
// Without mail it does nothing. Notices are not throttled: each reports a
// change the account's owner made or must hear about.
func (s *Service) Notice(ctx context.Context, to string, kind outbox.Kind) error {
	if !s.Enabled() {
		return nil
	}
	return s.queue(ctx, outbox.Message{Kind: kind, To: to}, s.now())
}

// Registered queues a verification link for a new account, in the
// caller's transaction. Without mail it does nothing. The mail counts in
// the per-IP and per-address mail budgets like any other a client can
// trigger: past either it is not sent (the account stands; its owner can
// ask for a link later), so registration cannot mail an address at will.
func (s *Service) Registered(ctx context.Context, u user.User, ip string) error {
	if !s.Enabled() {
		return nil
	}
	now := s.now()
	return s.unlessLimited(s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.admit(ctx, u.Email, ip, now); err != nil {
			return err
		}
		return s.queueVerification(ctx, u, now)
	}))
}

// RegisteredAgain tells the owner of email that someone tried to register
// it, when registration must not tell accounts apart. Throttled per IP and
// per address like the other mails, silently.
func (s *Service) RegisteredAgain(ctx context.Context, email, ip string) error {
	if !s.Enabled() {
		return nil
	}
	now := s.now()
	return s.unlessLimited(s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.admit(ctx, email, ip, now); err != nil {
			return err
		}
		// In the owner's language: the account has the address.
		owner, err := s.d.Users.ByEmail(ctx, email)
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return err
		}
		return s.queue(ctx, outbox.Message{Kind: outbox.KindAccountExists, To: email, Locale: owner.Locale}, now)
	}))
}

// unlessLimited drops a throttle refusal: a mail over budget is simply not
// sent, and the request answers as if it had been.
func (s *Service) unlessLimited(err error) error {
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		return nil
	}
	return err
}

// EmailChanged, in the caller's transaction, voids the links sent to the
// old address (and pending email-change links), queues a verification link
// to the new one and a notice to the old one.
func (s *Service) EmailChanged(ctx context.Context, u user.User, oldEmail string) error {
	now := s.now()
	if err := s.voidLinks(ctx, u.ID); err != nil {
		return err
	}
	if !s.Enabled() {
		return nil
	}
	if err := s.queueVerification(ctx, u, now); err != nil {
		return err
	}
	return s.queue(ctx, outbox.Message{Kind: outbox.KindEmailChanged, To: oldEmail, Locale: u.Locale}, now)
}

// EmailChangeRequested queues, in the caller's transaction, the request to
// move u to newEmail (REQUIRE_EMAIL_VERIFICATION): whether newEmail gets the
// confirmation link or, when another account has it, a notice, is decided
// when the mail is sent, so the request does the same work for every
// address.
func (s *Service) EmailChangeRequested(ctx context.Context, u user.User, newEmail string) error {
	if !s.Enabled() {
		return recovery.ErrMailUnavailable
	}
	return s.queue(ctx, outbox.Message{Kind: outbox.KindEmailChangeRequested, UserID: u.ID, To: newEmail, Locale: u.Locale}, s.now())
}

// queueVerification queues, in the caller's transaction, the request for a
// verification link to u's address: the link is issued when the mail is
// sent (see deliver), so the outbox never holds it.
func (s *Service) queueVerification(ctx context.Context, u user.User, now time.Time) error {
	return s.queue(ctx, outbox.Message{Kind: outbox.KindVerifyRequested, UserID: u.ID, To: u.Email, Locale: u.Locale}, now)
}

func (s *Service) queue(ctx context.Context, m outbox.Message, now time.Time) error {
	m.ID, m.CreatedAt = id.New(), now
	if err := s.d.Outbox.Enqueue(ctx, m, now); err != nil {
		return err
	}
	s.d.Observer.MailQueued()
	return nil
}

// Throttle keys, apart from the login throttle's "account:" keys.
const (
	addressKeyPrefix = "mail:address:"
	ipKeyPrefix      = "mail:ip:"
)

// admit counts a mail request against the client (its IP, an IPv6 client
// by its /64, which one host holds whole) and the address.
func (s *Service) admit(ctx context.Context, email, ip string, now time.Time) error {
	if ip != "" {
		if err := s.count(ctx, ipKeyPrefix+throttle.ClientKey(ip), s.cfg.PerIP, now); err != nil {
			return err
		}
	}
	return s.count(ctx, addressKeyPrefix+email, s.cfg.PerAddress, now)
}

// count admits one more request under p, or returns a LimitedError; the
// policy's failures are the requests counted.
func (s *Service) count(ctx context.Context, key string, p throttle.Policy, now time.Time) error {
	if s.d.Limiter == nil || p.MaxFailures <= 0 {
		return nil
	}
	return s.d.Limiter.Update(ctx, key, func(st *throttle.State) error {
		if wait, ok := p.Admit(*st, now); !ok {
			return &throttle.LimitedError{RetryAfter: wait}
		}
		*st = p.Fail(*st, now)
		return nil
	})
}

func (s *Service) record(ctx context.Context, t audit.Type, userID string, meta Meta, now time.Time) error {
	return s.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, Type: t, IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now,
	})
}
