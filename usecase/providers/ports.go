// Package federation holds the interactors of signing in through other
// identity providers, one type per operation: Starter (the app's trip to
// the provider), LinkStarter (the same from settings, to link), Finisher
// (the provider's callback: account decision, app code), Exchanger (the
// app's code and verifier for a session), IdentityLister and
// IdentityUnlinker. The ports are declared here, sized to their uses.
package providers

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// Provider is one configured identity provider, as the adapter speaks to
// it.
type Provider interface {
	// AuthURL is the provider's authorization URL for a flow with state,
	// nonce (OpenID Connect) and the PKCE verifier's S256 challenge.
	// federation.ErrProviderUnavailable when its discovery cannot be read.
	AuthURL(ctx context.Context, state, nonce, verifier string) (string, error)
	// Identify exchanges code (with the PKCE verifier) and returns the
	// checked claims; federation.ErrFailed for anything that does not verify
	// (the ID token's signature, iss, aud, exp, nonce).
	Identify(ctx context.Context, code, verifier, nonce string) (federation.Claims, error)
}

// Providers finds configured providers by id.
type Providers interface {
	Provider(id string) (Provider, bool)
}

// FlowStore keeps the state of flows in progress, shared by every
// instance on the store.
type FlowStore interface {
	CreateFlow(ctx context.Context, f federation.Flow) error
	// TakeFlow removes and returns the flow with hash; federation.ErrFailed if
	// there is none (never stored, or already taken).
	TakeFlow(ctx context.Context, hash [32]byte) (federation.Flow, error)
}

// CodeStore keeps the app's one-time codes.
type CodeStore interface {
	CreateCode(ctx context.Context, c federation.AppCode) error
	// TakeCode removes and returns the code with hash; federation.ErrFailed if
	// there is none.
	TakeCode(ctx context.Context, hash [32]byte) (federation.AppCode, error)
}

// IdentityStore keeps linked identities.
type IdentityStore interface {
	// BySubject finds the identity (provider, subject);
	// federation.ErrIdentityNotFound if none.
	BySubject(ctx context.Context, provider, subject string) (federation.Identity, error)
	// Link stores i; federation.ErrIdentityTaken when (provider, subject) is
	// linked already.
	Link(ctx context.Context, i federation.Identity) error
	// ListByUser lists userID's identities, oldest first.
	ListByUser(ctx context.Context, userID string) ([]federation.Identity, error)
	// CountIdentities counts userID's identities.
	CountIdentities(ctx context.Context, userID string) (int, error)
	// Unlink deletes userID's identity id; federation.ErrIdentityNotFound if the
	// account has no such identity.
	Unlink(ctx context.Context, userID, id string) (federation.Identity, error)
}

// Accounts is what the callback needs of the accounts.
type Accounts interface {
	ByEmail(ctx context.Context, email string) (user.User, error)
	ByID(ctx context.Context, id string) (user.User, error)
	// Create inserts u; user.ErrEmailTaken when the address is taken.
	Create(ctx context.Context, u user.User) error
}

// SignInMethods counts an account's ways in other than identities.
type SignInMethods interface {
	// CountPasskeys counts userID's passkeys.
	CountPasskeys(ctx context.Context, userID string) (int, error)
}

// SecondFactors tells whether an account has TOTP active.
type SecondFactors interface {
	LoginFactors(ctx context.Context, userID string) ([]string, error)
}

// SessionStarter is the session-opening part of signing in.
type SessionStarter interface {
	SignIn(ctx context.Context, userID, provider string, meta authn.Meta) (authn.TokenPair, error)
}

// Events writes webhook events to the outbox in the caller's transaction.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// AuditLog records security events in the caller's transaction.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
}

// Transactor runs fn in one database transaction.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Observer counts federated sign-ins by provider and outcome.
type Observer interface {
	FederatedSignIn(provider, outcome string)
}

// Outcomes of a federated sign-in, as counted.
const (
	OutcomeSuccess       = "success"
	OutcomeLinked        = "linked"
	OutcomeDenied        = "denied"
	OutcomeFailed        = "failed"
	OutcomeAccountExists = "account_exists"
	OutcomeEmailRequired = "email_required"
	OutcomeIdentityTaken = "identity_taken"
	OutcomeDisabled      = "disabled"
	OutcomeRejected      = "signup_rejected"
	// OutcomeHookUnavailable: the before-signup hook did not answer.
	OutcomeHookUnavailable = "hook_unavailable"
)

type noObserver struct{}

func (noObserver) FederatedSignIn(string, string) {}

func observerOr(o Observer) Observer {
	if o == nil {
		return noObserver{}
	}
	return o
}
