package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Authenticate verifies an access token and checks that its session is still
// live, so a revoked session's tokens stop working at once on every instance
// that shares the store. This is the per-request hot path: one signature
// check and one primary-key lookup.
func (s *Service) Authenticate(ctx context.Context, raw string) (domauth.Principal, error) {
	if raw == "" {
		return domauth.Principal{}, domauth.ErrUnauthenticated
	}
	c, err := s.d.Verifier.Verify(raw)
	if err != nil {
		return domauth.Principal{}, err
	}
	now := s.now()
	e, cached := s.live.get(c.SessionID, now)
	if !cached {
		e.sess, e.user, err = s.d.Sessions.WithUser(ctx, c.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return domauth.Principal{}, domauth.ErrSessionRevoked
		}
		if err != nil {
			return domauth.Principal{}, err
		}
		s.live.put(e.sess, e.user, now)
	}
	if e.sess.UserID != c.Subject || !e.sess.Active(now) {
		return domauth.Principal{}, domauth.ErrSessionRevoked
	}
	return domauth.Principal{Claims: c, User: e.user}, nil
}

// LogoutInput names the session to end: by its refresh token, or by the
// caller's access token. The refresh token wins when both are given; the
// access token is the fallback when the refresh token is unknown.
type LogoutInput struct {
	RefreshToken string
	Principal    *domauth.Principal
}

// Logout revokes one session. An unknown or already ended refresh token is
// not an error (as in RFC 7009): the outcome the caller wants, no live
// session for that token, already holds.
func (s *Service) Logout(ctx context.Context, in LogoutInput, meta Meta) error {
	meta = meta.clean()
	if in.RefreshToken != "" {
		found, err := s.logoutByToken(ctx, in.RefreshToken, meta)
		if err != nil {
			return err
		}
		if found || in.Principal == nil {
			return nil
		}
	}
	if in.Principal == nil {
		return domauth.ErrUnauthenticated
	}
	return s.revokeByID(ctx, *in.Principal, in.Principal.SessionID(), session.ReasonLogout, meta)
}

// logoutByToken revokes the session a genuine token belongs to, the
// current token or any ancestor (whose holder could revoke it by reuse
// anyway); a token nobody issued finds nothing.
func (s *Service) logoutByToken(ctx context.Context, raw string, meta Meta) (bool, error) {
	tok, err := s.presented(ctx, raw)
	if errors.Is(err, session.ErrRefreshInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := false
	err = s.revokeWhere(ctx, tok.SessionID, session.ReasonLogout, meta, func(sess session.Session, now time.Time) bool {
		found = s.policy.Decide(sess, tok, now) != session.Reject
		return found
	})
	if errors.Is(err, session.ErrNotFound) {
		return false, nil
	}
	return found, err
}

// LogoutAll revokes every session of the caller, the current one included.
func (s *Service) LogoutAll(ctx context.Context, p domauth.Principal, meta Meta) error {
	meta = meta.clean()
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.now()
		ids, err := s.d.Sessions.RevokeAllForUser(ctx, p.UserID(), "", session.ReasonLogoutAll, now)
		if err != nil {
			return err
		}
		s.live.evict(ids...)
		return s.record(ctx, audit.LogoutAll, p.UserID(), p.SessionID(), meta, now)
	})
}

// RevokeSession revokes one of the caller's active sessions. Another user's
// session is session.ErrNotFound, indistinguishable from a missing one; so
// is one that already ended, as the session list shows active ones only.
func (s *Service) RevokeSession(ctx context.Context, p domauth.Principal, sessionID string, meta Meta) error {
	return s.revokeByID(ctx, p, sessionID, session.ReasonRevokedByUser, meta.clean())
}

func (s *Service) revokeByID(ctx context.Context, p domauth.Principal, sessionID, reason string, meta Meta) error {
	found := false
	err := s.revokeWhere(ctx, sessionID, reason, meta, func(sess session.Session, now time.Time) bool {
		found = sess.UserID == p.UserID() && sess.Active(now)
		return found
	})
	if err == nil && !found {
		return session.ErrNotFound
	}
	return err
}

// revokeWhere revokes session id, under its lock, if match says so, and
// records it.
func (s *Service) revokeWhere(ctx context.Context, sessionID, reason string, meta Meta, match func(session.Session, time.Time) bool) error {
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.now()
		var userID string
		err := s.d.Sessions.Update(ctx, sessionID, func(sess *session.Session) error {
			if !match(*sess, now) || sess.Revoked() {
				return nil
			}
			sess.Revoke(now, reason)
			userID = sess.UserID
			return nil
		})
		if err != nil || userID == "" {
			return err
		}
		s.live.evict(sessionID)
		return s.record(ctx, audit.SessionRevoked, userID, sessionID, meta, now)
	})
}

// SessionView is a session as its owner sees it in a listing.
type SessionView struct {
	session.Session
	Current bool
}

// MaxSessionPage bounds one page of the session list (and is its default).
const MaxSessionPage = 100

// SessionList is one page of the caller's sessions.
type SessionList struct {
	Sessions []SessionView
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// ListSessions lists the caller's active sessions, newest first, limit per
// page (1 to MaxSessionPage) after cursor ("" for the first page), marking
// the one the caller's token belongs to.
func (s *Service) ListSessions(ctx context.Context, p domauth.Principal, cursor string, limit int) (SessionList, error) {
	if limit < 1 || limit > MaxSessionPage {
		return SessionList{}, user.Invalid("limit", "must be an integer between 1 and 100")
	}
	page, err := s.d.Sessions.ListActive(ctx, p.UserID(), s.now(), cursor, limit)
	if errors.Is(err, session.ErrInvalidCursor) {
		return SessionList{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	if err != nil {
		return SessionList{}, err
	}
	out := SessionList{Sessions: make([]SessionView, len(page.Sessions)), NextCursor: page.NextCursor}
	for i, sess := range page.Sessions {
		out.Sessions[i] = SessionView{Session: sess, Current: sess.ID == p.SessionID()}
	}
	return out, nil
}

// ReauthInput is what a reauthentication presents: the password and, when
// the account has TOTP, a code or a recovery code.
type ReauthInput struct {
	Password     string
	Code         string
	RecoveryCode string
}

// Reauthenticate checks the caller's password (and second factor, when the
// account has one) again and returns a fresh access token for the same
// session; the session's auth time and methods move to now, so later
// refreshes carry them (still not fresh). A wrong password is
// ErrInvalidCredentials and is recorded as a failed login; with TOTP active
// a missing code is a validation error on "code".
func (s *Service) Reauthenticate(ctx context.Context, p domauth.Principal, in ReauthInput, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, err := s.d.Users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return TokenPair{}, domauth.ErrSessionRevoked
	}
	if err != nil {
		return TokenPair{}, err
	}
	_, factors, err := s.checkCredentials(ctx, Credentials{Email: u.Email, Password: in.Password}, meta)
	if err != nil {
		return TokenPair{}, err
	}
	methods := passwordOnly
	if len(factors) > 0 {
		if in.Code == "" && in.RecoveryCode == "" {
			return TokenPair{}, user.Invalid("code", "is required: two-step verification is on")
		}
		methods = twoFactors
	}
	var pair TokenPair
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if len(factors) > 0 {
			if err := s.proveFactor(ctx, u, p.SessionID(), in.Code, in.RecoveryCode, meta); err != nil {
				return err
			}
		}
		now := s.now()
		var sess session.Session
		err := s.d.Sessions.Update(ctx, p.SessionID(), func(cur *session.Session) error {
			if !cur.Active(now) {
				return domauth.ErrSessionRevoked
			}
			cur.AuthTime, cur.Methods = now, methods
			sess = *cur
			return nil
		})
		if errors.Is(err, session.ErrNotFound) {
			return domauth.ErrSessionRevoked
		}
		if err != nil {
			return err
		}
		if err := s.record(ctx, audit.Reauthenticated, u.ID, sess.ID, meta, now); err != nil {
			return err
		}
		pair, err = s.pair(u, sess, "", true, now)
		if err != nil {
			return fmt.Errorf("reauthenticate: %w", err)
		}
		return nil
	})
	return pair, err
}

// ForgetUser drops what this instance's liveness cache holds of userID's
// sessions, for use cases elsewhere that revoke or delete them (password
// change, account deletion), so this instance sees that at once.
func (s *Service) ForgetUser(userID string) { s.live.evictUser(userID) }
