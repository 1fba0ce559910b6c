// Package audit holds security events: the record of what happened to an
// account, kept for the user and for operators.
package audit

import (
	"errors"
	"slices"
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
	// EmailChangeRequested is a change of address waiting for the new
	// address to confirm it (REQUIRE_EMAIL_VERIFICATION).
	EmailChangeRequested Type = "email_change_requested"
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
	// AdminSessionRevoked is one session ended by an administrator; the
	// event's SessionID names it.
	AdminSessionRevoked Type = "admin_session_revoked"
	AdminUserDeleted    Type = "admin_user_deleted"
	// AdminAppMetadataChanged: an administrator replaced the account's
	// appMetadata (the app_metadata claim of its tokens).
	AdminAppMetadataChanged Type = "admin_app_metadata_changed"

	// Second factors.
	MFAEnabled               Type = "mfa_enabled"
	MFADisabled              Type = "mfa_disabled"
	RecoveryCodeUsed         Type = "recovery_code_used"
	RecoveryCodesRegenerated Type = "recovery_codes_regenerated"
	PasskeyAdded             Type = "passkey_added"
	PasskeyRemoved           Type = "passkey_removed"
	// MFAFailed is a wrong (or refused) TOTP or recovery code, at the second
	// step of a login or at a reauthentication: routine, but the owner
	// sees someone who knows the password guessing at the second factor.
	MFAFailed Type = "mfa_failed"

	// EventsSuppressed marks routine events the per-account bound did not
	// record: one per account and window, its Suppressed counting them.
	EventsSuppressed Type = "events_suppressed"

	// The OpenID provider: a user consented to a client (or to more of its
	// scopes), or withdrew a consent.
	OAuthConsentGranted Type = "oauth_consent_granted"
	OAuthGrantRevoked   Type = "oauth_grant_revoked"

	// Identities of other providers linked to, and unlinked from, an account.
	IdentityLinked   Type = "identity_linked"
	IdentityUnlinked Type = "identity_unlinked"
)

// routine are the event types the per-account bound (SECURITY_EVENT_LIMIT)
// may drop: what a client can repeat at will, so that a flood of them
// cannot grow the table at the attacker's pace. The list is the rule: a
// type not on it (every account, factor, recovery and admin event, and any
// type added later) is always recorded, so an attacker who fills the bound
// hides nothing that changed the account.
var routine = map[Type]bool{
	LoginSucceeded:  true,
	LoginFailed:     true,
	Reauthenticated: true,
	MFAFailed:       true,
	SessionRevoked:  true,
}

// Routine reports whether events of type t may be dropped past the
// per-account bound; false for every type not listed as routine.
func (t Type) Routine() bool { return routine[t] }

// RoutineTypes returns the routine types, for stores that count them.
func RoutineTypes() []Type {
	out := make([]Type, 0, len(routine))
	for t := range routine {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// MethodEmailCode is the Method of a sign-in with an emailed code or link.
const MethodEmailCode = "email_code"

// MethodOAuth is the Method of a sign-in through another identity provider.
const MethodOAuth = "oauth"

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
	// Suppressed is, on an EventsSuppressed marker, how many routine events
	// were not recorded in its window; 0 on every other event.
	Suppressed int
	// Method is how a sign-in was proven, on login_succeeded of methods
	// other than the password ("oauth", MethodEmailCode); empty otherwise.
	Method string
	// Provider names the identity provider of a federated sign-in or of a
	// linked or unlinked identity.
	Provider string
}

// Page is one page of a user's events, newest first, and the cursor of the
// next (older) page, empty on the last.
type Page struct {
	Events     []Event
	NextCursor string
}

// ErrInvalidCursor means a page cursor that the store did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")
