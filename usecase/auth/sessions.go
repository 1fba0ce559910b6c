package auth

import (
	"context"
	"errors"
	"fmt"

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
		found := false
		if hash, err := session.HashRefreshToken(in.RefreshToken); err == nil {
			err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
				sess, _, err := s.d.Sessions.LockByRefreshHash(ctx, hash)
				if errors.Is(err, session.ErrRefreshInvalid) {
					return nil
				}
				if err != nil {
					return err
				}
				found = true
				return s.revoke(ctx, sess, session.ReasonLogout, meta)
			})
			if err != nil {
				return err
			}
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
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		sess, err := s.d.Sessions.LockByID(ctx, sessionID)
		if err != nil {
			return err
		}
		if sess.UserID != p.UserID() || !sess.Active(s.now()) {
			return session.ErrNotFound
		}
		return s.revoke(ctx, sess, reason, meta)
	})
}

// revoke ends sess (idempotently) and records it.
func (s *Service) revoke(ctx context.Context, sess session.Session, reason string, meta Meta) error {
	if sess.Revoked() {
		return nil
	}
	now := s.now()
	sess.Revoke(now, reason)
	if err := s.d.Sessions.Save(ctx, sess); err != nil {
		return err
	}
	s.live.evict(sess.ID)
	return s.record(ctx, audit.SessionRevoked, sess.UserID, sess.ID, meta, now)
}

// SessionView is a session as its owner sees it in a listing.
type SessionView struct {
	session.Session
	Current bool
}

// ListSessions lists the caller's active sessions, newest first, marking the
// one the caller's token belongs to.
func (s *Service) ListSessions(ctx context.Context, p domauth.Principal) ([]SessionView, error) {
	list, err := s.d.Sessions.ListActive(ctx, p.UserID(), s.now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, len(list))
	for i, sess := range list {
		out[i] = SessionView{Session: sess, Current: sess.ID == p.SessionID()}
	}
	return out, nil
}

// Reauthenticate checks the caller's password again and returns a fresh
// access token for the same session; the session's auth time moves to now,
// so later refreshes carry it (still not fresh). A wrong password is
// ErrInvalidCredentials and is recorded as a failed login.
func (s *Service) Reauthenticate(ctx context.Context, p domauth.Principal, password string, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, err := s.d.Users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return TokenPair{}, domauth.ErrSessionRevoked
	}
	if err != nil {
		return TokenPair{}, err
	}
	if _, err := s.checkCredentials(ctx, Credentials{Email: u.Email, Password: password}, meta); err != nil {
		return TokenPair{}, err
	}
	var pair TokenPair
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.now()
		sess, err := s.d.Sessions.LockByID(ctx, p.SessionID())
		if errors.Is(err, session.ErrNotFound) {
			return domauth.ErrSessionRevoked
		}
		if err != nil {
			return err
		}
		if !sess.Active(now) {
			return domauth.ErrSessionRevoked
		}
		sess.AuthTime = now
		if err := s.d.Sessions.Save(ctx, sess); err != nil {
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
