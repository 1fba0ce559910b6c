package auth

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// liveCache remembers, for at most ttl, what the store said about a session,
// so that a burst of requests with one access token costs one lookup. It is
// per instance: a revocation made elsewhere is seen here at most ttl late
// (the contract allows at most one second), and a revocation made through
// this Service is seen at once, because it evicts the entry.
type liveCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]liveEntry
}

type liveEntry struct {
	sess    session.Session
	user    user.User
	fetched time.Time
}

// maxLiveEntries bounds the cache; past it the cache starts over, which
// costs at most one lookup per session.
const maxLiveEntries = 100_000

func newLiveCache(ttl time.Duration) *liveCache {
	if ttl <= 0 {
		return nil
	}
	return &liveCache{ttl: ttl, m: make(map[string]liveEntry)}
}

func (c *liveCache) get(id string, now time.Time) (liveEntry, bool) {
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

func (c *liveCache) put(s session.Session, u user.User, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxLiveEntries {
		c.m = make(map[string]liveEntry)
	}
	c.m[s.ID] = liveEntry{sess: s, user: u, fetched: now}
	c.mu.Unlock()
}

func (c *liveCache) evict(ids ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		delete(c.m, id)
	}
	c.mu.Unlock()
}

// evictUser drops every entry of userID's sessions.
func (c *liveCache) evictUser(userID string) {
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
