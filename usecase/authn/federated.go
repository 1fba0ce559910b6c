package authn

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// federatedOnly is the amr of a sign-in through another provider.
var federatedOnly = []string{auth.MethodFederated}

// FederatedLoginDeps are the ports of a FederatedLogin.
type FederatedLoginDeps struct {
	Users MFAUsers
	// SignInDeps end the sign-in: its session, or the pending sign-in of
	// an account with a second factor.
	SignInDeps
	// RequireVerifiedEmail refuses accounts whose address is not verified
	// (REQUIRE_EMAIL_VERIFICATION), as password login does.
	RequireVerifiedEmail bool
}

// FederatedLogin starts a session for an account whose owner proved
// themselves at another identity provider (the app's one-time code was
// exchanged with its verifier). Like a password login it asks for the
// account's second factor first: a provider account is one factor.
type FederatedLogin struct {
	users  MFAUsers
	in     signIn
	verify bool
}

// NewFederatedLogin returns a FederatedLogin.
func NewFederatedLogin(d FederatedLoginDeps) *FederatedLogin {
	return &FederatedLogin{users: d.Users, in: newSignIn(d.SignInDeps, d.Users), verify: d.RequireVerifiedEmail}
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
		return TokenPair{}, emailtoken.ErrEmailNotVerified
	}
	factors, err := f.in.secondFactors(ctx, u.ID)
	if err != nil {
		return TokenPair{}, err
	}
	if len(factors) > 0 {
		return f.in.challengeAlone(ctx, u, factors, mfa.Challenge{Methods: federatedOnly, IdP: provider})
	}
	// A credential change since the account was read is told as the
	// account gone.
	return f.in.start(ctx, u, meta, federatedOnly, provider, user.ErrNotFound, nil)
}
