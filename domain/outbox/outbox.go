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
	// KindResetRequested is not a mail: it is a forgot-password request,
	// which delivery turns into a reset mail when the address has an
	// account and drops otherwise. Queuing the request rather than deciding
	// at once makes the request do the same work for every address.
	KindResetRequested Kind = "reset_requested"

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
)

// Message is one queued mail. Link and TTL are empty for notices.
type Message struct {
	ID   string
	Kind Kind
	To   string
	// Locale is the language the mail is rendered in (the account's when
	// it was queued); empty means the default.
	Locale    string
	Link      string
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
