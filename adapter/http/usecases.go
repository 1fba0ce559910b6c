package httpadapter

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/auth"
	mfauc "github.com/gatehouse/gatehouse/usecase/mfa"
	"github.com/gatehouse/gatehouse/usecase/recovery"
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
	Me(ctx context.Context, p domauth.Principal) (user.User, error)
}

// ProfileEditor serves PATCH /users/me.
type ProfileEditor interface {
	UpdateProfile(ctx context.Context, p domauth.Principal, in account.ProfileInput) (user.User, error)
}

// PasswordChanger serves PUT /users/me/password.
type PasswordChanger interface {
	ChangePassword(ctx context.Context, p domauth.Principal, current, next string, meta account.Meta) error
}

// EmailChanger serves PUT /users/me/email.
type EmailChanger interface {
	ChangeEmail(ctx context.Context, p domauth.Principal, email string, meta account.Meta) (account.EmailChange, error)
}

// AccountDeleter serves DELETE /users/me.
type AccountDeleter interface {
	DeleteAccount(ctx context.Context, p domauth.Principal, meta account.Meta) error
}

// SecurityEventLister serves GET /users/me/security-events.
type SecurityEventLister interface {
	SecurityEvents(ctx context.Context, p domauth.Principal, cursor string, limit int) (audit.Page, error)
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
	Keys(ctx context.Context, a admin.Actor) ([]domauth.KeyStatus, error)
}

// KeyRotator serves POST /admin/keys/rotate.
type KeyRotator interface {
	RotateKey(ctx context.Context, a admin.Actor) (domauth.KeyStatus, error)
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
	RequestVerification(ctx context.Context, p domauth.Principal, meta recovery.Meta) error
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
// (usecase/mfa has the types that satisfy them).
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
	EnrollTOTP(ctx context.Context, p domauth.Principal) (mfauc.OTPKey, error)
}

// TOTPConfirmer serves POST /auth/mfa/totp/confirm.
type TOTPConfirmer interface {
	ConfirmTOTP(ctx context.Context, p domauth.Principal, code string, opt mfauc.Enrolment, meta mfauc.Meta) ([]string, error)
}

// TOTPDisabler serves DELETE /auth/mfa/totp.
type TOTPDisabler interface {
	DisableTOTP(ctx context.Context, p domauth.Principal, meta mfauc.Meta) error
}

// RecoveryCodeRegenerator serves POST /auth/mfa/recovery-codes.
type RecoveryCodeRegenerator interface {
	RegenerateRecoveryCodes(ctx context.Context, p domauth.Principal, meta mfauc.Meta) ([]string, error)
}

// PasskeyRegistrar serves POST /auth/passkeys/registration/options and
// POST /auth/passkeys/registration.
type PasskeyRegistrar interface {
	BeginPasskeyRegistration(ctx context.Context, p domauth.Principal, name string) ([]byte, error)
	FinishPasskeyRegistration(ctx context.Context, p domauth.Principal, response []byte, name string, opt mfauc.Enrolment, meta mfauc.Meta) (mfa.Passkey, error)
}

// PasskeyLister serves GET /auth/passkeys.
type PasskeyLister interface {
	ListPasskeys(ctx context.Context, p domauth.Principal) ([]mfa.Passkey, error)
}

// PasskeyRemover serves DELETE /auth/passkeys/{id}.
type PasskeyRemover interface {
	DeletePasskey(ctx context.Context, p domauth.Principal, passkeyID string, meta mfauc.Meta) error
}

// PasskeyLoginStarter serves POST /auth/passkeys/login/options.
type PasskeyLoginStarter interface {
	BeginPasskeyLogin(ctx context.Context) (challengeID string, options []byte, err error)
}

var (
	_ TOTPEnroller            = (*mfauc.TOTPEnroller)(nil)
	_ TOTPConfirmer           = (*mfauc.TOTPConfirmer)(nil)
	_ TOTPDisabler            = (*mfauc.TOTPDisabler)(nil)
	_ RecoveryCodeRegenerator = (*mfauc.RecoveryCodeRegenerator)(nil)
	_ PasskeyRegistrar        = (*mfauc.PasskeyRegistrar)(nil)
	_ PasskeyLister           = (*mfauc.PasskeyLister)(nil)
	_ PasskeyRemover          = (*mfauc.PasskeyRemover)(nil)
	_ PasskeyLoginStarter     = (*mfauc.PasskeyAuthenticator)(nil)
)
