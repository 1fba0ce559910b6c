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
)

// Event is one security event. SessionID may be empty.
type Event struct {
	ID        string
	UserID    string
	SessionID string
	Type      Type
	IP        string
	UserAgent string
	CreatedAt time.Time
}

// Page is one page of a user's events, newest first, and the cursor of the
// next (older) page, empty on the last.
type Page struct {
	Events     []Event
	NextCursor string
}

// ErrInvalidCursor means a page cursor that the store did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")
