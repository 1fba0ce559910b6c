package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Refresh exchanges a refresh token for a new pair in the same session,
// rotating the token. The whole decision runs in one transaction holding the
// session's lock, so parallel refreshes with one token serialize and can
// never grow two live lineages.
//
// Outcomes: the current token rotates; its immediate predecessor, within the
// grace interval, gets the same successor again; any other used token revokes
// the session (session.ErrRefreshReused); tokens of ended sessions are
// session.ErrRefreshInvalid.
func (s *Service) Refresh(ctx context.Context, raw string, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	hash, err := session.HashRefreshToken(raw)
	if err != nil {
		return TokenPair{}, err
	}
	// The successor is made once and offered to whichever path rotates: a
	// store that declines the fast path costs no second secret and seal.
	next := newSuccessor(raw, hash)
	if pair, ok, err := s.fastRotate(ctx, hash, next, meta); err != nil || ok {
		return pair, err
	}
	pair, err := s.refreshOnce(ctx, raw, hash, next, meta)
	if errors.Is(err, session.ErrConflict) {
		// Another request rotated this token between our read and our write
		// (possible only where the store cannot lock the row). Once more,
		// with fresh state, this becomes a grace replay of that successor;
		// our own successor was rolled back with the attempt.
		pair, err = s.refreshOnce(ctx, raw, hash, next, meta)
	}
	return pair, err
}

// successor is the token a rotation hands out, with what the store keeps of
// it: its hash, and the sealed copy stored with its predecessor.
type successor struct {
	raw    string
	hash   [32]byte
	sealed []byte
}

func newSuccessor(current string, currentHash [32]byte) successor {
	raw, hash := session.NewRefreshSecret()
	return successor{raw: raw, hash: hash, sealed: session.SealSuccessor(current, raw, string(currentHash[:]))}
}

func (s *Service) refreshOnce(ctx context.Context, raw string, hash [32]byte, next successor, meta Meta) (TokenPair, error) {
	var (
		pair            TokenPair
		reused, rotated bool
	)
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.now()
		sess, tok, err := s.d.Sessions.LockByRefreshHash(ctx, hash)
		if err != nil {
			return err
		}
		switch s.policy.Decide(sess, tok, now) {
		case session.Rotate:
			pair, err = s.rotate(ctx, sess, tok, next, meta)
			rotated = err == nil
			return err
		case session.Replay:
			again, err := session.OpenSuccessor(raw, tok.SuccessorSealed, string(hash[:]))
			if err != nil {
				return fmt.Errorf("refresh: open successor: %w", err)
			}
			u, err := s.d.Users.ByID(ctx, sess.UserID)
			if err != nil {
				return sessionUserErr(err)
			}
			pair, err = s.pair(u, sess, again, false, now)
			return err
		case session.RevokeForReuse:
			sess.Revoke(now, session.ReasonReuseDetected)
			if err := s.d.Sessions.Save(ctx, sess); err != nil {
				return err
			}
			s.live.evict(sess.ID)
			reused = true
			return s.record(ctx, audit.RefreshReuseDetected, sess.UserID, sess.ID, meta, now)
		default:
			return session.ErrRefreshInvalid
		}
	})
	if err != nil {
		return TokenPair{}, err
	}
	if reused {
		// Reported only after the revocation committed.
		s.d.Observer.RefreshReuseDetected()
		return TokenPair{}, session.ErrRefreshReused
	}
	if rotated {
		s.d.Observer.RefreshRotated()
	}
	return pair, nil
}

// fastRotate tries the common case, a refresh with the session's current
// token, in one step of the store (one statement on PostgreSQL). It reports
// false when the store declined: a replay, a reuse, an ended session or an
// unknown token, all of which the locked path decides.
func (s *Service) fastRotate(ctx context.Context, hash [32]byte, next successor, meta Meta) (TokenPair, bool, error) {
	now := s.now()
	sess, u, ok, err := s.d.Sessions.RotateCurrent(ctx, RotateInput{
		Hash: hash, Now: now, IdleTTL: s.policy.IdleTTL, Next: next.hash,
		SuccessorSealed: next.sealed, UserAgent: meta.UserAgent, IP: meta.IP,
	})
	if err != nil || !ok {
		return TokenPair{}, false, err
	}
	pair, err := s.pair(u, sess, next.raw, false, now)
	if err != nil {
		return TokenPair{}, false, err
	}
	s.d.Observer.RefreshRotated()
	return pair, true, nil
}

func (s *Service) rotate(ctx context.Context, sess session.Session, used session.RefreshToken, succ successor, meta Meta) (TokenPair, error) {
	now := s.now()
	u, err := s.d.Users.ByID(ctx, sess.UserID)
	if err != nil {
		return TokenPair{}, sessionUserErr(err)
	}
	used.RotatedAt = now
	used.SuccessorSealed = succ.sealed
	sess.Generation++
	s.policy.Touch(&sess, now, meta.UserAgent, meta.IP)
	next := session.RefreshToken{Hash: succ.hash, SessionID: sess.ID, Generation: sess.Generation, CreatedAt: now}
	if err := s.d.Sessions.Rotate(ctx, sess, used, next); err != nil {
		return TokenPair{}, err
	}
	return s.pair(u, sess, succ.raw, false, now)
}

// sessionUserErr maps a missing owner (deleted while we looked) to an invalid token.
func sessionUserErr(err error) error {
	if errors.Is(err, user.ErrNotFound) {
		return session.ErrRefreshInvalid
	}
	return err
}
