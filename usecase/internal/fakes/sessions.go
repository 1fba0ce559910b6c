package fakes

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

var (
	_ auth.SessionStore      = (*Sessions)(nil)
	_ account.SessionRevoker = (*Sessions)(nil)
)

// Sessions is the session and refresh-token store of a Store.
type Sessions struct{ s *Store }

// Create inserts a session and its first refresh token. The session's user
// must exist (foreign key).
func (r *Sessions) Create(ctx context.Context, sess session.Session, first session.RefreshToken) error {
	s := r.s
	defer s.access(ctx)()
	if _, ok := s.st.users[sess.UserID]; !ok {
		return fmt.Errorf("%w: session %s: no user %q", ErrConstraint, sess.ID, sess.UserID)
	}
	if _, ok := s.st.sessions[sess.ID]; ok || sess.ID == "" {
		return fmt.Errorf("%w: session id %q", ErrConstraint, sess.ID)
	}
	if first.SessionID != sess.ID {
		return fmt.Errorf("%w: token of session %q inserted with session %q", ErrConstraint, first.SessionID, sess.ID)
	}
	if _, ok := s.st.tokens[first.Hash]; ok {
		return fmt.Errorf("%w: duplicate refresh token hash", ErrConstraint)
	}
	s.st.sessions[sess.ID] = storedSession{s: sess, seq: s.nextSeq()}
	s.st.tokens[first.Hash] = copyToken(first)
	return nil
}

// ByID finds a session, revoked or not.
func (r *Sessions) ByID(ctx context.Context, id string) (session.Session, error) {
	s := r.s
	defer s.access(ctx)()
	ss, ok := s.st.sessions[id]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	return ss.s, nil
}

// LockByID implements auth.SessionStore; the fake's transactions are
// already serialised, so it is ByID.
func (r *Sessions) LockByID(ctx context.Context, id string) (session.Session, error) {
	return r.ByID(ctx, id)
}

// LockByRefreshHash finds the token with this hash and its session. Every
// transaction holds the store's lock, so the session is locked already.
func (r *Sessions) LockByRefreshHash(ctx context.Context, hash [32]byte) (session.Session, session.RefreshToken, error) {
	s := r.s
	defer s.access(ctx)()
	t, ok := s.st.tokens[hash]
	if !ok {
		return session.Session{}, session.RefreshToken{}, session.ErrRefreshInvalid
	}
	ss, ok := s.st.sessions[t.SessionID]
	if !ok {
		return session.Session{}, session.RefreshToken{}, session.ErrRefreshInvalid
	}
	s.locks.Add(1)
	return ss.s, copyToken(t), nil
}

// Rotate saves sess, marks used as rotated and inserts next. It fails with
// session.ErrConflict when used was rotated already or the session moved on
// since used was read, as a store with optimistic checks would.
func (r *Sessions) Rotate(ctx context.Context, sess session.Session, used, next session.RefreshToken) error {
	s := r.s
	defer s.access(ctx)()
	cur, ok := s.st.sessions[sess.ID]
	if !ok {
		return session.ErrNotFound
	}
	stored, ok := s.st.tokens[used.Hash]
	if !ok || stored.SessionID != sess.ID {
		return session.ErrRefreshInvalid
	}
	if !stored.RotatedAt.IsZero() || cur.s.Generation != stored.Generation {
		return session.ErrConflict
	}
	if used.RotatedAt.IsZero() || len(used.SuccessorSealed) == 0 {
		return fmt.Errorf("%w: rotated token without rotation time or sealed successor", ErrConstraint)
	}
	if next.SessionID != sess.ID || next.Generation != sess.Generation || next.Generation != stored.Generation+1 {
		return fmt.Errorf("%w: successor generation %d of session at %d (used %d)", ErrConstraint, next.Generation, sess.Generation, stored.Generation)
	}
	if _, ok := s.st.tokens[next.Hash]; ok {
		return fmt.Errorf("%w: duplicate refresh token hash", ErrConstraint)
	}
	stored.RotatedAt = used.RotatedAt
	stored.SuccessorSealed = slices.Clone(used.SuccessorSealed)
	s.st.tokens[used.Hash] = stored
	s.st.tokens[next.Hash] = copyToken(next)
	cur.s = mergeSession(cur.s, sess)
	s.st.sessions[sess.ID] = cur
	s.rotations.Add(1)
	return nil
}

// Save writes the mutable fields of sess.
func (r *Sessions) Save(ctx context.Context, sess session.Session) error {
	s := r.s
	defer s.access(ctx)()
	cur, ok := s.st.sessions[sess.ID]
	if !ok {
		return session.ErrNotFound
	}
	cur.s = mergeSession(cur.s, sess)
	s.st.sessions[sess.ID] = cur
	return nil
}

// mergeSession applies the mutable fields of in to stored; ID, user and
// creation time never change.
func mergeSession(stored, in session.Session) session.Session {
	stored.LastUsedAt = in.LastUsedAt
	stored.IdleExpiresAt = in.IdleExpiresAt
	stored.AbsoluteExpiresAt = in.AbsoluteExpiresAt
	stored.AuthTime = in.AuthTime
	stored.RevokedAt = in.RevokedAt
	stored.RevokeReason = in.RevokeReason
	stored.UserAgent = in.UserAgent
	stored.IP = in.IP
	stored.Generation = in.Generation
	return stored
}

// RevokeAllForUser revokes every active session of userID except exceptID
// and returns the revoked IDs, sorted.
func (r *Sessions) RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error) {
	s := r.s
	defer s.access(ctx)()
	var ids []string
	for id, ss := range s.st.sessions {
		if ss.s.UserID != userID || id == exceptID || !ss.s.Active(now) {
			continue
		}
		ss.s.Revoke(now, reason)
		s.st.sessions[id] = ss
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// ListActive lists userID's sessions active at now, newest first.
func (r *Sessions) ListActive(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	s := r.s
	defer s.access(ctx)()
	var list []storedSession
	for _, ss := range s.st.sessions {
		if ss.s.UserID == userID && ss.s.Active(now) {
			list = append(list, ss)
		}
	}
	slices.SortFunc(list, func(a, b storedSession) int {
		if c := b.s.CreatedAt.Compare(a.s.CreatedAt); c != 0 {
			return c
		}
		return int(b.seq - a.seq)
	})
	out := make([]session.Session, len(list))
	for i, ss := range list {
		out[i] = ss.s
	}
	return out, nil
}

// PurgeExpired deletes sessions (with their refresh tokens) that were revoked
// or expired more than retention before now, batch by batch, and returns how
// many it deleted.
func (r *Sessions) PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error) {
	if batch < 1 {
		return 0, fmt.Errorf("fakes: PurgeExpired batch %d", batch)
	}
	total := 0
	for {
		n := r.purgeBatch(ctx, now, retention, batch)
		total += n
		if n < batch {
			return total, nil
		}
	}
}

func (r *Sessions) purgeBatch(ctx context.Context, now time.Time, retention time.Duration, batch int) int {
	s := r.s
	defer s.access(ctx)()
	n := 0
	for id, ss := range s.st.sessions {
		if n == batch {
			break
		}
		ended := ss.s.ExpiresAt()
		if ss.s.Revoked() && ss.s.RevokedAt.Before(ended) {
			ended = ss.s.RevokedAt
		}
		if now.Sub(ended) <= retention {
			continue
		}
		delete(s.st.sessions, id)
		n++
	}
	for h, t := range s.st.tokens {
		if _, ok := s.st.sessions[t.SessionID]; !ok {
			delete(s.st.tokens, h)
		}
	}
	return n
}

// RotateCurrent implements auth.SessionStore by declining, so the use-case
// tests exercise the locked path, where the domain policy decides; the
// persistence suite checks the real fast path against it.
func (r *Sessions) RotateCurrent(context.Context, auth.RotateInput) (session.Session, user.User, bool, error) {
	return session.Session{}, user.User{}, false, nil
}

// WithUser implements auth.SessionStore.
func (r *Sessions) WithUser(ctx context.Context, id string) (session.Session, user.User, error) {
	sess, err := r.ByID(ctx, id)
	if err != nil {
		return session.Session{}, user.User{}, err
	}
	u, err := r.s.Users.ByID(ctx, sess.UserID)
	if err != nil {
		return session.Session{}, user.User{}, session.ErrNotFound
	}
	return sess, u, nil
}
