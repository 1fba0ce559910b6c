package httpadapter

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/factors"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// AuthInteractors are the authentication use cases the routes call, one
// interactor per operation, each through the small interface its handlers
// use (usecase/authn has the types that satisfy them).
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
	Register(ctx context.Context, in authn.RegisterInput, meta authn.Meta) (authn.TokenPair, error)
	RegisterPending(ctx context.Context, in authn.RegisterInput, meta authn.Meta) error
}

// PasswordLogin serves POST /auth/login.
type PasswordLogin interface {
	Login(ctx context.Context, in authn.Credentials, meta authn.Meta) (authn.TokenPair, error)
}

// Refresher serves POST /auth/refresh.
type Refresher interface {
	Refresh(ctx context.Context, raw string, meta authn.Meta) (authn.TokenPair, error)
}

// Authenticator is what the bearer middleware (and logout's fallback
// credential) needs: the per-request access check.
type Authenticator interface {
	Authenticate(ctx context.Context, raw string) (auth.Principal, error)
}

// SessionRevoker serves the logouts and DELETE /auth/sessions/{id}.
type SessionRevoker interface {
	Logout(ctx context.Context, in authn.LogoutInput, meta authn.Meta) error
	LogoutAll(ctx context.Context, p auth.Principal, meta authn.Meta) error
	RevokeSession(ctx context.Context, p auth.Principal, sessionID string, meta authn.Meta) error
}

// SessionLister serves GET /auth/sessions.
type SessionLister interface {
	ListSessions(ctx context.Context, p auth.Principal, cursor string, limit int) (authn.SessionList, error)
}

// Reauthenticator serves POST /auth/reauthenticate (the step-up).
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, p auth.Principal, in authn.ReauthInput, meta authn.Meta) (authn.TokenPair, error)
}

// MFAVerifier serves POST /auth/mfa/verify.
type MFAVerifier interface {
	VerifyMFA(ctx context.Context, in authn.MFAVerifyInput, meta authn.Meta) (authn.TokenPair, error)
}

// PasskeyLogin serves POST /auth/passkeys/login.
type PasskeyLogin interface {
	Login(ctx context.Context, challengeID string, credential []byte, meta authn.Meta) (authn.TokenPair, error)
}

// EmailCodeRequester serves POST /auth/email-code.
type EmailCodeRequester interface {
	Request(ctx context.Context, email string, meta authn.Meta) error
}

// EmailCodeLogin serves POST /auth/email-code/verify.
type EmailCodeLogin interface {
	Verify(ctx context.Context, in authn.EmailCodeInput, meta authn.Meta) (authn.TokenPair, error)
}

var (
	_ EmailCodeRequester = (*authn.EmailCodeRequester)(nil)
	_ EmailCodeLogin     = (*authn.EmailCodeLogin)(nil)
	_ Registrar          = (*authn.Registrar)(nil)
	_ PasswordLogin      = (*authn.PasswordLogin)(nil)
	_ Refresher          = (*authn.Refresher)(nil)
	_ Authenticator      = (*authn.Authenticator)(nil)
	_ SessionRevoker     = (*authn.SessionRevoker)(nil)
	_ SessionLister      = (*authn.SessionListing)(nil)
	_ Reauthenticator    = (*authn.Reauthenticator)(nil)
	_ MFAVerifier        = (*authn.MFAVerifier)(nil)
	_ PasskeyLogin       = (*authn.PasskeyLogin)(nil)
)

// AccountInteractors are the /users/me operations, one interactor each
// (usecase/account has the types that satisfy them).
type AccountInteractors struct {
	Profile  ProfileReader
	Editor   ProfileEditor
	Password PasswordChanger
	Email    EmailChanger
	Deleter  AccountDeleter
	Events   SecurityEventLister
}

// ProfileReader serves GET /users/me.
type ProfileReader interface {
	Me(ctx context.Context, p auth.Principal) (user.User, error)
}

// ProfileEditor serves PATCH /users/me.
type ProfileEditor interface {
	UpdateProfile(ctx context.Context, p auth.Principal, in account.ProfileInput) (user.User, error)
}

// PasswordChanger serves PUT /users/me/password.
type PasswordChanger interface {
	ChangePassword(ctx context.Context, p auth.Principal, current, next string, meta account.Meta) error
}

// EmailChanger serves PUT /users/me/email.
type EmailChanger interface {
	ChangeEmail(ctx context.Context, p auth.Principal, email string, meta account.Meta) (account.EmailChange, error)
}

// AccountDeleter serves DELETE /users/me.
type AccountDeleter interface {
	DeleteAccount(ctx context.Context, p auth.Principal, meta account.Meta) error
}

// SecurityEventLister serves GET /users/me/security-events.
type SecurityEventLister interface {
	SecurityEvents(ctx context.Context, p auth.Principal, cursor string, limit int) (audit.Page, error)
}

var (
	_ ProfileReader       = (*account.ProfileReader)(nil)
	_ ProfileEditor       = (*account.ProfileEditor)(nil)
	_ PasswordChanger     = (*account.PasswordChanger)(nil)
	_ EmailChanger        = (*account.EmailChanger)(nil)
	_ AccountDeleter      = (*account.AccountDeleter)(nil)
	_ SecurityEventLister = (*account.SecurityEventListing)(nil)
)

// AdminInteractors are the /admin operations, one interactor each
// (usecase/admin has the types that satisfy them).
type AdminInteractors struct {
	// Guard is the rule of writes, checked before a body is read.
	Guard   AdminWriteGuard
	Search  AccountSearch
	Reader  AccountReader
	Updater AccountUpdater
	Revoker AccountSessionsRevoker
	Deleter AccountRemover
	Events  AccountEventLister
	Keys    KeyLister
	Rotator KeyRotator
	// Sessions, SessionEnder, Factors and Identities open one account's
	// sessions, factors and linked identities to the console.
	Sessions     AccountSessionLister
	SessionEnder AccountSessionEnder
	Factors      AccountFactorReader
	Identities   AccountIdentityLister
}

// AdminWriteGuard applies the rule of administrative writes.
type AdminWriteGuard interface {
	AuthorizeWrite(ctx context.Context, a admin.Actor) error
}

// AccountSearch serves GET /admin/users.
type AccountSearch interface {
	Search(ctx context.Context, a admin.Actor, q, cursor string, limit int) (admin.Page, error)
}

// AccountReader serves GET /admin/users/{id}.
type AccountReader interface {
	Get(ctx context.Context, a admin.Actor, userID string) (admin.View, error)
}

// AccountUpdater serves PATCH /admin/users/{id}.
type AccountUpdater interface {
	Update(ctx context.Context, a admin.Actor, userID string, p admin.Patch) (admin.View, error)
}

// AccountSessionsRevoker serves POST /admin/users/{id}/revoke-sessions.
type AccountSessionsRevoker interface {
	RevokeSessions(ctx context.Context, a admin.Actor, userID string) error
}

// AccountRemover serves DELETE /admin/users/{id}.
type AccountRemover interface {
	Delete(ctx context.Context, a admin.Actor, userID string) error
}

// AccountEventLister serves GET /admin/users/{id}/security-events.
type AccountEventLister interface {
	SecurityEvents(ctx context.Context, a admin.Actor, userID, cursor string, limit int) (audit.Page, error)
}

// KeyLister serves GET /admin/keys.
type KeyLister interface {
	Keys(ctx context.Context, a admin.Actor) ([]auth.KeyStatus, error)
}

// KeyRotator serves POST /admin/keys/rotate.
type KeyRotator interface {
	RotateKey(ctx context.Context, a admin.Actor) (auth.KeyStatus, error)
}

// AccountSessionLister serves GET /admin/users/{id}/sessions.
type AccountSessionLister interface {
	Sessions(ctx context.Context, a admin.Actor, userID, cursor string, limit int) (admin.SessionPage, error)
}

// AccountSessionEnder serves DELETE /admin/users/{id}/sessions/{sessionId}.
type AccountSessionEnder interface {
	RevokeSession(ctx context.Context, a admin.Actor, userID, sessionID string) error
}

// AccountFactorReader serves GET /admin/users/{id}/factors.
type AccountFactorReader interface {
	Factors(ctx context.Context, a admin.Actor, userID string) (admin.FactorsView, error)
}

// AccountIdentityLister serves GET /admin/users/{id}/identities.
type AccountIdentityLister interface {
	Identities(ctx context.Context, a admin.Actor, userID string) ([]admin.IdentityView, error)
}

var (
	_ AdminWriteGuard        = (*admin.WriteGuard)(nil)
	_ AccountSearch          = (*admin.AccountSearch)(nil)
	_ AccountReader          = (*admin.AccountReader)(nil)
	_ AccountUpdater         = (*admin.AccountUpdater)(nil)
	_ AccountSessionsRevoker = (*admin.SessionsRevoker)(nil)
	_ AccountRemover         = (*admin.AccountDeleter)(nil)
	_ AccountEventLister     = (*admin.EventListing)(nil)
	_ KeyLister              = (*admin.KeyLister)(nil)
	_ KeyRotator             = (*admin.KeyRotator)(nil)
	_ AccountSessionLister   = (*admin.AccountSessionListing)(nil)
	_ AccountSessionEnder    = (*admin.SessionEnder)(nil)
	_ AccountFactorReader    = (*admin.FactorReader)(nil)
	_ AccountIdentityLister  = (*admin.IdentityListing)(nil)
)

// RecoveryInteractors are the verification and reset operations, one
// interactor each (usecase/recovery has the types that satisfy them).
type RecoveryInteractors struct {
	Verification VerificationRequester
	Verifier     EmailVerifier
	Forgot       ResetRequester
	Reset        PasswordResetter
}

// VerificationRequester serves POST /auth/email/verification.
type VerificationRequester interface {
	RequestVerification(ctx context.Context, p auth.Principal, meta recovery.Meta) error
}

// EmailVerifier serves POST /auth/email/verify.
type EmailVerifier interface {
	Verify(ctx context.Context, raw string) (user.User, error)
}

// ResetRequester serves POST /auth/password/forgot.
type ResetRequester interface {
	ForgotPassword(ctx context.Context, email string, meta recovery.Meta) error
}

// PasswordResetter serves POST /auth/password/reset.
type PasswordResetter interface {
	ResetPassword(ctx context.Context, raw, newPassword string, meta recovery.Meta) error
}

var (
	_ VerificationRequester = (*recovery.VerificationRequester)(nil)
	_ EmailVerifier         = (*recovery.EmailVerifier)(nil)
	_ ResetRequester        = (*recovery.ResetRequester)(nil)
	_ PasswordResetter      = (*recovery.PasswordResetter)(nil)
)

// FactorInteractors are the second-factor operations, one interactor each
// (usecase/factors has the types that satisfy them).
type FactorInteractors struct {
	TOTPEnroll      TOTPEnroller
	TOTPConfirm     TOTPConfirmer
	TOTPDisable     TOTPDisabler
	Codes           RecoveryCodeRegenerator
	PasskeyRegister PasskeyRegistrar
	Passkeys        PasskeyLister
	PasskeyRemove   PasskeyRemover
	PasskeyLogin    PasskeyLoginStarter
}

// TOTPEnroller serves POST /auth/mfa/totp.
type TOTPEnroller interface {
	EnrollTOTP(ctx context.Context, p auth.Principal) (factors.OTPKey, error)
}

// TOTPConfirmer serves POST /auth/mfa/totp/confirm.
type TOTPConfirmer interface {
	ConfirmTOTP(ctx context.Context, p auth.Principal, code string, opt factors.Enrolment, meta factors.Meta) ([]string, error)
}

// TOTPDisabler serves DELETE /auth/mfa/totp.
type TOTPDisabler interface {
	DisableTOTP(ctx context.Context, p auth.Principal, meta factors.Meta) error
}

// RecoveryCodeRegenerator serves POST /auth/mfa/recovery-codes.
type RecoveryCodeRegenerator interface {
	RegenerateRecoveryCodes(ctx context.Context, p auth.Principal, meta factors.Meta) ([]string, error)
}

// PasskeyRegistrar serves POST /auth/passkeys/registration/options and
// POST /auth/passkeys/registration.
type PasskeyRegistrar interface {
	BeginPasskeyRegistration(ctx context.Context, p auth.Principal, name string) ([]byte, error)
	FinishPasskeyRegistration(ctx context.Context, p auth.Principal, response []byte, name string, opt factors.Enrolment, meta factors.Meta) (mfa.Passkey, error)
}

// PasskeyLister serves GET /auth/passkeys.
type PasskeyLister interface {
	ListPasskeys(ctx context.Context, p auth.Principal) ([]mfa.Passkey, error)
}

// PasskeyRemover serves DELETE /auth/passkeys/{id}.
type PasskeyRemover interface {
	DeletePasskey(ctx context.Context, p auth.Principal, passkeyID string, meta factors.Meta) error
}

// PasskeyLoginStarter serves POST /auth/passkeys/login/options.
type PasskeyLoginStarter interface {
	BeginPasskeyLogin(ctx context.Context) (challengeID string, options []byte, err error)
}

var (
	_ TOTPEnroller            = (*factors.TOTPEnroller)(nil)
	_ TOTPConfirmer           = (*factors.TOTPConfirmer)(nil)
	_ TOTPDisabler            = (*factors.TOTPDisabler)(nil)
	_ RecoveryCodeRegenerator = (*factors.RecoveryCodeRegenerator)(nil)
	_ PasskeyRegistrar        = (*factors.PasskeyRegistrar)(nil)
	_ PasskeyLister           = (*factors.PasskeyLister)(nil)
	_ PasskeyRemover          = (*factors.PasskeyRemover)(nil)
	_ PasskeyLoginStarter     = (*factors.PasskeyAuthenticator)(nil)
)
