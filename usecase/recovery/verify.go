package recovery

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// VerificationRequester mails the caller a verification link.
type VerificationRequester struct {
	users UserReader
	mail  *MailQueue
	tx    Transactor
}

// NewVerificationRequester returns a VerificationRequester.
func NewVerificationRequester(users UserReader, mail *MailQueue, tx Transactor) *VerificationRequester {
	return &VerificationRequester{users: users, mail: mail, tx: tx}
}

// RequestVerification queues a verification link to the caller's address;
// nothing when it is already verified. emailtoken.ErrMailUnavailable without
// mail; throttle.LimitedError past the mail budgets.
func (r *VerificationRequester) RequestVerification(ctx context.Context, p auth.Principal, meta Meta) error {
	if !r.mail.Enabled() {
		return emailtoken.ErrMailUnavailable
	}
	now := r.mail.now()
	return r.tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := r.users.ByID(ctx, p.UserID())
		if errors.Is(err, user.ErrNotFound) {
			return auth.ErrSessionRevoked
		}
		if err != nil || u.EmailVerified {
			return err
		}
		if err := r.mail.admit(ctx, u.Email, meta.IP, now); err != nil {
			return err
		}
		return r.mail.queueVerification(ctx, u, now)
	})
}

// EmailVerifierDeps are the ports of an EmailVerifier.
type EmailVerifierDeps struct {
	Tokens LinkTaker
	Users  AddressWriter
	Audit  EventRecorder
	Tx     Transactor
	Clock  Clock
	Mail   *MailQueue
	// Events is optional: user.updated and email.verified (webhooks).
	Events Events
}

// EmailVerifier uses verification and email-change links.
type EmailVerifier struct{ d EmailVerifierDeps }

// NewEmailVerifier returns an EmailVerifier.
func NewEmailVerifier(d EmailVerifierDeps) *EmailVerifier { return &EmailVerifier{d: d} }

// Verify marks the address of the token's account verified, or, for an
// email-change link, moves the account to the address the link was mailed
// to. emailtoken.ErrLinkInvalid for a used, expired or foreign link.
func (v *EmailVerifier) Verify(ctx context.Context, raw string) (user.User, error) {
	hash, ok := emailtoken.HashSecret(raw)
	if !ok {
		return user.User{}, user.Invalid("token", "is not a link token")
	}
	now := v.d.Clock.Now().UTC()
	var out user.User
	err := v.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// Taking the token first makes two uses race on its deletion; a
		// failure below rolls the deletion back, so a token presented for
		// the wrong purpose stays usable for its own.
		t, err := v.d.Tokens.Take(ctx, hash)
		if err != nil {
			return err
		}
		if t.Purpose == emailtoken.PurposeChangeEmail {
			out, err = v.confirmEmailChange(ctx, t, now)
			return err
		}
		u, err := tokenUser(ctx, v.d.Users, t, emailtoken.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		if err := v.d.Tokens.DeleteForUser(ctx, u.ID, emailtoken.PurposeVerifyEmail); err != nil {
			return err
		}
		out = u
		if u.EmailVerified {
			return nil
		}
		if err := v.d.Users.MarkEmailVerified(ctx, u.ID, u.Email, now); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				// The account left the address since the read above.
				return emailtoken.ErrLinkInvalid
			}
			return err
		}
		u.EmailVerified, u.UpdatedAt = true, now
		out = u
		if err := publish(ctx, v.d.Events, webhook.NewUserUpdated(id.New(), u, []string{"emailVerified"}, now),
			webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
			return err
		}
		return record(ctx, v.d.Audit, audit.EmailVerified, u.ID, Meta{}, now)
	})
	return out, err
}

// confirmEmailChange moves the account of t to the address t was mailed
// to, which the use of the link proves; in the caller's transaction, after
// t was taken. user.ErrEmailTaken when another account took the address
// meanwhile (the link stays usable). The links of the old address die, and
// the old address gets a notice.
func (v *EmailVerifier) confirmEmailChange(ctx context.Context, t emailtoken.Token, now time.Time) (user.User, error) {
	u, err := tokenUser(ctx, v.d.Users, t, emailtoken.PurposeChangeEmail, now)
	if err != nil {
		return user.User{}, err
	}
	old := u.Email
	if err := v.d.Users.SetEmail(ctx, u.ID, t.Email, true, now); err != nil {
		return user.User{}, err
	}
	u.Email, u.EmailVerified, u.UpdatedAt = t.Email, true, now
	if err := v.d.Mail.voidLinks(ctx, u.ID); err != nil {
		return user.User{}, err
	}
	if old != u.Email {
		if err := v.d.Mail.queue(ctx, outbox.Message{Kind: outbox.KindEmailChanged, To: old}, now); err != nil {
			return user.User{}, err
		}
	}
	if err := record(ctx, v.d.Audit, audit.EmailChanged, u.ID, Meta{}, now); err != nil {
		return user.User{}, err
	}
	if err := publish(ctx, v.d.Events, webhook.NewUserUpdated(id.New(), u, []string{"email", "emailVerified"}, now),
		webhook.NewEmailVerified(id.New(), u.ID, u.Email, now)); err != nil {
		return user.User{}, err
	}
	return u, record(ctx, v.d.Audit, audit.EmailVerified, u.ID, Meta{}, now)
}

// findLink finds the link with hash through find (ByHash reads it, Take
// uses it up) and its account, checked as tokenUser does.
func findLink(ctx context.Context, find func(context.Context, [32]byte) (emailtoken.Token, error), hash [32]byte,
	users UserReader, p emailtoken.Purpose, now time.Time) (emailtoken.Token, user.User, error) {
	t, err := find(ctx, hash)
	if err != nil {
		return emailtoken.Token{}, user.User{}, err
	}
	u, err := tokenUser(ctx, users, t, p, now)
	return t, u, err
}

// tokenUser loads the account of t and checks that t may be used for p.
func tokenUser(ctx context.Context, users UserReader, t emailtoken.Token, p emailtoken.Purpose, now time.Time) (user.User, error) {
	u, err := users.ByID(ctx, t.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, emailtoken.ErrLinkInvalid
	}
	if err != nil {
		return user.User{}, err
	}
	if !t.Accepts(p, u, now) {
		return user.User{}, emailtoken.ErrLinkInvalid
	}
	return u, nil
}
