package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Deps are the ports the account interactors consume.
type Deps struct {
	Users    UserRepository
	Sessions SessionRevoker
	Audit    AuditLog
	Tx       Transactor
	Hasher   PasswordHasher
	Clock    Clock
	// Guard, when set, throttles the current-password check of a password
	// change as login attempts are throttled.
	Guard PasswordGuard
	// Throttle, when set, bounds email changes per account by
	// EmailChangePolicy: every attempt counts, whatever its outcome.
	Throttle          Throttle
	EmailChangePolicy throttle.Policy
	// Cache, when set, is told of users whose sessions were revoked or
	// deleted.
	Cache SessionCache
	// EventRetention, when positive, is how long security events are kept.
	EventRetention time.Duration
	// Mail is optional; without it an email change mails nobody.
	Mail EmailChangeMail
	// Locales are the mail languages a user may choose (the mail
	// templates'); empty means only user.DefaultLocale.
	Locales []string
	// ConfirmEmailChange (REQUIRE_EMAIL_VERIFICATION) makes an email change
	// a request: the account moves only when the link mailed to the new
	// address is used, and the answer is the same for every address. It
	// needs Mail.
	ConfirmEmailChange bool
	// StepUp is the freshness rule of the sensitive operations (change of
	// password or email, deletion). It is checked here, so every caller
	// gets it; the HTTP routes check it too, to answer before reading a
	// body.
	StepUp domauth.StepUpPolicy
	// Events is optional: user.updated, user.deleted, password.changed.
	Events Events
}

// Events publishes webhook events in the caller's transaction; nil
// publishes nothing.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// publish publishes e when events are configured.
func (s *Service) publish(ctx context.Context, e webhook.Event) error {
	if s.d.Events == nil {
		return nil
	}
	return s.d.Events.Publish(ctx, e)
}

// Service runs the account use cases.
type Service struct{ d Deps }

// NewService returns a Service.
func NewService(d Deps) *Service { return &Service{d: d} }

// Meta describes the client of a request, for security events.
type Meta struct {
	IP        string
	UserAgent string
}

// Me returns the caller's account: as loaded with the session check when
// it was, which saves a query on the most frequent authenticated call.
func (s *Service) Me(ctx context.Context, p domauth.Principal) (user.User, error) {
	if p.User.ID == p.UserID() && p.User.ID != "" {
		return p.User, nil
	}
	return s.user(ctx, p)
}

// user loads the caller's account; a vanished account means the session is gone.
func (s *Service) user(ctx context.Context, p domauth.Principal) (user.User, error) {
	u, err := s.d.Users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, domauth.ErrSessionRevoked
	}
	return u, err
}

// ProfileInput is what a user changes of their profile; a nil field stays
// as it is.
type ProfileInput struct {
	Name *string
	// Locale is the language of the account's mails, one of Deps.Locales.
	Locale *string
}

// UpdateProfile changes the caller's display name and mail language. Only
// those columns are written, so it cannot undo a password, email or role
// change that commits meanwhile.
func (s *Service) UpdateProfile(ctx context.Context, p domauth.Principal, in ProfileInput) (user.User, error) {
	ch := ProfileChange{UpdatedAt: s.d.Clock.Now().UTC()}
	var invalid user.ValidationError
	if in.Name != nil {
		n, err := user.NormalizeName(*in.Name)
		if !collect(&invalid, err) {
			return user.User{}, err
		}
		ch.Name = &n
	}
	if in.Locale != nil {
		l, err := user.CheckLocale("locale", *in.Locale, s.locales())
		if !collect(&invalid, err) {
			return user.User{}, err
		}
		ch.Locale = &l
	}
	if len(invalid.Fields) > 0 {
		return user.User{}, &invalid
	}
	if ch.Name == nil && ch.Locale == nil {
		return user.User{}, user.Invalid("name", "is required (or locale)")
	}
	var out user.User
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.d.Users.UpdateProfile(ctx, p.UserID(), ch); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return domauth.ErrSessionRevoked
			}
			return err
		}
		var err error
		if out, err = s.user(ctx, p); err != nil {
			return err
		}
		var changed []string
		if ch.Name != nil {
			changed = append(changed, "name")
		}
		if ch.Locale != nil {
			changed = append(changed, "locale")
		}
		return s.publish(ctx, webhook.NewUserUpdated(id.New(), out, changed, ch.UpdatedAt))
	})
	return out, err
}

// locales are the locales a user may choose.
func (s *Service) locales() []string {
	if len(s.d.Locales) == 0 {
		return []string{user.DefaultLocale}
	}
	return s.d.Locales
}

// collect adds the fields of a validation error to into and reports true;
// any other error (or none) reports whether err is nil.
func collect(into *user.ValidationError, err error) bool {
	var ve *user.ValidationError
	if errors.As(err, &ve) {
		into.Fields = append(into.Fields, ve.Fields...)
		return true
	}
	return err == nil
}

// ChangePassword checks the current password, sets the new one and revokes
// every other session of the user; the caller's session keeps working.
// A wrong current password is a validation error on currentPassword, not an
// authentication failure: the caller is authenticated, the input is wrong.
func (s *Service) ChangePassword(ctx context.Context, p domauth.Principal, current, next string, meta Meta) error {
	if err := s.stepUp(p); err != nil {
		return err
	}
	u, err := s.user(ctx, p)
	if err != nil {
		return err
	}
	if s.d.Guard != nil {
		if err := s.d.Guard.AdmitPassword(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	match, _, err := s.d.Hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		if s.d.Guard != nil {
			s.d.Guard.PasswordUnchecked(ctx, u.Email, meta.IP)
		}
		return fmt.Errorf("change password: verify: %w", err)
	}
	if !match {
		// Counted as a failed attempt: this endpoint must not be a way
		// around the login throttle.
		return user.Invalid("currentPassword", "is not the current password")
	}
	if s.d.Guard != nil {
		if err := s.d.Guard.PasswordProven(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	if err := user.CheckPassword("newPassword", next, u.Email); err != nil {
		return err
	}
	if next == current {
		return user.Invalid("newPassword", "must differ from the current password")
	}
	hash, err := s.d.Hasher.Hash(ctx, next)
	if err != nil {
		return fmt.Errorf("change password: hash: %w", err)
	}
	defer s.forget(u.ID)
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.d.Clock.Now().UTC()
		// The hash and the credential version only, and only if the
		// credential is still the one just proven: the account was read
		// before two hashes, and anything else changed meanwhile (roles, a
		// disable, the address) stays as it was committed. The statement
		// holds the row: a login that proved the old password now either
		// sees the new version or has its session committed in time for
		// the revocation below.
		err := s.d.Users.SetPassword(ctx, u.ID, hash, u.CredentialVersion, now)
		if errors.Is(err, user.ErrCredentialChanged) {
			// Another change or a reset won meanwhile: what was proven is
			// no longer the current password.
			return user.Invalid("currentPassword", "is not the current password")
		}
		if err != nil {
			return err
		}
		if _, err := s.d.Sessions.RevokeAllForUser(ctx, u.ID, p.SessionID(), session.ReasonPasswordChange, now); err != nil {
			return err
		}
		if err := s.publish(ctx, webhook.NewPasswordChanged(id.New(), u.ID, webhook.ViaChange, now)); err != nil {
			return err
		}
		return s.record(ctx, audit.PasswordChanged, p, meta)
	})
}

// EmailChange is the outcome of ChangeEmail: the account as it is now,
// and whether the change waits for the new address to confirm it.
type EmailChange struct {
	User    user.User
	Pending bool
}

// ChangeEmail moves the account to a new address; user.ErrEmailTaken when
// another account has it (compared case-insensitively).
//
// With ConfirmEmailChange it moves nothing yet: it queues a request, and
// the mail sender later mails a confirmation link to the new address, or,
// when another account has that address, a notice to its owner. The caller
// gets Pending and the same answer, after the same work, for every address,
// so an email change never tells whether an address has an account.
func (s *Service) ChangeEmail(ctx context.Context, p domauth.Principal, email string, meta Meta) (EmailChange, error) {
	if err := s.stepUp(p); err != nil {
		return EmailChange{}, err
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return EmailChange{}, user.Invalid("email", "must be a valid email address")
	}
	if err := s.countEmailChange(ctx, p.UserID()); err != nil {
		return EmailChange{}, err
	}
	if s.d.ConfirmEmailChange {
		return s.requestEmailChange(ctx, p, e, meta)
	}
	var out user.User
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := s.user(ctx, p)
		if err != nil {
			return err
		}
		if u.Email == e {
			out = u
			return nil
		}
		old := u.Email
		u.Email = e
		// The new address is unproven until its link is opened.
		u.EmailVerified = false
		u.UpdatedAt = s.d.Clock.Now().UTC()
		if err := s.d.Users.SetEmail(ctx, u.ID, u.Email, false, u.UpdatedAt); err != nil {
			return err
		}
		if s.d.Mail != nil {
			if err := s.d.Mail.EmailChanged(ctx, u, old); err != nil {
				return err
			}
		}
		out = u
		if err := s.publish(ctx, webhook.NewUserUpdated(id.New(), u, []string{"email", "emailVerified"}, u.UpdatedAt)); err != nil {
			return err
		}
		return s.record(ctx, audit.EmailChanged, p, meta)
	})
	return EmailChange{User: out}, err
}

// requestEmailChange queues the confirmation of a change to e, the same
// for every e (the caller's own address included: the sender drops that).
func (s *Service) requestEmailChange(ctx context.Context, p domauth.Principal, e string, meta Meta) (EmailChange, error) {
	if s.d.Mail == nil {
		return EmailChange{}, errors.New("account: email change confirmation needs mail")
	}
	var out user.User
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := s.user(ctx, p)
		if err != nil {
			return err
		}
		out = u
		if err := s.d.Mail.EmailChangeRequested(ctx, u, e); err != nil {
			return err
		}
		return s.record(ctx, audit.EmailChangeRequested, p, meta)
	})
	return EmailChange{User: out, Pending: true}, err
}

// DeleteAccount removes the caller's account, sessions and refresh tokens.
// Its security events stay for operators, stripped of the IP and user agent.
func (s *Service) DeleteAccount(ctx context.Context, p domauth.Principal, meta Meta) error {
	if err := s.stepUp(p); err != nil {
		return err
	}
	defer s.forget(p.UserID())
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if _, err := s.user(ctx, p); err != nil {
			return err
		}
		if err := s.d.Users.Delete(ctx, p.UserID()); err != nil {
			return err
		}
		if err := s.d.Audit.ScrubUser(ctx, p.UserID()); err != nil {
			return err
		}
		if err := s.publish(ctx, webhook.NewUserDeleted(id.New(), p.UserID(), s.d.Clock.Now().UTC())); err != nil {
			return err
		}
		// Recorded after the scrub, and without client data, for the same reason.
		return s.record(ctx, audit.AccountDeleted, p, Meta{})
	})
}

// MaxEventPage bounds one page of security events.
const MaxEventPage = 100

// SecurityEvents lists the caller's security events, newest first.
func (s *Service) SecurityEvents(ctx context.Context, p domauth.Principal, cursor string, limit int) (audit.Page, error) {
	if limit < 1 || limit > MaxEventPage {
		return audit.Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	page, err := s.d.Audit.ListByUser(ctx, p.UserID(), cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return audit.Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	return page, err
}

// stepUp applies the freshness rule of sensitive operations to the caller.
func (s *Service) stepUp(p domauth.Principal) error {
	return s.d.StepUp.Check(p.Claims, s.d.Clock.Now().UTC())
}

func (s *Service) record(ctx context.Context, t audit.Type, p domauth.Principal, meta Meta) error {
	return s.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: p.UserID(), SessionID: p.SessionID(), Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: s.d.Clock.Now().UTC(),
	})
}

// forget drops what this instance cached of userID's sessions. It runs
// after the transaction (deferred), so no request can cache the state from
// before the commit again; on a rollback it only costs a lookup.
func (s *Service) forget(userID string) {
	if s.d.Cache != nil {
		s.d.Cache.ForgetUser(userID)
	}
}

// countEmailChange counts an email-change attempt of userID, refusing it
// past EmailChangePolicy: each attempt can tell whether an address has an
// account (EMAIL_TAKEN), so their rate per account is bounded.
func (s *Service) countEmailChange(ctx context.Context, userID string) error {
	if s.d.Throttle == nil || s.d.EmailChangePolicy.MaxFailures <= 0 {
		return nil
	}
	now := s.d.Clock.Now().UTC()
	p := s.d.EmailChangePolicy
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		return s.d.Throttle.Update(ctx, "email-change:"+userID, func(st *throttle.State) error {
			if wait, ok := p.Admit(*st, now); !ok {
				return &throttle.LimitedError{RetryAfter: wait}
			}
			*st = p.Fail(*st, now)
			return nil
		})
	})
}

// eventPurgeBatch bounds one delete of old security events.
const eventPurgeBatch = 1000

// PurgeEvents deletes security events older than the retention, so the
// table does not grow without bound (SECURITY_EVENT_RETENTION).
func (s *Service) PurgeEvents(ctx context.Context) (int, error) {
	if s.d.EventRetention <= 0 {
		return 0, nil
	}
	return s.d.Audit.PurgeBefore(ctx, s.d.Clock.Now().UTC().Add(-s.d.EventRetention), eventPurgeBatch)
}
