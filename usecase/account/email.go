package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// EmailChangerDeps are the ports and settings of an EmailChanger.
type EmailChangerDeps struct {
	Users EmailWriter
	Audit EventRecorder
	Tx    Transactor
	Clock Clock
	// Throttle, when set, bounds email changes per account by Policy:
	// every attempt counts, whatever its outcome.
	Throttle Throttle
	Policy   throttle.Policy
	// Mail is optional; without it an email change mails nobody.
	Mail EmailChangeMail
	// Confirm (REQUIRE_EMAIL_VERIFICATION) makes an email change a
	// request: the account moves only when the link mailed to the new
	// address is used, and the answer is the same for every address. It
	// needs Mail.
	Confirm bool
	// StepUp is the freshness the caller's session must have.
	StepUp auth.StepUpPolicy
	// Events is optional: user.updated (webhooks).
	Events Events
}

// EmailChanger moves the caller's account to another address.
type EmailChanger struct {
	users    EmailWriter
	rec      recorder
	tx       Transactor
	clock    Clock
	throttle Throttle
	policy   throttle.Policy
	mail     EmailChangeMail
	confirm  bool
	fresh    stepUp
	events   publisher
}

// NewEmailChanger returns an EmailChanger.
func NewEmailChanger(d EmailChangerDeps) *EmailChanger {
	return &EmailChanger{
		users: d.Users, rec: recorder{d.Audit, d.Clock}, tx: d.Tx, clock: d.Clock,
		throttle: d.Throttle, policy: d.Policy, mail: d.Mail, confirm: d.Confirm,
		fresh: stepUp{d.StepUp, d.Clock}, events: publisher{d.Events},
	}
}

// EmailChange is the outcome of ChangeEmail: the account as it is now,
// and whether the change waits for the new address to confirm it.
type EmailChange struct {
	User    user.User
	Pending bool
}

// ChangeEmail moves the account to a new address; user.ErrEmailTaken when
// another account has it (compared case-insensitively). It needs a fresh
// session, and past the per-account limit it answers
// throttle.LimitedError.
//
// With Confirm it moves nothing yet: it queues a request, and the mail
// sender later mails a confirmation link to the new address, or, when
// another account has that address, a notice to its owner. The caller gets
// Pending and the same answer, after the same work, for every address, so
// an email change never tells whether an address has an account.
func (c *EmailChanger) ChangeEmail(ctx context.Context, p auth.Principal, email string, meta Meta) (EmailChange, error) {
	if err := c.fresh.check(p); err != nil {
		return EmailChange{}, err
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return EmailChange{}, user.Invalid("email", "must be a valid email address")
	}
	if err := c.count(ctx, p.UserID()); err != nil {
		return EmailChange{}, err
	}
	if c.confirm {
		return c.request(ctx, p, e, meta)
	}
	var out user.User
	err := c.tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := caller(ctx, c.users, p)
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
		u.UpdatedAt = c.clock.Now().UTC()
		if err := c.users.SetEmail(ctx, u.ID, u.Email, false, u.UpdatedAt); err != nil {
			return err
		}
		if c.mail != nil {
			if err := c.mail.EmailChanged(ctx, u, old); err != nil {
				return err
			}
		}
		out = u
		if err := c.events.publish(ctx, webhook.NewUserUpdated(id.New(), u, []string{"email", "emailVerified"}, u.UpdatedAt)); err != nil {
			return err
		}
		return c.rec.record(ctx, audit.EmailChanged, p, meta)
	})
	return EmailChange{User: out}, err
}

// request queues the confirmation of a change to e, the same for every e
// (the caller's own address included: the sender drops that).
func (c *EmailChanger) request(ctx context.Context, p auth.Principal, e string, meta Meta) (EmailChange, error) {
	if c.mail == nil {
		return EmailChange{}, errors.New("account: email change confirmation needs mail")
	}
	var out user.User
	err := c.tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := caller(ctx, c.users, p)
		if err != nil {
			return err
		}
		out = u
		if err := c.mail.EmailChangeRequested(ctx, u, e); err != nil {
			return err
		}
		return c.rec.record(ctx, audit.EmailChangeRequested, p, meta)
	})
	return EmailChange{User: out, Pending: true}, err
}

// count counts an email-change attempt of userID, refusing it past the
// policy: each attempt can tell whether an address has an account
// (EMAIL_TAKEN), so their rate per account is bounded.
func (c *EmailChanger) count(ctx context.Context, userID string) error {
	if c.throttle == nil || c.policy.MaxFailures <= 0 {
		return nil
	}
	now := c.clock.Now().UTC()
	p := c.policy
	return c.tx.WithinTx(ctx, func(ctx context.Context) error {
		return c.throttle.Update(ctx, "email-change:"+userID, func(st *throttle.State) error {
			if wait, ok := p.Admit(*st, now); !ok {
				return &throttle.LimitedError{RetryAfter: wait}
			}
			*st = p.Fail(*st, now)
			return nil
		})
	})
}
