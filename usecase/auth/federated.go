package auth

import (
	"context"
	"errors"

	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/user"
)

// federatedOnly is the amr of a sign-in through another provider.
var federatedOnly = []string{domauth.MethodFederated}

// FederatedLoginDeps are the ports of a FederatedLogin.
type FederatedLoginDeps struct {
	Users    MFAUsers
	Sessions *SessionOpener
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Factors, when set, makes the sign-in ask for the account's second
	// factor; Challenges then keeps the pending sign-ins.
	Factors    SecondFactors
	Challenges ChallengeIssuer
	// Observer is optional.
	Observer Observer
	// RequireVerifiedEmail refuses accounts whose address is not verified
	// (REQUIRE_EMAIL_VERIFICATION), as password login does.
	RequireVerifiedEmail bool
}

// FederatedLogin starts a session for an account whose owner proved
// themselves at another identity provider (the app's one-time code was
// exchanged with its verifier). Like a password login it asks for the
// account's second factor first: a provider account is one factor.
type FederatedLogin struct {
	users      MFAUsers
	sessions   *SessionOpener
	rec        recorder
	tx         Transactor
	clock      Clock
	factors    SecondFactors
	challenges ChallengeIssuer
	obs        Observer
	verify     bool
}

// NewFederatedLogin returns a FederatedLogin.
func NewFederatedLogin(d FederatedLoginDeps) *FederatedLogin {
	return &FederatedLogin{
		users: d.Users, sessions: d.Sessions, rec: recorder{d.Audit}, tx: d.Tx, clock: d.Clock,
		factors: d.Factors, challenges: d.Challenges, obs: observerOr(d.Observer),
		verify: d.RequireVerifiedEmail,
	}
}

// SignIn starts a fresh session (amr fed, idp provider) for userID, or a
// pending sign-in awaiting the second factor. user.ErrDisabled for a
// disabled account; user.ErrNotFound when it is gone.
func (f *FederatedLogin) SignIn(ctx context.Context, userID, provider string, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, err := f.users.ByID(ctx, userID)
	if err != nil {
		return TokenPair{}, err
	}
	if err := u.CanSignIn(); err != nil {
		return TokenPair{}, err
	}
	if f.verify && !u.EmailVerified {
		return TokenPair{}, recovery.ErrEmailNotVerified
	}
	if f.factors != nil && f.challenges != nil {
		factors, err := f.factors.LoginFactors(ctx, u.ID)
		if err != nil {
			return TokenPair{}, err
		}
		if len(factors) > 0 {
			return issueChallenge(ctx, f.tx, f.clock, f.challenges, u, factors,
				mfa.Challenge{Methods: federatedOnly, IdP: provider})
		}
	}
	now := nowUTC(f.clock)
	var pair TokenPair
	err = f.tx.WithinTx(ctx, func(ctx context.Context) error {
		// Held like a password login's, so a credential change that
		// revokes every session either committed before or waits.
		v, err := f.users.LockCredential(ctx, u.ID)
		if errors.Is(err, user.ErrNotFound) || err == nil && v != u.CredentialVersion {
			return user.ErrNotFound
		}
		if err != nil {
			return err
		}
		pair, err = f.sessions.openVia(ctx, u, now, meta, federatedOnly, provider)
		if err != nil {
			return err
		}
		return f.rec.log.Append(ctx, signInEvent(u.ID, pair.Session.ID, provider, meta, now))
	})
	if err != nil {
		return TokenPair{}, err
	}
	f.obs.LoginSucceeded()
	return pair, nil
}
