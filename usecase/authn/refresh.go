package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// RefreshSessions is what Refresher asks of the session store: the
// rotation itself, and the session with its user after a locked decision.
type RefreshSessions interface {
	RefreshRotator
	SessionAuthenticator
}

// RefresherDeps are the ports and settings of a Refresher.
type RefresherDeps struct {
	Sessions RefreshSessions
	// Codec issues and checks refresh tokens under the server's key.
	Codec  *session.RefreshCodec
	Tokens TokenIssuer
	Audit  AuditLog
	Tx     Transactor
	Clock  Clock
	// Live, when not nil, forgets a session revoked for reuse.
	Live *LivenessCache
	// Observer is optional.
	Observer Observer
	Policy   session.Policy
	// Events is optional: refresh_token.reused.
	Events Events
}

// Refresher rotates refresh tokens: the hottest write. See Refresh.
type Refresher struct {
	sessions RefreshSessions
	codec    *session.RefreshCodec
	mint     minter
	rec      recorder
	tx       Transactor
	clock    Clock
	live     *LivenessCache
	obs      Observer
	policy   session.Policy
	events   Events
}

// NewRefresher returns a Refresher.
func NewRefresher(d RefresherDeps) *Refresher {
	return &Refresher{
		sessions: d.Sessions, codec: d.Codec, mint: minter{d.Tokens}, rec: recorder{d.Audit},
		tx: d.Tx, clock: d.Clock, live: d.Live, obs: observerOr(d.Observer), policy: d.Policy,
		events: d.Events,
	}
}

// Refresh exchanges a refresh token for a new pair in the same session,
// rotating the token.
//
// Outcomes: the current token rotates; its immediate predecessor, within the
// grace interval, gets the same successor again; any other genuine token of
// the session (an ancestor, however old) revokes it (session.ErrRefreshReused);
// tokens of ended sessions, and anything this service did not issue, are
// session.ErrRefreshInvalid and change nothing.
//
// The common case is one step of the store (one UPDATE of the session row);
// everything else runs in the store's update function, under the session's
// lock, where session.Policy.Decide decides. Parallel refreshes with one
// token therefore serialize on that row and can never grow two lineages.
func (r *Refresher) Refresh(ctx context.Context, raw string, meta Meta) (TokenPair, error) {
	rot, err := r.Rotate(ctx, raw, meta)
	if err != nil {
		return TokenPair{}, err
	}
	return r.mint.pair(rot.User, rot.Session, rot.RefreshToken, false, rot.At)
}

// Rotation is what a rotation leaves: the session after it, its user, the
// refresh token to hand out (the successor, or the same one again for a
// replay within the grace interval) and the time it was decided at.
type Rotation struct {
	Session      session.Session
	User         user.User
	RefreshToken string
	At           time.Time
}

// Rotate applies the rotation and reuse rules of Refresh without minting an
// access token: the OpenID provider's client sessions rotate exactly like
// the app's and mint their own tokens.
func (r *Refresher) Rotate(ctx context.Context, raw string, meta Meta) (Rotation, error) {
	meta = meta.clean()
	tok, err := presented(ctx, r.codec, r.sessions, raw)
	if err != nil {
		return Rotation{}, err
	}
	// The successor is made once and offered to whichever path rotates.
	next, err := r.newSuccessor(raw, tok, tok.Generation+1)
	if err != nil {
		return Rotation{}, err
	}
	if rot, ok, err := r.fastRotate(ctx, tok, next, meta); err != nil || ok {
		return rot, err
	}
	return r.refreshLocked(ctx, raw, tok, next, meta)
}

// successor is the token a rotation hands out, with what the store keeps of
// it: its hash, and the copy sealed under its predecessor.
type successor struct {
	raw    string
	hash   [32]byte
	sealed []byte
}

func (r *Refresher) newSuccessor(current string, tok session.Presented, gen int64) (successor, error) {
	raw, hash, err := r.codec.Issue(tok.SessionID, gen)
	if err != nil {
		return successor{}, fmt.Errorf("refresh: issue: %w", err)
	}
	return successor{raw: raw, hash: hash, sealed: session.SealSuccessor(current, raw, string(tok.Hash[:]))}, nil
}

// fastRotate tries the common case, a refresh with the session's current
// token, in one step of the store. It reports false when the store declined:
// a replay, a reuse, an ended session or a token that is not current, all
// of which the locked path decides.
func (r *Refresher) fastRotate(ctx context.Context, tok session.Presented, next successor, meta Meta) (Rotation, bool, error) {
	now := nowUTC(r.clock)
	sess, u, ok, err := r.sessions.RotateCurrent(ctx, RotateInput{
		Token: tok, Policy: r.policy, Now: now, Next: next.hash,
		SuccessorSealed: next.sealed, UserAgent: meta.UserAgent, IP: meta.IP,
	})
	if err != nil || !ok {
		return Rotation{}, false, err
	}
	r.obs.RefreshRotated()
	return Rotation{Session: sess, User: u, RefreshToken: next.raw, At: now}, true, nil
}

// refreshLocked decides under the session's lock.
func (r *Refresher) refreshLocked(ctx context.Context, raw string, tok session.Presented, next successor, meta Meta) (Rotation, error) {
	var (
		rot      Rotation
		decision session.Decision
	)
	err := r.tx.WithinTx(ctx, func(ctx context.Context) error {
		now := nowUTC(r.clock)
		var answer string
		err := r.sessions.Update(ctx, tok.SessionID, func(sess *session.Session) error {
			decision = r.policy.Decide(*sess, tok, now)
			switch decision {
			case session.Rotate:
				if sess.Generation != tok.Generation {
					// Only a legacy row out of step with its session gets
					// here; the successor must carry the right generation.
					var err error
					if next, err = r.newSuccessor(raw, tok, sess.Generation+1); err != nil {
						return err
					}
				}
				r.policy.Rotate(sess, next.hash, next.sealed, now, meta.UserAgent, meta.IP)
				answer = next.raw
			case session.Replay:
				again, err := session.OpenSuccessor(raw, sess.SuccessorSealed, string(tok.Hash[:]))
				if err != nil {
					return fmt.Errorf("refresh: open successor: %w", err)
				}
				answer = again
			case session.RevokeForReuse:
				sess.Revoke(now, session.ReasonReuseDetected)
			default:
				return session.ErrRefreshInvalid
			}
			return nil
		})
		if errors.Is(err, session.ErrNotFound) {
			return session.ErrRefreshInvalid
		}
		if err != nil {
			return err
		}
		sess, u, err := r.sessions.WithUser(ctx, tok.SessionID)
		if err != nil {
			return sessionUserErr(err)
		}
		if decision == session.RevokeForReuse {
			r.live.evict(sess.ID)
			if err := publish(ctx, r.events, webhook.NewRefreshTokenReused(id.New(), sess.UserID, sess.ID, meta.IP, now)); err != nil {
				return err
			}
			return r.rec.record(ctx, audit.RefreshReuseDetected, sess.UserID, sess.ID, meta, now)
		}
		rot = Rotation{Session: sess, User: u, RefreshToken: answer, At: now}
		return nil
	})
	if err != nil {
		return Rotation{}, err
	}
	switch decision {
	case session.RevokeForReuse:
		// Reported only after the revocation committed.
		r.obs.RefreshReuseDetected()
		return Rotation{}, session.ErrRefreshReused
	case session.Rotate:
		r.obs.RefreshRotated()
	}
	return rot, nil
}

// sessionUserErr maps a missing session or owner (deleted while we looked)
// to an invalid token.
func sessionUserErr(err error) error {
	if errors.Is(err, user.ErrNotFound) || errors.Is(err, session.ErrNotFound) {
		return session.ErrRefreshInvalid
	}
	return err
}
