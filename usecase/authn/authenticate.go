package authn

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
)

// Authenticator checks access tokens on every request: the per-request hot
// path. It reads the LivenessCache; what revokes sessions evicts them.
type Authenticator struct {
	verifier TokenVerifier
	sessions SessionLivenessReader
	clock    Clock
	live     *LivenessCache
}

// NewAuthenticator returns an Authenticator; live may be nil (no cache).
func NewAuthenticator(verifier TokenVerifier, sessions SessionLivenessReader, clock Clock, live *LivenessCache) *Authenticator {
	return &Authenticator{verifier: verifier, sessions: sessions, clock: clock, live: live}
}

// Authenticate verifies an access token and checks that its session is still
// live, so a revoked session's tokens stop working at once on every instance
// that shares the store. This is the per-request hot path: one signature
// check and one primary-key lookup.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (auth.Principal, error) {
	if raw == "" {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	c, err := a.verifier.Verify(raw)
	if err != nil {
		return auth.Principal{}, err
	}
	now := nowUTC(a.clock)
	e, cached := a.live.get(c.SessionID, now)
	if !cached {
		e.sess, e.user, err = a.sessions.Liveness(ctx, c.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return auth.Principal{}, auth.ErrSessionRevoked
		}
		if err != nil {
			return auth.Principal{}, err
		}
		a.live.put(e.sess, e.user, now)
	}
	if e.sess.UserID != c.Subject || !e.sess.Active(now) {
		return auth.Principal{}, auth.ErrSessionRevoked
	}
	return auth.Principal{Claims: c, User: e.user}, nil
}
