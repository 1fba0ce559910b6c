package auth

import (
	"context"
	"time"
)

// Ended sessions are kept this long before they are purged, so that a late
// presentation of one of their refresh tokens is still recognised (and so
// operators can look at a recent revocation) before the rows go.
const (
	purgeRetention = 24 * time.Hour
	purgeBatch     = 500
)

// PurgeEnded deletes sessions that ended more than a day ago, so the tables
// do not grow without bound, and erases sealed successors whose grace
// interval has passed.
func (s *Service) PurgeEnded(ctx context.Context) (int, error) {
	n, err := s.d.Sessions.PurgeExpired(ctx, s.now(), purgeRetention, purgeBatch)
	if err != nil {
		return n, err
	}
	// A sealed successor past its grace interval opens nothing any more
	// for a legitimate client; erased, it opens nothing for a thief either.
	if _, err := s.d.Sessions.EraseSealed(ctx, s.now().Add(-s.policy.ReuseGrace), purgeBatch); err != nil {
		return n, err
	}
	if s.d.MFAChallenges != nil {
		m, err := s.d.MFAChallenges.PurgeExpired(ctx, s.now().Add(-purgeRetention))
		n += m
		if err != nil {
			return n, err
		}
	}
	if s.d.Throttle == nil {
		return n, err
	}
	// A throttle record matters for at most a window plus a lockout after
	// its last failure.
	p := s.d.ThrottlePolicy
	m, err := s.d.Throttle.PurgeStale(ctx, s.now().Add(-p.Window-p.Lockout))
	return n + m, err
}
