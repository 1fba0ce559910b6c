package fakes

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

var (
	_ authn.SessionStore     = (*Sessions)(nil)
	_ account.SessionRevoker = (*Sessions)(nil)
)

// Sessions is the session store of a Store.
type Sessions struct{ s *Store }

// legacyToken is what the store kept of a token issued before the
// authenticated format.
type legacyToken struct {
	sessionID  string
	generation int64
}

// Create inserts a session. The session's user must exist (foreign key).
func (r *Sessions) Create(ctx context.Context, sess session.Session) error {
	s := r.s
	defer s.access(ctx)()
	if _, ok := s.st.users[sess.UserID]; !ok {
		return user.ErrNotFound
	}
	if _, ok := s.st.sessions[sess.ID]; ok || sess.ID == "" {
		return fmt.Errorf("%w: session id %q", ErrConstraint, sess.ID)
	}
	if sess.TokenHash == ([32]byte{}) {
		return fmt.Errorf("%w: session %s without a token hash", ErrConstraint, sess.ID)
	}
	s.st.sessions[sess.ID] = storedSession{s: copySession(sess), seq: s.nextSeq()}
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
	return copySession(ss.s), nil
}

// Update implements authn.SessionUpdater. Every transaction holds the
// store's lock, so the session is locked already; the write happens only
// when fn changed something, as the real stores do.
func (r *Sessions) Update(ctx context.Context, id string, fn func(*session.Session) error) error {
	return r.s.WithinTx(ctx, func(ctx context.Context) error {
		ss, err := r.locked(ctx, id)
		if err != nil {
			return err
		}
		before := copySession(ss.s)
		after := copySession(ss.s)
		if err := fn(&after); err != nil {
			return err
		}
		if after.ID != before.ID || after.UserID != before.UserID || !after.CreatedAt.Equal(before.CreatedAt) {
			return fmt.Errorf("%w: update changed id, user or creation time", ErrConstraint)
		}
		if reflect.DeepEqual(after, before) {
			return nil
		}
		s := r.s
		defer s.access(ctx)()
		if after.Generation > before.Generation {
			s.rotations.Add(1)
		}
		ss.s = copySession(after)
		s.st.sessions[id] = ss
		return nil
	})
}

func (r *Sessions) locked(ctx context.Context, id string) (storedSession, error) {
	s := r.s
	defer s.access(ctx)()
	ss, ok := s.st.sessions[id]
	if !ok {
		return storedSession{}, session.ErrNotFound
	}
	s.locks.Add(1)
	return ss, nil
}

// RotateCurrent implements authn.RefreshRotator's fast path through the
// domain policy itself: it rotates exactly when Decide says Rotate. The
// contract suite holds the real stores' one-statement versions to it.
func (r *Sessions) RotateCurrent(ctx context.Context, in authn.RotateInput) (session.Session, user.User, bool, error) {
	s := r.s
	defer s.access(ctx)()
	ss, ok := s.st.sessions[in.Token.SessionID]
	if !ok || in.Policy.Decide(ss.s, in.Token, in.Now) != session.Rotate {
		return session.Session{}, user.User{}, false, nil
	}
	u, ok := s.st.users[ss.s.UserID]
	if !ok {
		return session.Session{}, user.User{}, false, nil
	}
	in.Policy.Rotate(&ss.s, in.Next, slices.Clone(in.SuccessorSealed), in.Now, in.UserAgent, in.IP)
	s.st.sessions[ss.s.ID] = ss
	s.rotations.Add(1)
	s.fastRotations.Add(1)
	pub := copyUser(u)
	pub.PasswordSet, pub.PasswordHash = pub.HasPassword(), ""
	return copySession(ss.s), pub, true, nil
}

// LegacyToken implements authn.RefreshRotator.
func (r *Sessions) LegacyToken(ctx context.Context, hash [32]byte) (string, int64, error) {
	s := r.s
	defer s.access(ctx)()
	t, ok := s.st.legacy[hash]
	if !ok {
		return "", 0, session.ErrRefreshInvalid
	}
	return t.sessionID, t.generation, nil
}

// SeedLegacy stores the hash of a token of generation gen issued in
// session sessionID before the authenticated format, as the migration left
// them.
func (s *Store) SeedLegacy(sessionID string, gen int64, hash [32]byte) {
	defer s.inspect()()
	s.st.legacy[hash] = legacyToken{sessionID: sessionID, generation: gen}
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

// activeNewestFirst returns userID's sessions active at now, in listing
// order: creation time, then ID, both descending (as the real stores).
func (s *Store) activeNewestFirst(userID string, now time.Time) []session.Session {
	var list []session.Session
	for _, ss := range s.st.sessions {
		if ss.s.UserID == userID && ss.s.Active(now) {
			list = append(list, copySession(ss.s))
		}
	}
	slices.SortFunc(list, func(a, b session.Session) int {
		if c := b.CreatedAt.Truncate(time.Microsecond).Compare(a.CreatedAt.Truncate(time.Microsecond)); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return list
}

// ListActive implements authn.SessionLister.
func (r *Sessions) ListActive(ctx context.Context, userID string, now time.Time, cursor string, limit int) (session.Page, error) {
	s := r.s
	defer s.access(ctx)()
	list := s.activeNewestFirst(userID, now)
	if cursor != "" {
		c, err := session.ParseCursor(cursor)
		if err != nil {
			return session.Page{}, err
		}
		i := slices.IndexFunc(list, c.Before)
		if i < 0 {
			i = len(list)
		}
		list = list[i:]
	}
	var page session.Page
	if len(list) > limit {
		page.NextCursor = session.CursorAfter(list[limit-1])
		list = list[:limit]
	}
	page.Sessions = list
	return page, nil
}

// RevokeBeyond implements authn.SessionCapper.
func (r *Sessions) RevokeBeyond(ctx context.Context, userID string, keep int, reason string, now time.Time) ([]string, error) {
	s := r.s
	defer s.access(ctx)()
	list := s.activeNewestFirst(userID, now)
	var ids []string
	for _, sess := range list[min(keep, len(list)):] {
		ss := s.st.sessions[sess.ID]
		ss.s.Revoke(now, reason)
		s.st.sessions[sess.ID] = ss
		ids = append(ids, sess.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// PurgeExpired deletes sessions (with their legacy tokens) that were revoked
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
	for h, t := range s.st.legacy {
		if _, ok := s.st.sessions[t.sessionID]; !ok {
			delete(s.st.legacy, h)
		}
	}
	return n
}

// EraseSealed implements authn.SessionPurger.
func (r *Sessions) EraseSealed(ctx context.Context, before time.Time, _ int) (int, error) {
	s := r.s
	defer s.access(ctx)()
	n := 0
	for id, ss := range s.st.sessions {
		if len(ss.s.SuccessorSealed) > 0 && ss.s.RotatedAt.Before(before) {
			ss.s.SuccessorSealed = nil
			s.st.sessions[id] = ss
			n++
		}
	}
	return n, nil
}

// WithUser implements authn.SessionAuthenticator.
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

// Liveness implements authn.SessionLivenessReader.
func (r *Sessions) Liveness(ctx context.Context, id string) (session.Liveness, user.User, error) {
	sess, u, err := r.WithUser(ctx, id)
	if err != nil {
		return session.Liveness{}, user.User{}, err
	}
	u.PasswordSet, u.PasswordHash = u.HasPassword(), ""
	return sess.Liveness(), u, nil
}

func copySession(s session.Session) session.Session {
	s.SuccessorSealed = slices.Clone(s.SuccessorSealed)
	return s
}
