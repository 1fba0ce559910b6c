// Package session holds the login session and its refresh-token family: the
// rules for lifetimes, rotation and reuse detection, as pure functions of
// the current time.
package session

import (
	"crypto/subtle"
	"errors"
	"time"
)

// Sentinel errors of sessions and refresh tokens.
var (
	// ErrNotFound means no such session (or not one of the caller's).
	ErrNotFound = errors.New("session not found")
	// ErrRefreshInvalid covers an unknown, malformed, expired or revoked refresh token.
	ErrRefreshInvalid = errors.New("refresh token invalid")
	// ErrRefreshReused means a rotated token came back outside the grace
	// interval; the session has been revoked.
	ErrRefreshReused = errors.New("refresh token reused")
	// ErrConflict means a concurrent change won a race on the same session; the
	// caller may retry once with fresh state.
	ErrConflict = errors.New("session changed concurrently")
)

// Reasons a session was revoked, kept for operators and security events.
const (
	ReasonLogout         = "logout"
	ReasonLogoutAll      = "logout_all"
	ReasonRevokedByUser  = "revoked_by_user"
	ReasonReuseDetected  = "refresh_reuse_detected"
	ReasonPasswordChange = "password_changed"
	ReasonPasswordReset  = "password_reset"
	ReasonAccountDeleted = "account_deleted"
	// ReasonFactorAdded: the owner enrolled a second factor and asked for
	// every other session to end with it.
	ReasonFactorAdded = "factor_added"
	// ReasonSessionLimit: the account started more sessions than it may
	// hold, and this was the oldest.
	ReasonSessionLimit = "session_limit"
)

// Session is one login: a family of refresh tokens and the access tokens
// minted from them, sharing one ID ("sid").
type Session struct {
	ID     string
	UserID string
	// CreatedAt is the login time.
	CreatedAt time.Time
	// LastUsedAt is the last refresh (or the login).
	LastUsedAt time.Time
	// IdleExpiresAt is when the session ends unless refreshed again.
	IdleExpiresAt time.Time
	// AbsoluteExpiresAt is when the session ends whatever happens.
	AbsoluteExpiresAt time.Time
	// AuthTime is when the user last proved their password in this session.
	AuthTime time.Time
	// Methods are the RFC 8176 authentication methods proven at AuthTime
	// ("pwd", or "pwd", "otp", "mfa", ...); refreshed tokens carry them.
	// Empty means a password.
	Methods []string
	// IdP names the provider a federated sign-in came through; empty
	// for every other sign-in. Tokens minted in the session carry it.
	IdP string
	// RevokedAt is zero while the session is not revoked.
	RevokedAt    time.Time
	RevokeReason string
	UserAgent    string
	IP           string
	// Generation is the generation of the session's current refresh token;
	// the first token is generation 1.
	Generation int64

	// The refresh state: only the current token's hash, and what the grace
	// interval needs. Older tokens are recognised by their MAC, not stored.

	// TokenHash is the SHA-256 of the current refresh token.
	TokenHash [32]byte
	// PrevTokenHash is the hash of the immediate predecessor (zero before
	// the first rotation).
	PrevTokenHash [32]byte
	// RotatedAt is when the predecessor was exchanged for the current token.
	RotatedAt time.Time
	// SuccessorSealed is the current token sealed under a key derived from
	// its predecessor (see SealSuccessor), so a racing request presenting the
	// predecessor within the grace interval gets the same token back. Only a
	// holder of the predecessor can open it; it is erased once the grace
	// interval has passed (see Policy.EraseSealed), so that an old token plus
	// a copy of the database opens nothing.
	SuccessorSealed []byte
}

// Revoked reports whether the session was revoked.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// ExpiresAt is when the session ends if it is not refreshed: the earlier of
// its idle and absolute expiry.
func (s Session) ExpiresAt() time.Time {
	if s.AbsoluteExpiresAt.Before(s.IdleExpiresAt) {
		return s.AbsoluteExpiresAt
	}
	return s.IdleExpiresAt
}

// Active reports whether the session is neither revoked nor past either
// lifetime at now.
func (s Session) Active(now time.Time) bool { return s.Liveness().Active(now) }

// Liveness is what decides whether a session's access tokens still work:
// its account, whether it was revoked, and its two lifetimes. The
// per-request access check reads only this, not the token material.
type Liveness struct {
	ID                string
	UserID            string
	RevokedAt         time.Time // zero while not revoked
	IdleExpiresAt     time.Time
	AbsoluteExpiresAt time.Time
}

// Liveness returns what of s decides whether its tokens still work.
func (s Session) Liveness() Liveness {
	return Liveness{ID: s.ID, UserID: s.UserID, RevokedAt: s.RevokedAt,
		IdleExpiresAt: s.IdleExpiresAt, AbsoluteExpiresAt: s.AbsoluteExpiresAt}
}

// Active reports whether the session is neither revoked nor past either
// lifetime at now.
func (l Liveness) Active(now time.Time) bool {
	end := l.IdleExpiresAt
	if l.AbsoluteExpiresAt.Before(end) {
		end = l.AbsoluteExpiresAt
	}
	return l.RevokedAt.IsZero() && now.Before(end)
}

// Revoke marks the session revoked at now for reason; revoking twice keeps the
// first time and reason.
func (s *Session) Revoke(now time.Time, reason string) {
	if s.Revoked() {
		return
	}
	s.RevokedAt = now
	s.RevokeReason = reason
	// No token of a revoked session is ever answered again.
	s.SuccessorSealed = nil
}

// Policy holds the lifetimes of sessions and the refresh grace interval.
type Policy struct {
	IdleTTL     time.Duration
	AbsoluteTTL time.Duration
	ReuseGrace  time.Duration
}

// Start returns a new session for userID created at now, with the password
// proven at now.
func (p Policy) Start(id, userID string, now time.Time, userAgent, ip string) Session {
	s := Session{
		ID: id, UserID: userID,
		CreatedAt: now, LastUsedAt: now, AuthTime: now,
		AbsoluteExpiresAt: now.Add(p.AbsoluteTTL),
		UserAgent:         userAgent, IP: ip,
		Generation: 1,
	}
	s.IdleExpiresAt = s.idleFrom(p, now)
	return s
}

func (s Session) idleFrom(p Policy, now time.Time) time.Time {
	idle := now.Add(p.IdleTTL)
	if idle.After(s.AbsoluteExpiresAt) {
		return s.AbsoluteExpiresAt
	}
	return idle
}

// Touch records a use of the session at now (a refresh): the idle lifetime
// restarts, never past the absolute one.
func (p Policy) Touch(s *Session, now time.Time, userAgent, ip string) {
	s.LastUsedAt = now
	s.IdleExpiresAt = s.idleFrom(p, now)
	if userAgent != "" {
		s.UserAgent = userAgent
	}
	if ip != "" {
		s.IP = ip
	}
}

// Decision is what to do with a presented refresh token.
type Decision int

// The possible decisions of Policy.Decide.
const (
	// Reject: the token cannot be used (session ended or revoked); answer
	// ErrRefreshInvalid and change nothing.
	Reject Decision = iota
	// Rotate: the token is the session's current one; mark it used and issue
	// its successor.
	Rotate
	// Replay: the token is the immediate predecessor of the current one and
	// was rotated within the grace interval; answer with its successor again.
	Replay
	// RevokeForReuse: a rotated token came back outside the grace interval, or
	// an older ancestor came back; revoke the whole session.
	RevokeForReuse
)

// Decide applies the rotation and reuse rules to the genuine token t
// (issued by this service: its MAC checked, or a legacy hash the store
// knows) presented for session s at now.
//
// Why a grace interval: two browser tabs sharing one cookie, or a client whose
// response was lost, present the same token twice within moments. Treating
// that as theft would log real users out; the successor is handed out again
// instead, so there is still only one live lineage.
func (p Policy) Decide(s Session, t Presented, now time.Time) Decision {
	if s.Revoked() || !now.Before(s.ExpiresAt()) || t.SessionID != s.ID {
		return Reject
	}
	if sameHash(t.Hash, s.TokenHash) {
		return Rotate
	}
	if sameHash(t.Hash, s.PrevTokenHash) && t.Generation == s.Generation-1 && p.inGrace(s, now) {
		return Replay
	}
	if t.Generation < s.Generation {
		// A genuine token of an older generation: an ancestor came back.
		return RevokeForReuse
	}
	// A genuine-looking token of the current (or a later) generation that
	// is not the current one was never handed out; it changes nothing.
	return Reject
}

// inGrace reports whether the sealed successor may still be handed out:
// the boundary is inclusive, exactly ReuseGrace after the rotation replays.
func (p Policy) inGrace(s Session, now time.Time) bool {
	return len(s.SuccessorSealed) > 0 && now.Sub(s.RotatedAt) <= p.ReuseGrace
}

// sameHash compares token hashes in constant time; the zero hash (no token)
// matches nothing.
func sameHash(a, b [32]byte) bool {
	return b != [32]byte{} && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Rotate moves s to its next token (hash next, sealed under the current
// token as sealed) at now, and touches it as Touch does. It is the Rotate
// case of Decide; stores with a one-statement fast path mirror it.
func (p Policy) Rotate(s *Session, next [32]byte, sealed []byte, now time.Time, userAgent, ip string) {
	s.PrevTokenHash = s.TokenHash
	s.TokenHash = next
	s.Generation++
	s.RotatedAt = now
	s.SuccessorSealed = sealed
	p.Touch(s, now, userAgent, ip)
}

// EraseSealed drops the sealed successor once its grace interval has passed
// at now, and reports whether it did.
func (p Policy) EraseSealed(s *Session, now time.Time) bool {
	if len(s.SuccessorSealed) == 0 || p.inGrace(*s, now) {
		return false
	}
	s.SuccessorSealed = nil
	return true
}
