package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// PasswordChangerDeps are the ports and settings of a PasswordChanger.
type PasswordChangerDeps struct {
	Users    PasswordWriter
	Hasher   PasswordHasher
	Sessions SessionRevoker
	Audit    EventRecorder
	Tx       Transactor
	Clock    Clock
	// Guard, when set, throttles the current-password check as login
	// attempts are throttled.
	Guard PasswordGuard
	// Cache, when set, is told of users whose sessions were revoked.
	Cache SessionCache
	// StepUp is the freshness the caller's session must have.
	StepUp auth.StepUpPolicy
	// Events is optional: password.changed (webhooks).
	Events Events
}

// PasswordChanger changes the caller's password.
type PasswordChanger struct {
	users    PasswordWriter
	hasher   PasswordHasher
	sessions SessionRevoker
	rec      recorder
	tx       Transactor
	clock    Clock
	guard    PasswordGuard
	cache    SessionCache
	fresh    stepUp
	events   publisher
}

// NewPasswordChanger returns a PasswordChanger.
func NewPasswordChanger(d PasswordChangerDeps) *PasswordChanger {
	return &PasswordChanger{
		users: d.Users, hasher: d.Hasher, sessions: d.Sessions, rec: recorder{d.Audit, d.Clock},
		tx: d.Tx, clock: d.Clock, guard: d.Guard, cache: d.Cache, fresh: stepUp{d.StepUp, d.Clock},
		events: publisher{d.Events},
	}
}

// ChangePassword checks the current password, sets the new one and revokes
// every other session of the user; the caller's session keeps working. It
// needs a fresh session (an auth step-up error otherwise). A wrong current
// password is a validation error on currentPassword, not an authentication
// failure: the caller is authenticated, the input is wrong.
func (c *PasswordChanger) ChangePassword(ctx context.Context, p auth.Principal, current, next string, meta Meta) error {
	if err := c.fresh.check(p); err != nil {
		return err
	}
	u, err := caller(ctx, c.users, p)
	if err != nil {
		return err
	}
	if c.guard != nil {
		if err := c.guard.AdmitPassword(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	// An account made through another provider has no password yet: no
	// current password matches (reset gives it one).
	match, err := false, error(nil)
	if u.HasPassword() {
		match, _, err = c.hasher.Verify(ctx, current, u.PasswordHash)
	}
	if err != nil {
		if c.guard != nil {
			c.guard.PasswordUnchecked(ctx, u.Email, meta.IP)
		}
		return fmt.Errorf("change password: verify: %w", err)
	}
	if !match {
		// Counted as a failed attempt: this endpoint must not be a way
		// around the login throttle.
		return user.Invalid("currentPassword", "is not the current password")
	}
	if c.guard != nil {
		if err := c.guard.PasswordProven(ctx, u.Email, meta.IP); err != nil {
			return err
		}
	}
	if err := user.CheckPassword("newPassword", next, u.Email); err != nil {
		return err
	}
	if next == current {
		return user.Invalid("newPassword", "must differ from the current password")
	}
	hash, err := c.hasher.Hash(ctx, next)
	if err != nil {
		return fmt.Errorf("change password: hash: %w", err)
	}
	defer forget(c.cache, u.ID)
	return c.tx.WithinTx(ctx, func(ctx context.Context) error {
		now := c.clock.Now().UTC()
		// The hash and the credential version only, and only if the
		// credential is still the one just proven: the account was read
		// before two hashes, and anything else changed meanwhile (roles, a
		// disable, the address) stays as it was committed. The statement
		// holds the row: a login that proved the old password now either
		// sees the new version or has its session committed in time for
		// the revocation below.
		err := c.users.SetPassword(ctx, u.ID, hash, u.CredentialVersion, now)
		if errors.Is(err, user.ErrCredentialChanged) {
			// Another change or a reset won meanwhile: what was proven is
			// no longer the current password.
			return user.Invalid("currentPassword", "is not the current password")
		}
		if err != nil {
			return err
		}
		if _, err := c.sessions.RevokeAllForUser(ctx, u.ID, p.SessionID(), session.ReasonPasswordChange, now); err != nil {
			return err
		}
		if err := c.events.publish(ctx, webhook.NewPasswordChanged(id.New(), u.ID, webhook.ViaChange, now)); err != nil {
			return err
		}
		return c.rec.record(ctx, audit.PasswordChanged, p, meta)
	})
}
