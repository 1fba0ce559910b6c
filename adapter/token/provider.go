package token

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// What the OpenID provider needs of a key set: the private key that signs
// now, every public key, and for a lazy set, a first key on demand.

// SignerAt returns the key that signs at t; false while a lazy set is
// still empty.
func (s *Service) SignerAt(t time.Time) (auth.KeySigner, bool) {
	k := s.current().signingAt(t)
	if k == nil {
		return auth.KeySigner{}, false
	}
	return auth.KeySigner{KID: k.kid, Alg: k.alg.String(), Key: k.private}, true
}

// PublicKeys returns every key of the set in force.
func (s *Service) PublicKeys() []auth.PublicKey {
	ks := s.current()
	out := make([]auth.PublicKey, 0, len(ks.byKID))
	for _, k := range ks.byKID {
		out = append(out, auth.PublicKey{KID: k.kid, Alg: k.alg.String(), Key: k.public})
	}
	return out
}

// PublicKeyByKID finds a public key by kid. A kid this instance does not
// know makes it look again, as Verify does (at most every 10 s), and at once
// (at most every 100 ms) while a lazy set is still empty here: another
// instance may have made the first key a moment ago.
func (s *Service) PublicKeyByKID(kid string) (auth.PublicKey, bool) {
	k, ok := s.current().byKID[kid]
	if !ok && s.store != nil {
		if s.current().signing == nil {
			s.LoadIfEmpty()
			k, ok = s.current().byKID[kid]
		} else {
			k, ok = s.reloadForKID(kid)
		}
	}
	if !ok {
		return auth.PublicKey{}, false
	}
	return auth.PublicKey{KID: k.kid, Alg: k.alg.String(), Key: k.public}, true
}

// emptyReload bounds how often an empty lazy set looks in the store.
const emptyReload = 100 * time.Millisecond

// LoadIfEmpty reloads a lazy set that has no key yet (another instance may
// have made one), at most every 100 ms.
func (s *Service) LoadIfEmpty() {
	if s.store == nil || s.current().signing != nil {
		return
	}
	last := s.lastEmpty.Load()
	now := s.now().UnixNano()
	if now-last < int64(emptyReload) || !s.lastEmpty.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.Reload(ctx)
}

// Ensure gives a lazy set its first key (the first instance to ask wins,
// every other one reads it back) and reloads. It does nothing when the set
// has a key.
func (s *Service) Ensure(ctx context.Context) error {
	if s.current().signing != nil || s.store == nil {
		return nil
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return err
	}
	if s.current().signing != nil {
		return nil
	}
	cand, err := newCandidate(s.now(), s.cfg.Algorithm)
	if err != nil {
		return err
	}
	if _, err := s.store.EnsureSigningKey(ctx, cand); err != nil {
		return fmt.Errorf("token: key store: ensure signing key: %w", err)
	}
	return s.Reload(ctx)
}

// emptyKeySet is a lazy set before its first key.
func emptyKeySet() *keySet {
	return &keySet{byKID: map[string]*key{}, jwks: []byte(`{"keys":[]}`)}
}
