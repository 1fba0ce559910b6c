package authn

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
)

// Ended sessions are kept this long before they are purged, so that a late
// presentation of one of their refresh tokens is still recognised (and so
// operators can look at a recent revocation) before the rows go.
const (
	purgeRetention = 24 * time.Hour
	purgeBatch     = 500
)

// Purger keeps the tables of authentication small: ended sessions, sealed
// successors past their grace interval, expired pending logins and stale
// throttle records. The background scheduler runs it on every instance; its
// deletes are idempotent.
type Purger struct {
	sessions   SessionPurger
	challenges ChallengePurger
	gate       *PasswordGate
	clock      Clock
	policy     session.Policy
}

// NewPurger returns a Purger. challenges and gate may be nil (nothing of
// theirs to purge).
func NewPurger(sessions SessionPurger, challenges ChallengePurger, gate *PasswordGate, clock Clock, policy session.Policy) *Purger {
	return &Purger{sessions: sessions, challenges: challenges, gate: gate, clock: clock, policy: policy}
}

// PurgeEnded deletes sessions that ended more than a day ago, so the tables
// do not grow without bound, and erases sealed successors whose grace
// interval has passed.
func (p *Purger) PurgeEnded(ctx context.Context) (int, error) {
	n, err := p.sessions.PurgeExpired(ctx, nowUTC(p.clock), purgeRetention, purgeBatch)
	if err != nil {
		return n, err
	}
	// A sealed successor past its grace interval opens nothing any more
	// for a legitimate client; erased, it opens nothing for a thief either.
	if _, err := p.sessions.EraseSealed(ctx, nowUTC(p.clock).Add(-p.policy.ReuseGrace), purgeBatch); err != nil {
		return n, err
	}
	if p.challenges != nil {
		m, err := p.challenges.PurgeExpired(ctx, nowUTC(p.clock).Add(-purgeRetention))
		n += m
		if err != nil {
			return n, err
		}
	}
	m, err := p.gate.purgeStale(ctx)
	return n + m, err
}
