// Package outbox holds the messages of the transactional mail outbox and the
// retry rule of their delivery, as pure functions of the attempt count.
package outbox

import "time"

// Kind names a message template.
type Kind string

// The kinds of message the service sends.
const (
	// KindVerifyEmail carries a verification link.
	KindVerifyEmail Kind = "verify_email"
	// KindPasswordReset carries a password-reset link.
	KindPasswordReset Kind = "password_reset"
	// KindEmailChanged tells the old address that the account moved (no link).
	KindEmailChanged Kind = "email_changed"
	// KindPasswordChanged tells the owner their password was reset (no link).
	KindPasswordChanged Kind = "password_changed"
	// KindAccountExists tells the owner of an address that someone tried to
	// register it again (no link).
	KindAccountExists Kind = "account_exists"

	// Notices (no link) of a change to the account's second factors, so a
	// factor nobody asked for never goes unseen.
	KindTOTPEnabled              Kind = "totp_enabled"
	KindTOTPDisabled             Kind = "totp_disabled"
	KindRecoveryCodesRegenerated Kind = "recovery_codes_regenerated"
	KindPasskeyAdded             Kind = "passkey_added"
	KindPasskeyRemoved           Kind = "passkey_removed"
	// KindMFALocked tells the owner that second-factor codes reached the
	// failure ceiling: someone with the password is guessing them.
	KindMFALocked Kind = "mfa_locked"
	// KindConfirmEmailChange carries the link that moves an account to the
	// address it is mailed to (REQUIRE_EMAIL_VERIFICATION).
	KindConfirmEmailChange Kind = "confirm_email_change"
	// KindEmailInUse tells the owner of an address that someone asked to
	// move another account to it (no link; nothing changed).
	KindEmailInUse Kind = "email_in_use"
	// KindEmailCode carries a six-digit sign-in code and a sign-in link.
	KindEmailCode Kind = "email_code"
)

// The kinds of request the outbox holds instead of a mail with a link.
// Delivery turns each into its mail at send time: it issues the token then,
// stores its hash and renders the link in memory, so the outbox never holds
// a link or a token a copy of the database could use (issue 21 item 6).
// Rows of the link kinds above written before that (migration 00010 blanks
// their links) are delivered the same way.
const (
	// KindVerifyRequested asks for a verification link to UserID's address
	// To, sent only while the account still has that address unverified.
	KindVerifyRequested Kind = "verify_requested"
	// KindResetRequested is a forgot-password request for the address To:
	// delivery sends a reset link when the address has an enabled account
	// and drops it otherwise. Queuing the request rather than deciding at
	// once makes the request do the same work for every address.
	KindResetRequested Kind = "reset_requested"
	// KindEmailChangeRequested asks to move UserID's account to the address
	// To: delivery mails To a KindConfirmEmailChange link, or a
	// KindEmailInUse notice when another account has To, so the request
	// itself does the same work for every address.
	KindEmailChangeRequested Kind = "email_change_requested"
	// KindEmailCodeRequested asks for a sign-in code to the address To:
	// delivery mails a KindEmailCode when the address has an enabled
	// account (or none, while sign-up by code is allowed) and drops it
	// otherwise, so the request does the same work for every address.
	KindEmailCodeRequested Kind = "email_code_requested"
)

// Message is one queued mail or request. Link, Code and TTL are set at send time
// only, in memory: the outbox never stores a link or a code.
type Message struct {
	ID   string
	Kind Kind
	To   string
	// Locale is the language the mail is rendered in (the account's when
	// it was queued); empty means the default.
	Locale string
	// UserID is the account a link is for, when it is known at queue time.
	UserID string
	Link   string
	// Code is a sign-in code, set at send time only like Link.
	Code      string
	TTL       time.Duration
	CreatedAt time.Time
	// Attempts counts delivery attempts started, this one included.
	Attempts int
}

// Retry is the delivery back-off: attempt n (1-based) that failed waits
// Base·2^(n-1), at most Max, before the next; after MaxAttempts the message
// is given up.
type Retry struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
}

// Next returns when a message whose attempt-th attempt failed at now is
// tried again, and false when it is to be given up.
func (r Retry) Next(attempt int, now time.Time) (time.Time, bool) {
	if attempt >= r.MaxAttempts {
		return time.Time{}, false
	}
	d := r.Base
	for i := 1; i < attempt; i++ {
		d *= 2
		if r.Max > 0 && d >= r.Max {
			d = r.Max
			break
		}
	}
	return now.Add(d), true
}
