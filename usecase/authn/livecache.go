package authn

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// LivenessCache remembers, for at most its TTL, what the store said about a
// session, so that a burst of requests with one access token costs one
// lookup. It is per instance and shared by the interactors of the instance:
// Authenticator reads it, and every interactor that revokes sessions evicts
// them (and other packages' use cases call ForgetUser). A revocation made
// elsewhere is seen here at most a TTL late (the contract allows at most one
// second); one made on this instance is seen at once.
//
// A nil *LivenessCache, which NewLivenessCache returns for a TTL of zero,
// caches nothing.
type LivenessCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]liveEntry
	// sweepAt is the size at which put next drops the entries older than
	// the TTL.
	sweepAt int
}

type liveEntry struct {
	sess    session.Liveness
	user    user.User
	fetched time.Time
}

// maxLiveEntries bounds the cache; past it the cache starts over, which
// costs at most one lookup per session.
const maxLiveEntries = 100_000

// liveSweepFloor is the smallest size at which the cache sweeps: entries
// older than the TTL are never served again, so a sweep keeps the cache at
// the sessions seen within one TTL (bounded by the request rate), not at
// every session seen since start (bounded only by the number of sessions
// in the database, up to maxLiveEntries).
const liveSweepFloor = 1024

// NewLivenessCache returns a cache that trusts an answer for ttl (at most a
// second, by contract); nil, which caches nothing, when ttl is not positive.
func NewLivenessCache(ttl time.Duration) *LivenessCache {
	if ttl <= 0 {
		return nil
	}
	return &LivenessCache{ttl: ttl, m: make(map[string]liveEntry), sweepAt: liveSweepFloor}
}

func (c *LivenessCache) get(id string, now time.Time) (liveEntry, bool) {
	if c == nil {
		return liveEntry{}, false
	}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || now.Sub(e.fetched) >= c.ttl || now.Before(e.fetched) {
		return liveEntry{}, false
	}
	return e, true
}

func (c *LivenessCache) put(s session.Liveness, u user.User, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.sweepAt {
		for id, e := range c.m {
			if now.Sub(e.fetched) >= c.ttl || now.Before(e.fetched) {
				delete(c.m, id)
			}
		}
		// The next sweep waits until the cache has doubled: a sweep
		// costs O(1) per put however many entries stay.
		c.sweepAt = max(liveSweepFloor, 2*len(c.m))
	}
	if len(c.m) >= maxLiveEntries {
		c.m = make(map[string]liveEntry)
	}
	c.m[s.ID] = liveEntry{sess: s, user: u, fetched: now}
	c.mu.Unlock()
}

// Evict forgets these sessions, so their next use on this instance reads
// the store: for revocations made outside this package (the OpenID
// provider's client sessions).
func (c *LivenessCache) Evict(ids ...string) { c.evict(ids...) }

func (c *LivenessCache) evict(ids ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		delete(c.m, id)
	}
	c.mu.Unlock()
}

// ForgetUser drops every entry of userID's sessions, for use cases that
// revoke or delete them (password change or reset, account deletion), so
// this instance sees that at once.
func (c *LivenessCache) ForgetUser(userID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for id, e := range c.m {
		if e.sess.UserID == userID {
			delete(c.m, id)
		}
	}
	c.mu.Unlock()
}
