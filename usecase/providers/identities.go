package providers

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// IdentityLister lists the caller's linked identities.
type IdentityLister struct{ identities IdentityStore }

// NewIdentityLister returns an IdentityLister.
func NewIdentityLister(identities IdentityStore) *IdentityLister {
	return &IdentityLister{identities: identities}
}

// List lists p's identities, oldest first.
func (l *IdentityLister) List(ctx context.Context, p auth.Principal) ([]federation.Identity, error) {
	return l.identities.ListByUser(ctx, p.UserID())
}

// UnlinkerDeps are the ports and settings of an IdentityUnlinker.
type UnlinkerDeps struct {
	Identities IdentityStore
	Accounts   Accounts
	Passkeys   SignInMethods
	Factors    SecondFactors
	Audit      AuditLog
	Tx         Transactor
	Clock      Clock
	StepUp     auth.StepUpPolicy
	// Events is optional: identity.unlinked goes to the webhook outbox.
	Events Events
}

// IdentityUnlinker removes a linked identity, never the account's last
// way in.
type IdentityUnlinker struct{ d UnlinkerDeps }

// NewIdentityUnlinker returns an IdentityUnlinker.
func NewIdentityUnlinker(d UnlinkerDeps) *IdentityUnlinker { return &IdentityUnlinker{d: d} }

// Unlink needs a fresh token (aal2 with TOTP active) and refuses, with
// federation.ErrLastSignInMethod, to leave the account with no password, passkey
// or identity. federation.ErrIdentityNotFound for an id the account does not have.
func (u *IdentityUnlinker) Unlink(ctx context.Context, p auth.Principal, identityID string) error {
	now := u.d.Clock.Now().UTC()
	if err := u.d.StepUp.Check(p.Claims, now); err != nil {
		return err
	}
	factors, err := u.d.Factors.LoginFactors(ctx, p.UserID())
	if err != nil {
		return err
	}
	if err := u.d.StepUp.CheckAAL2(p.Claims, len(factors) > 0, now); err != nil {
		return err
	}
	return u.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		removed, err := u.d.Identities.Unlink(ctx, p.UserID(), identityID)
		if err != nil {
			return err
		}
		// Counted after the delete, in its transaction, which the store
		// began by locking the account's row: two unlinks of one account
		// run one after the other, and the second sees what the first left.
		left, err := u.d.Identities.CountIdentities(ctx, p.UserID())
		if err != nil {
			return err
		}
		if left == 0 {
			acct, err := u.d.Accounts.ByID(ctx, p.UserID())
			if err != nil {
				return err
			}
			keys, err := u.d.Passkeys.CountPasskeys(ctx, p.UserID())
			if err != nil {
				return err
			}
			if !acct.HasPassword() && keys == 0 {
				return federation.ErrLastSignInMethod
			}
		}
		if err := u.d.Audit.Append(ctx, audit.Event{ID: id.New(), UserID: p.UserID(), SessionID: p.SessionID(),
			Type: audit.IdentityUnlinked, CreatedAt: now, Provider: removed.Provider}); err != nil {
			return err
		}
		return publish(ctx, u.d.Events, webhook.NewIdentityChanged(id.New(), p.UserID(), removed.Provider, false, now))
	})
}
