package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
)

// RevokerSessions is what SessionRevoker asks of the session store: the
// update function for one session, the bulk revocation, and the lookup of
// legacy refresh tokens (a logout may present one).
type RevokerSessions interface {
	SessionUpdater
	SessionBulkRevoker
	LegacyTokens
}

// SessionRevokerDeps are the ports and settings of a SessionRevoker.
type SessionRevokerDeps struct {
	Sessions RevokerSessions
	// Codec checks refresh tokens under the server's key.
	Codec *session.RefreshCodec
	Audit AuditLog
	Tx    Transactor
	Clock Clock
	// Live, when not nil, forgets what it revokes.
	Live   *LivenessCache
	Policy session.Policy
}

// SessionRevoker ends sessions at their owner's request: one by its
// refresh token or the caller's access token (Logout), all of the caller's
// (LogoutAll), or one the caller picks from the list (RevokeSession). Each
// revocation is a security event, committed with it.
type SessionRevoker struct {
	sessions RevokerSessions
	codec    *session.RefreshCodec
	rec      recorder
	tx       Transactor
	clock    Clock
	live     *LivenessCache
	policy   session.Policy
}

// NewSessionRevoker returns a SessionRevoker.
func NewSessionRevoker(d SessionRevokerDeps) *SessionRevoker {
	return &SessionRevoker{
		sessions: d.Sessions, codec: d.Codec, rec: recorder{d.Audit}, tx: d.Tx, clock: d.Clock,
		live: d.Live, policy: d.Policy,
	}
}

// LogoutInput names the session to end: by its refresh token, or by the
// caller's access token. The refresh token wins when both are given; the
// access token is the fallback when the refresh token is unknown.
type LogoutInput struct {
	RefreshToken string
	Principal    *auth.Principal
}

// Logout revokes one session. An unknown or already ended refresh token is
// not an error (as in RFC 7009): the outcome the caller wants, no live
// session for that token, already holds.
func (r *SessionRevoker) Logout(ctx context.Context, in LogoutInput, meta Meta) error {
	meta = meta.clean()
	if in.RefreshToken != "" {
		found, err := r.logoutByToken(ctx, in.RefreshToken, meta)
		if err != nil {
			return err
		}
		if found || in.Principal == nil {
			return nil
		}
	}
	if in.Principal == nil {
		return auth.ErrUnauthenticated
	}
	return r.revokeByID(ctx, *in.Principal, in.Principal.SessionID(), session.ReasonLogout, meta)
}

// logoutByToken revokes the session a genuine token belongs to, the
// current token or any ancestor (whose holder could revoke it by reuse
// anyway); a token nobody issued finds nothing.
func (r *SessionRevoker) logoutByToken(ctx context.Context, raw string, meta Meta) (bool, error) {
	tok, err := presented(ctx, r.codec, r.sessions, raw)
	if errors.Is(err, session.ErrRefreshInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := false
	err = r.revokeWhere(ctx, tok.SessionID, session.ReasonLogout, meta, func(sess session.Session, now time.Time) bool {
		found = r.policy.Decide(sess, tok, now) != session.Reject
		return found
	})
	if errors.Is(err, session.ErrNotFound) {
		return false, nil
	}
	return found, err
}

// LogoutAll revokes every session of the caller, the current one included.
func (r *SessionRevoker) LogoutAll(ctx context.Context, p auth.Principal, meta Meta) error {
	meta = meta.clean()
	return r.tx.WithinTx(ctx, func(ctx context.Context) error {
		now := nowUTC(r.clock)
		ids, err := r.sessions.RevokeAllForUser(ctx, p.UserID(), "", session.ReasonLogoutAll, now)
		if err != nil {
			return err
		}
		r.live.evict(ids...)
		return r.rec.record(ctx, audit.LogoutAll, p.UserID(), p.SessionID(), meta, now)
	})
}

// RevokeSession revokes one of the caller's active sessions. Another user's
// session is session.ErrNotFound, indistinguishable from a missing one; so
// is one that already ended, as the session list shows active ones only.
func (r *SessionRevoker) RevokeSession(ctx context.Context, p auth.Principal, sessionID string, meta Meta) error {
	return r.revokeByID(ctx, p, sessionID, session.ReasonRevokedByUser, meta.clean())
}

func (r *SessionRevoker) revokeByID(ctx context.Context, p auth.Principal, sessionID, reason string, meta Meta) error {
	found := false
	err := r.revokeWhere(ctx, sessionID, reason, meta, func(sess session.Session, now time.Time) bool {
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
func (r *SessionRevoker) revokeWhere(ctx context.Context, sessionID, reason string, meta Meta, match func(session.Session, time.Time) bool) error {
	return r.tx.WithinTx(ctx, func(ctx context.Context) error {
		now := nowUTC(r.clock)
		var userID string
		err := r.sessions.Update(ctx, sessionID, func(sess *session.Session) error {
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
		r.live.evict(sessionID)
		return r.rec.record(ctx, audit.SessionRevoked, userID, sessionID, meta, now)
	})
}
