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
func (s *Service) Refresh(ctx context.Context, raw string, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	tok, err := s.presented(ctx, raw)
	if err != nil {
		return TokenPair{}, err
	}
	// The successor is made once and offered to whichever path rotates.
	next, err := s.newSuccessor(raw, tok, tok.Generation+1)
	if err != nil {
		return TokenPair{}, err
	}
	if pair, ok, err := s.fastRotate(ctx, tok, next, meta); err != nil || ok {
		return pair, err
	}
	return s.refreshLocked(ctx, raw, tok, next, meta)
}

// presented parses a token and, for one of the legacy format, finds its
// session: every genuine token names its session and generation.
func (s *Service) presented(ctx context.Context, raw string) (session.Presented, error) {
	tok, err := s.d.Codec.Parse(raw)
	if err != nil || !tok.Legacy {
		return tok, err
	}
	tok.SessionID, tok.Generation, err = s.d.Sessions.LegacyToken(ctx, tok.Hash)
	return tok, err
}

// successor is the token a rotation hands out, with what the store keeps of
// it: its hash, and the copy sealed under its predecessor.
type successor struct {
	raw    string
	hash   [32]byte
	sealed []byte
}

func (s *Service) newSuccessor(current string, tok session.Presented, gen int64) (successor, error) {
	raw, hash, err := s.d.Codec.Issue(tok.SessionID, gen)
	if err != nil {
		return successor{}, fmt.Errorf("refresh: issue: %w", err)
	}
	return successor{raw: raw, hash: hash, sealed: session.SealSuccessor(current, raw, string(tok.Hash[:]))}, nil
}

// fastRotate tries the common case, a refresh with the session's current
// token, in one step of the store. It reports false when the store declined:
// a replay, a reuse, an ended session or a token that is not current, all
// of which the locked path decides.
func (s *Service) fastRotate(ctx context.Context, tok session.Presented, next successor, meta Meta) (TokenPair, bool, error) {
	now := s.now()
	sess, u, ok, err := s.d.Sessions.RotateCurrent(ctx, RotateInput{
		Token: tok, Policy: s.policy, Now: now, Next: next.hash,
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

// refreshLocked decides under the session's lock.
func (s *Service) refreshLocked(ctx context.Context, raw string, tok session.Presented, next successor, meta Meta) (TokenPair, error) {
	var (
		pair     TokenPair
		decision session.Decision
	)
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := s.now()
		var answer string
		err := s.d.Sessions.Update(ctx, tok.SessionID, func(sess *session.Session) error {
			decision = s.policy.Decide(*sess, tok, now)
			switch decision {
			case session.Rotate:
				if sess.Generation != tok.Generation {
					// Only a legacy row out of step with its session gets
					// here; the successor must carry the right generation.
					var err error
					if next, err = s.newSuccessor(raw, tok, sess.Generation+1); err != nil {
						return err
					}
				}
				s.policy.Rotate(sess, next.hash, next.sealed, now, meta.UserAgent, meta.IP)
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
		sess, u, err := s.d.Sessions.WithUser(ctx, tok.SessionID)
		if err != nil {
			return sessionUserErr(err)
		}
		if decision == session.RevokeForReuse {
			s.live.evict(sess.ID)
			return s.record(ctx, audit.RefreshReuseDetected, sess.UserID, sess.ID, meta, now)
		}
		pair, err = s.pair(u, sess, answer, false, now)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	switch decision {
	case session.RevokeForReuse:
		// Reported only after the revocation committed.
		s.d.Observer.RefreshReuseDetected()
		return TokenPair{}, session.ErrRefreshReused
	case session.Rotate:
		s.d.Observer.RefreshRotated()
	}
	return pair, nil
}

// sessionUserErr maps a missing session or owner (deleted while we looked)
// to an invalid token.
func sessionUserErr(err error) error {
	if errors.Is(err, user.ErrNotFound) || errors.Is(err, session.ErrNotFound) {
		return session.ErrRefreshInvalid
	}
	return err
}
