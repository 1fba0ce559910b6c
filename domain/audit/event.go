// Package audit holds security events: the record of what happened to an
// account, kept for the user and for operators.
package audit

import (
	"errors"
	"time"
)

// Type names a kind of security event; the values are part of the public API.
type Type string

// The security event types.
const (
	LoginSucceeded       Type = "login_succeeded"
	LoginFailed          Type = "login_failed"
	RefreshReuseDetected Type = "refresh_reuse_detected"
	SessionRevoked       Type = "session_revoked"
	LogoutAll            Type = "logout_all"
	Reauthenticated      Type = "reauthenticated"
	PasswordChanged      Type = "password_changed"
	EmailChanged         Type = "email_changed"
	AccountDeleted       Type = "account_deleted"
	EmailVerified        Type = "email_verified"
	PasswordReset        Type = "password_reset"

	// Administrative actions on the account; the event's ActorID names the
	// administrator (or "cli" for the command line).
	AdminUserCreated      Type = "admin_user_created"
	AdminRolesChanged     Type = "admin_roles_changed"
	AdminNameChanged      Type = "admin_name_changed"
	AdminUserDisabled     Type = "admin_user_disabled"
	AdminUserEnabled      Type = "admin_user_enabled"
	AdminEmailVerifiedSet Type = "admin_email_verified_changed"
	AdminSessionsRevoked  Type = "admin_sessions_revoked"
	AdminUserDeleted      Type = "admin_user_deleted"

	// Second factors.
	MFAEnabled               Type = "mfa_enabled"
	MFADisabled              Type = "mfa_disabled"
	RecoveryCodeUsed         Type = "recovery_code_used"
	RecoveryCodesRegenerated Type = "recovery_codes_regenerated"
	PasskeyAdded             Type = "passkey_added"
	PasskeyRemoved           Type = "passkey_removed"
	// The OpenID provider: a user consented to a client (or to more of its
	// scopes), or withdrew a consent.
	OAuthConsentGranted Type = "oauth_consent_granted"
	OAuthGrantRevoked   Type = "oauth_grant_revoked"
)

// ActorCLI is the ActorID of actions taken with the command line, which has
// database access and no signed-in administrator.
const ActorCLI = "cli"

// Event is one security event. SessionID may be empty.
type Event struct {
	ID        string
	UserID    string
	SessionID string
	Type      Type
	IP        string
	UserAgent string
	CreatedAt time.Time
	// ActorID is who acted, when not the account's owner: the
	// administrator's user ID, or ActorCLI. Empty for the owner's own actions.
	ActorID string
}

// Page is one page of a user's events, newest first, and the cursor of the
// next (older) page, empty on the last.
type Page struct {
	Events     []Event
	NextCursor string
}

// ErrInvalidCursor means a page cursor that the store did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")
