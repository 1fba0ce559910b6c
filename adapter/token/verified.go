package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCacheSize bounds the verified-token cache: about 300 bytes an
// entry, so a few MiB at most. A client uses its access token for every
// call until it expires, so a few thousand live tokens cover a busy
// instance; past the bound, expired entries go first, and everything when
// that frees less than an eighth.
const verifiedCacheSize = 8192

// verifiedCache remembers tokens whose signature held, so that the next
// request with the same token skips the signature check (an EdDSA
// verification is most of what checking a token costs). Only the signature
// and the decoding are skipped: the claim rules, expiry included, run on
// every use (checkClaims).
//
// Entries are keyed by the SHA-256 of the whole token, so a token differing
// in any byte (another signature on the same claims) is never served from
// here, and the cache holds no token, only its hash and what it said. An
// entry is good only under the key set it was verified with: when the set
// changes (rotation, reload, a key withdrawn), every entry made before is
// ignored, so a withdrawn key's tokens are checked against the new set.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	keys   *keySet
	claims parsedClaims
	exp    time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]verifiedEntry)}
}

// get returns the claims of a token verified under keys.
func (c *verifiedCache) get(sum [sha256.Size]byte, keys *keySet) (parsedClaims, bool) {
	c.mu.RLock()
	e, ok := c.entries[sum]
	c.mu.RUnlock()
	if !ok || e.keys != keys {
		return parsedClaims{}, false
	}
	return e.claims, true
}

// put remembers a verified token until its expiry.
func (c *verifiedCache) put(sum [sha256.Size]byte, keys *keySet, pc parsedClaims, now time.Time) {
	exp := pc.ExpiresAt.time()
	if !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedCacheSize {
		for k, e := range c.entries {
			if !now.Before(e.exp) || e.keys != keys {
				delete(c.entries, k)
			}
		}
		// A sweep that freed little would run again a few puts later, each
		// time over the whole map under the lock: start over instead, so a
		// sweep comes at most once per verifiedCacheSize/8 new tokens.
		if len(c.entries) > verifiedCacheSize-verifiedCacheSize/8 {
			clear(c.entries)
		}
	}
	c.entries[sum] = verifiedEntry{keys: keys, claims: pc, exp: exp}
}

// len is the number of entries, for tests.
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
