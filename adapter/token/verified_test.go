package token

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// TestVerifiedTokenCacheKeepsEveryRule: a token verified once is checked
// again from the cache, but expiry still applies, a token that differs in
// any byte is verified afresh, and a key set that no longer holds the
// signing key makes its tokens fail even though they were cached.
func TestVerifiedTokenCacheKeepsEveryRule(t *testing.T) {
	clock := &fakeNow{t: testNow()}
	store := &rotStore{}
	cfg := testConfig()
	cfg.ReloadInterval = time.Minute
	s, err := NewService(context.Background(), cfg, store, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Issue(sampleClaims(clock.now()))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.verified.len() != 1 {
		t.Fatalf("cache holds %d entries after one good token; want 1", s.verified.len())
	}
	again, err := s.Verify(raw)
	if err != nil || again.Subject != first.Subject || again.SessionID != first.SessionID ||
		!again.ExpiresAt.Equal(first.ExpiresAt) || strings.Join(again.Roles, ",") != "user,admin" {
		t.Fatalf("cached verify = %+v, %v; want %+v", again, err, first)
	}

	// Another signature on the same header and claims is not the cached token.
	dot := strings.LastIndexByte(raw, '.')
	sig := []byte(raw[dot+1:])
	sig[len(sig)/2] ^= 'A' ^ 'B'
	if _, err := s.Verify(raw[:dot+1] + string(sig)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("tampered signature after the good one was cached: %v", err)
	}
	if s.verified.len() != 1 {
		t.Fatal("a bad token was cached")
	}

	// Expiry is checked on every use.
	clock.add(15*time.Minute + time.Second)
	if _, err := s.Verify(raw); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("cached token after its exp: %v", err)
	}
	clock.add(-15*time.Minute - time.Second)

	// The key is withdrawn (an operator deletes it and signs with a new one):
	// once this instance reloads, its tokens are no longer accepted.
	var old []string
	for _, k := range store.keys {
		old = append(old, k.ID)
	}
	if _, err := s.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSigningKeys(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(raw); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("token of a withdrawn key, cached before: %v", err)
	}
}

// TestVerifiedTokenCacheIsBounded: past its bound the cache drops what is
// expired, then everything, and never grows beyond it.
func TestVerifiedTokenCacheIsBounded(t *testing.T) {
	c := newVerifiedCache()
	now := testNow()
	keys := &keySet{}
	pc := parsedClaims{ExpiresAt: numericDate{unix: now.Add(time.Minute).Unix(), set: true}}
	for i := range verifiedCacheSize + 10 {
		var sum [32]byte
		sum[0], sum[1], sum[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(sum, keys, pc, now)
		if c.len() > verifiedCacheSize {
			t.Fatalf("cache grew to %d entries; bound %d", c.len(), verifiedCacheSize)
		}
	}
	// An already expired token is not remembered at all.
	before := c.len()
	c.put([32]byte{0xff, 0xff, 0xff}, keys, parsedClaims{ExpiresAt: numericDate{unix: now.Unix(), set: true}}, now)
	if c.len() != before {
		t.Fatal("an expired token was cached")
	}
}

// TestVerifiedTokenCacheSweepFreesAnEighth: when a full cache's sweep of
// expired entries frees only a few, the cache starts over, so the next
// sweep (a walk of the whole map under its lock) is thousands of tokens
// away rather than a few puts.
func TestVerifiedTokenCacheSweepFreesAnEighth(t *testing.T) {
	c := newVerifiedCache()
	now := testNow()
	keys := &keySet{}
	live := parsedClaims{ExpiresAt: numericDate{unix: now.Add(time.Hour).Unix(), set: true}}
	soon := parsedClaims{ExpiresAt: numericDate{unix: now.Add(time.Second).Unix(), set: true}}
	for i := range verifiedCacheSize {
		var sum [32]byte
		sum[0], sum[1] = byte(i), byte(i>>8)
		pc := live
		if i < 3 {
			pc = soon
		}
		c.put(sum, keys, pc, now)
	}
	c.put([32]byte{0xff, 0xff, 0xff}, keys, live, now.Add(2*time.Second))
	if n := c.len(); n > verifiedCacheSize/8 {
		t.Fatalf("after a sweep that freed 3 of %d entries the cache holds %d; want it started over", verifiedCacheSize, n)
	}
}
