// Package webhook holds the events Gatehouse tells other systems about
// (Standard Webhooks), the rule of their delivery's back-off, and the
// before-signup hook's request and answers. Pure values and functions: the
// outbox, the signing and the HTTP calls live in adapters.
package webhook

import (
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

// Type names an event; the values are part of the public API.
type Type string

// The event types of the contract.
const (
	UserCreated        Type = "user.created"
	UserUpdated        Type = "user.updated"
	UserDeleted        Type = "user.deleted"
	SessionCreated     Type = "session.created"
	SessionRevoked     Type = "session.revoked"
	RefreshTokenReused Type = "refresh_token.reused"
	PasswordChanged    Type = "password.changed"
	EmailVerified      Type = "email.verified"
	MFAEnabled         Type = "mfa.enabled"
	MFADisabled        Type = "mfa.disabled"
	IdentityLinked     Type = "identity.linked"
	IdentityUnlinked   Type = "identity.unlinked"
)

// Types lists every event type, in the contract's order.
func Types() []Type {
	return []Type{UserCreated, UserUpdated, UserDeleted, SessionCreated, SessionRevoked,
		RefreshTokenReused, PasswordChanged, EmailVerified, MFAEnabled, MFADisabled,
		IdentityLinked, IdentityUnlinked}
}

// ParseTypes reads WEBHOOK_EVENTS: comma-separated types, or empty for all.
// An unknown type is an error naming it, so a typo never silences events.
func ParseTypes(s string) ([]Type, error) {
	if strings.TrimSpace(s) == "" {
		return Types(), nil
	}
	known := map[Type]bool{}
	for _, t := range Types() {
		known[t] = true
	}
	var out []Type
	for _, part := range strings.Split(s, ",") {
		t := Type(strings.TrimSpace(part))
		if !known[t] {
			return nil, errors.New("unknown event type " + string(t))
		}
		out = append(out, t)
	}
	return out, nil
}

// Ways an account was created (user.created's method).
const (
	MethodPassword  = "password"
	MethodOAuth     = "oauth"
	MethodEmailCode = "email_code"
	MethodAdmin     = "admin"
)

// Ways a password changed (password.changed's via).
const (
	ViaChange = "change"
	ViaReset  = "reset"
	ViaAdmin  = "admin"
)

// Second-factor kinds (mfa.enabled and mfa.disabled's method).
const (
	FactorTOTP    = "totp"
	FactorPasskey = "passkey"
)

// Event is one event to deliver. Data is the JSON object of the body's
// "data": built only by the constructors below, which take nothing secret.
// UserID orders delivery: events of one user go out in the order they
// were written while none is failing.
type Event struct {
	ID         string
	Type       Type
	UserID     string
	OccurredAt time.Time
	Data       map[string]any
}

// userData is u as the JSON object of the contract's user resource (its
// public fields; never password material).
func userData(u user.User) map[string]any {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	m := map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "roles": roles,
		"emailVerified": u.EmailVerified,
		"createdAt":     u.CreatedAt.UTC().Format(time.RFC3339Nano),
		"updatedAt":     u.UpdatedAt.UTC().Format(time.RFC3339Nano),
	}
	if len(u.AppMetadata) > 0 {
		m["appMetadata"] = u.AppMetadata
	}
	return m
}

func ev(eventID string, t Type, userID string, at time.Time, data map[string]any) Event {
	return Event{ID: eventID, Type: t, UserID: userID, OccurredAt: at.UTC(), Data: data}
}

// NewUserCreated is user.created.
func NewUserCreated(eventID string, u user.User, method string, at time.Time) Event {
	return ev(eventID, UserCreated, u.ID, at, map[string]any{"user": userData(u), "method": method})
}

// NewUserUpdated is user.updated; changed names the fields by their JSON
// names.
func NewUserUpdated(eventID string, u user.User, changed []string, at time.Time) Event {
	return ev(eventID, UserUpdated, u.ID, at, map[string]any{"user": userData(u), "changed": changed})
}

// NewUserDeleted is user.deleted.
func NewUserDeleted(eventID, userID string, at time.Time) Event {
	return ev(eventID, UserDeleted, userID, at, map[string]any{"userId": userID})
}

// NewSessionCreated is session.created.
func NewSessionCreated(eventID, userID, sessionID, method, ip, userAgent string, at time.Time) Event {
	return ev(eventID, SessionCreated, userID, at, map[string]any{
		"userId": userID, "sessionId": sessionID, "method": method, "ip": ip, "userAgent": userAgent})
}

// NewSessionRevoked is session.revoked; reason is one of the contract's
// (see RevokeReason).
func NewSessionRevoked(eventID, userID, sessionID, reason string, at time.Time) Event {
	return ev(eventID, SessionRevoked, userID, at, map[string]any{
		"userId": userID, "sessionId": sessionID, "reason": reason})
}

// NewRefreshTokenReused is refresh_token.reused.
func NewRefreshTokenReused(eventID, userID, sessionID, ip string, at time.Time) Event {
	return ev(eventID, RefreshTokenReused, userID, at, map[string]any{
		"userId": userID, "sessionId": sessionID, "ip": ip})
}

// NewPasswordChanged is password.changed.
func NewPasswordChanged(eventID, userID, via string, at time.Time) Event {
	return ev(eventID, PasswordChanged, userID, at, map[string]any{"userId": userID, "via": via})
}

// NewEmailVerified is email.verified.
func NewEmailVerified(eventID, userID, email string, at time.Time) Event {
	return ev(eventID, EmailVerified, userID, at, map[string]any{"userId": userID, "email": email})
}

// NewMFAChanged is mfa.enabled (enabled true) or mfa.disabled.
func NewMFAChanged(eventID, userID, factor string, enabled bool, at time.Time) Event {
	t := MFADisabled
	if enabled {
		t = MFAEnabled
	}
	return ev(eventID, t, userID, at, map[string]any{"userId": userID, "method": factor})
}

// NewIdentityChanged is identity.linked (linked true) or identity.unlinked.
func NewIdentityChanged(eventID, userID, provider string, linked bool, at time.Time) Event {
	t := IdentityUnlinked
	if linked {
		t = IdentityLinked
	}
	return ev(eventID, t, userID, at, map[string]any{"userId": userID, "provider": provider})
}

// RevokeReason maps a session's stored revoke reason to the contract's
// session.revoked reason, and false for revocations that send nothing (the
// account's deletion, which user.deleted reports).
func RevokeReason(stored string) (string, bool) {
	switch stored {
	case "logout", "logout_all", "password_changed", "password_reset", "admin", "disabled":
		return stored, true
	case "refresh_reuse_detected":
		return "reuse_detected", true
	case "account_deleted":
		return "", false
	default:
		// Revoked by the owner (one session), by a factor enrolment, by the
		// session cap or by the OpenID provider's flows.
		return "revoked", true
	}
}

// SessionMethod names how a session was started from its RFC 8176 methods
// (and this service's "fed" and "email"): its first step, password_mfa for
// a password and a second factor.
func SessionMethod(methods []string) string {
	for _, m := range methods {
		switch m {
		case "hwk":
			return "passkey"
		case "fed":
			return MethodOAuth
		case "email":
			return MethodEmailCode
		}
	}
	for _, m := range methods {
		if m == "otp" {
			return "password_mfa"
		}
	}
	return "password"
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// Delivery is an event's delivery as operators see it.
type Delivery struct {
	ID            string
	Type          Type
	Status        string
	Attempts      int
	LastError     string
	CreatedAt     time.Time
	NextAttemptAt time.Time
}

// DeliveryPage is one page of deliveries, newest first.
type DeliveryPage struct {
	Items      []Delivery
	NextCursor string
}

// Claimed is a delivery an instance claimed: the stored body to post.
// Attempts counts attempts started, this one included; retries end
// Retry.Window after WindowFrom (the write, or an operator's retry).
type Claimed struct {
	ID         string
	Body       []byte
	Attempts   int
	WindowFrom time.Time
}

// ErrNotFound means no such delivery.
var ErrNotFound = errors.New("delivery not found")

// ErrInvalidCursor means a page cursor the store did not issue.
var ErrInvalidCursor = errors.New("invalid delivery cursor")

// Retry is the delivery back-off of the contract: a failed attempt n
// (1-based) waits Base·2^(n-1), at most Max; past Window after the event
// was written it is given up (kept as failed).
type Retry struct {
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// DefaultRetry doubles from 5 seconds to an hour, for 24 hours.
var DefaultRetry = Retry{Base: 5 * time.Second, Max: time.Hour, Window: 24 * time.Hour}

// Next returns when a delivery of an event written at created, whose
// attempt-th attempt failed at now, is tried again; false when it is to be
// given up because the next attempt would fall past the window.
func (r Retry) Next(attempt int, created, now time.Time) (time.Time, bool) {
	d := r.Base
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	next := now.Add(d)
	if next.After(created.Add(r.Window)) {
		return time.Time{}, false
	}
	return next, true
}

// RejectedError is the hook's refusal; Message is the hook's, shown to the
// client as the envelope's message.
type RejectedError struct{ Message string }

// Error implements error.
func (e *RejectedError) Error() string { return "signup rejected: " + e.Message }

// ErrHookUnavailable means the hook did not answer as the contract says
// (a timeout, a transport error, another status, a body that is not the
// answer): the signup fails closed.
var ErrHookUnavailable = errors.New("before-signup hook unavailable")
