package recovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// ResetRequester queues password-reset requests.
type ResetRequester struct {
	mail *MailQueue
	tx   Transactor
}

// NewResetRequester returns a ResetRequester.
func NewResetRequester(mail *MailQueue, tx Transactor) *ResetRequester {
	return &ResetRequester{mail: mail, tx: tx}
}

// ForgotPassword queues a password-reset request for email. It answers the
// same, after the same work, whether or not an account has the address:
// the request is queued as is, and the sender decides later (see
// outbox.KindResetRequested). A throttled request is dropped silently.
func (r *ResetRequester) ForgotPassword(ctx context.Context, email string, meta Meta) error {
	if !r.mail.Enabled() {
		return emailtoken.ErrMailUnavailable
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return user.Invalid("email", "must be a valid email address")
	}
	now := r.mail.now()
	err := r.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := r.mail.admit(ctx, e, meta.IP, now); err != nil {
			return err
		}
		return r.mail.d.Outbox.Enqueue(ctx, outbox.Message{
			ID: id.New(), Kind: outbox.KindResetRequested, To: e, CreatedAt: now,
		}, now)
	})
	return unlessLimited(err)
}

// PasswordResetterDeps are the ports of a PasswordResetter.
type PasswordResetterDeps struct {
	Tokens   LinkTaker
	Users    PasswordWriter
	Sessions SessionRevoker
	Audit    EventRecorder
	Tx       Transactor
	Hasher   PasswordHasher
	Clock    Clock
	Mail     *MailQueue
	// Guard, when set, puts the hashing of a new password under the login
	// throttle; Cache, when set, is told of the reset's revocation.
	Guard PasswordGuard
	Cache SessionCache
	// Factors, when set, has a reset clear the failed second-factor codes.
	Factors FactorFailures
	// Events is optional: password.changed, and user.updated and
	// email.verified when the link proved a new address (webhooks).
	Events Events
}

// PasswordResetter sets new passwords with reset links.
type PasswordResetter struct{ d PasswordResetterDeps }

// NewPasswordResetter returns a PasswordResetter.
func NewPasswordResetter(d PasswordResetterDeps) *PasswordResetter { return &PasswordResetter{d: d} }

// ResetPassword sets a new password with a reset token: every session of
// the account ends, and a notice goes to the address.
// emailtoken.ErrLinkInvalid for a used, expired or foreign link; a weak
// password is a validation error and leaves the link usable.
func (r *PasswordResetter) ResetPassword(ctx context.Context, raw, newPassword string, meta Meta) error {
	hash, ok := emailtoken.HashSecret(raw)
	if !ok {
		return user.Invalid("token", "is not a link token")
	}
	now := r.d.Clock.Now().UTC()
	// Checked before hashing, so a bad link costs no hash and a weak
	// password does not use the link up.
	_, u, err := findLink(ctx, r.d.Tokens.ByHash, hash, r.d.Users, emailtoken.PurposePasswordReset, now)
	if err != nil {
		return err
	}
	if err := user.CheckPassword("newPassword", newPassword, u.Email); err != nil {
		return err
	}
	// A hash on demand is what the login throttle rations: the reset goes
	// through it like every other password-hashing route.
	if r.d.Guard != nil {
		if err := r.d.Guard.AdmitPassword(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	encoded, err := r.d.Hasher.Hash(ctx, newPassword)
	if err != nil {
		if r.d.Guard != nil {
			r.d.Guard.PasswordUnchecked(ctx, u.Email, meta.IP)
		}
		return fmt.Errorf("reset password: hash: %w", err)
	}
	if r.d.Cache != nil {
		// After the transaction (deferred), so nothing caches the state
		// from before the commit again.
		defer r.d.Cache.ForgetUser(u.ID)
	}
	err = r.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		t, u, err := findLink(ctx, r.d.Tokens.Take, hash, r.d.Users, emailtoken.PurposePasswordReset, now)
		if err != nil {
			return err
		}
		// A reset is a credential change (the version moves with the hash):
		// a login that proved the old password and is about to start its
		// session must not succeed.
		err = r.d.Users.SetPassword(ctx, u.ID, encoded, t.CredentialVersion, now)
		if errors.Is(err, user.ErrCredentialChanged) {
			return emailtoken.ErrLinkInvalid
		}
		if err != nil {
			return err
		}
		// The link reached the address, which proves it as well as a
		// verification link would.
		if err := r.d.Users.MarkEmailVerified(ctx, u.ID, u.Email, now); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return emailtoken.ErrLinkInvalid
			}
			return err
		}
		if !u.EmailVerified {
			v := u
			v.EmailVerified, v.UpdatedAt = true, now
			if err := publish(ctx, r.d.Events, webhook.NewUserUpdated(id.New(), v, []string{"emailVerified"}, now),
				webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
				return err
			}
		}
		// Second factors are kept (a mailbox alone never removes one); only
		// the ceiling of failed codes is lifted, as the contract promises
		// the owner who reached it. Before the sessions, the order in which
		// a code check and a factor enrolment lock these rows.
		if r.d.Factors != nil {
			if err := r.d.Factors.ClearFailures(ctx, u.ID); err != nil {
				return err
			}
		}
		if _, err := r.d.Sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonPasswordReset, now); err != nil {
			return err
		}
		if err := r.d.Tokens.DeleteForUser(ctx, u.ID, emailtoken.PurposePasswordReset); err != nil {
			return err
		}
		if err := record(ctx, r.d.Audit, audit.PasswordReset, u.ID, meta, now); err != nil {
			return err
		}
		if err := publish(ctx, r.d.Events, webhook.NewPasswordChanged(id.New(), u.ID, webhook.ViaReset, now)); err != nil {
			return err
		}
		return r.d.Mail.queue(ctx, outbox.Message{Kind: outbox.KindPasswordChanged, To: u.Email, Locale: u.Locale}, now)
	})
	if err == nil && r.d.Guard != nil {
		// The link proved the mailbox: earlier failed guesses of this
		// client at the account are forgiven, as after a correct password.
		_ = r.d.Guard.PasswordProven(ctx, u.Email, meta.IP)
	}
	return err
}
