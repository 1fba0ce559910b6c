package httpadapter

import (
	"context"

	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

// AuthInteractors are the authentication use cases the routes call, one
// interactor per operation, each through the small interface its handlers
// use (usecase/auth has the types that satisfy them).
type AuthInteractors struct {
	Registrar       Registrar
	Login           PasswordLogin
	Refresher       Refresher
	Authenticator   Authenticator
	Revoker         SessionRevoker
	Lister          SessionLister
	Reauthenticator Reauthenticator
	MFA             MFAVerifier
	Passkey         PasskeyLogin
	// EmailCode and EmailCodeLogin, when set, serve sign-in with an
	// emailed code; without them its routes answer 404.
	EmailCode      EmailCodeRequester
	EmailCodeLogin EmailCodeLogin
}

// Registrar serves POST /auth/register.
type Registrar interface {
	VerificationRequired() bool
	Register(ctx context.Context, in auth.RegisterInput, meta auth.Meta) (auth.TokenPair, error)
	RegisterPending(ctx context.Context, in auth.RegisterInput, meta auth.Meta) error
}

// PasswordLogin serves POST /auth/login.
type PasswordLogin interface {
	Login(ctx context.Context, in auth.Credentials, meta auth.Meta) (auth.TokenPair, error)
}

// Refresher serves POST /auth/refresh.
type Refresher interface {
	Refresh(ctx context.Context, raw string, meta auth.Meta) (auth.TokenPair, error)
}

// Authenticator is what the bearer middleware (and logout's fallback
// credential) needs: the per-request access check.
type Authenticator interface {
	Authenticate(ctx context.Context, raw string) (domauth.Principal, error)
}

// SessionRevoker serves the logouts and DELETE /auth/sessions/{id}.
type SessionRevoker interface {
	Logout(ctx context.Context, in auth.LogoutInput, meta auth.Meta) error
	LogoutAll(ctx context.Context, p domauth.Principal, meta auth.Meta) error
	RevokeSession(ctx context.Context, p domauth.Principal, sessionID string, meta auth.Meta) error
}

// SessionLister serves GET /auth/sessions.
type SessionLister interface {
	ListSessions(ctx context.Context, p domauth.Principal, cursor string, limit int) (auth.SessionList, error)
}

// Reauthenticator serves POST /auth/reauthenticate (the step-up).
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, p domauth.Principal, in auth.ReauthInput, meta auth.Meta) (auth.TokenPair, error)
}

// MFAVerifier serves POST /auth/mfa/verify.
type MFAVerifier interface {
	VerifyMFA(ctx context.Context, in auth.MFAVerifyInput, meta auth.Meta) (auth.TokenPair, error)
}

// PasskeyLogin serves POST /auth/passkeys/login.
type PasskeyLogin interface {
	Login(ctx context.Context, challengeID string, credential []byte, meta auth.Meta) (auth.TokenPair, error)
}

// EmailCodeRequester serves POST /auth/email-code.
type EmailCodeRequester interface {
	Request(ctx context.Context, email string, meta auth.Meta) error
}

// EmailCodeLogin serves POST /auth/email-code/verify.
type EmailCodeLogin interface {
	Verify(ctx context.Context, in auth.EmailCodeInput, meta auth.Meta) (auth.TokenPair, error)
}

var (
	_ EmailCodeRequester = (*auth.EmailCodeRequester)(nil)
	_ EmailCodeLogin     = (*auth.EmailCodeLogin)(nil)
	_ Registrar          = (*auth.Registrar)(nil)
	_ PasswordLogin      = (*auth.PasswordLogin)(nil)
	_ Refresher          = (*auth.Refresher)(nil)
	_ Authenticator      = (*auth.Authenticator)(nil)
	_ SessionRevoker     = (*auth.SessionRevoker)(nil)
	_ SessionLister      = (*auth.SessionListing)(nil)
	_ Reauthenticator    = (*auth.Reauthenticator)(nil)
	_ MFAVerifier        = (*auth.MFAVerifier)(nil)
	_ PasskeyLogin       = (*auth.PasskeyLogin)(nil)
)
