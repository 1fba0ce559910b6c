package token

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// Reload re-reads the key set from the store. Every instance runs it every
// JWT_KEY_RELOAD_INTERVAL, so a key another instance added is known here
// long before it signs (it is published JWT_KEY_PUBLISH_AHEAD early). A
// failed reload keeps the keys in force.
func (s *Service) Reload(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	stored, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("token: key store: %w", err)
	}
	if len(stored) == 0 && s.cfg.Lazy {
		s.keys.Store(emptyKeySet())
		s.lastReload.Store(s.now().UnixNano())
		return nil
	}
	ks, err := newStoredKeySet(stored, s.now(), s.retention())
	if err != nil {
		return fmt.Errorf("token: key store: %w", err)
	}
	s.keys.Store(ks)
	s.lastReload.Store(s.now().UnixNano())
	return nil
}

// reloadForKID reloads once for a token naming an unknown kid, unless a
// reload happened within unknownKIDReload, and looks the kid up again.
func (s *Service) reloadForKID(kid string) (*key, bool) {
	if s.store == nil || s.now().UnixNano()-s.lastReload.Load() < int64(unknownKIDReload) {
		return nil, false
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	// Requests that waited here find what the first one loaded.
	if k, ok := s.current().byKID[kid]; ok {
		return k, true
	}
	if s.now().UnixNano()-s.lastReload.Load() < int64(unknownKIDReload) {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Counted as a reload even when it fails, so an unreachable store is
	// not asked again on every such token.
	s.lastReload.Store(s.now().UnixNano())
	if err := s.Reload(ctx); err != nil {
		return nil, false
	}
	k, ok := s.current().byKID[kid]
	return k, ok
}

// Keys reloads the key set and returns every key's state now, ordered by
// activation. For keys from a file, the first is active and the others
// retired (they only verify).
func (s *Service) Keys(ctx context.Context) ([]auth.KeyStatus, error) {
	if s.store == nil {
		ks := s.current()
		out := make([]auth.KeyStatus, 0, len(ks.byKID))
		out = append(out, auth.KeyStatus{Key: auth.SigningKey{ID: ks.signing.kid, Algorithm: ks.signing.alg.String()}, State: auth.KeyActive, Published: true})
		for kid, k := range ks.byKID {
			if kid != ks.signing.kid {
				out = append(out, auth.KeyStatus{Key: auth.SigningKey{ID: kid, Algorithm: k.alg.String()}, State: auth.KeyRetired, Published: true})
			}
		}
		return out, nil
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return auth.Schedule(s.current().stored, s.now(), s.retention()), nil
}

// Rotate adds a new key that starts signing JWT_KEY_PUBLISH_AHEAD from now
// and returns it (state next). Nobody is logged out: the active key keeps
// signing until then, and stays published until its last token expires.
func (s *Service) Rotate(ctx context.Context) (auth.KeyStatus, error) {
	return s.add(ctx, func([]auth.KeyStatus) (time.Time, bool) { return s.now().Add(s.cfg.PublishAhead), true })
}

// RotateIfDue is the automatic rotation, run on every instance: it adds the
// next key when the policy says so (one instance wins, the others find the
// key there), then deletes keys whose last token expired long ago. It
// reports the key it added, if any.
func (s *Service) RotateIfDue(ctx context.Context) (*auth.KeyStatus, error) {
	if s.store == nil || s.current().signing == nil {
		// A lazy set (see Config.Lazy) starts rotating once it has a key.
		return nil, nil
	}
	policy := auth.RotationPolicy{Interval: s.cfg.RotationInterval, PublishAhead: s.cfg.PublishAhead}
	added, err := s.add(ctx, func(sched []auth.KeyStatus) (time.Time, bool) { return policy.Due(sched, s.now()) })
	if err != nil && !errors.Is(err, errNotDue) {
		return nil, err
	}
	sched := auth.Schedule(s.current().stored, s.now(), s.retention())
	// The margin lets every instance reload and drop the key from its JWKS
	// before the row goes.
	if gone := auth.Prunable(sched, s.now(), s.cfg.ReloadInterval+time.Minute); len(gone) > 0 {
		if err := s.store.DeleteSigningKeys(ctx, gone); err != nil {
			return nil, err
		}
		if err := s.Reload(ctx); err != nil {
			return nil, err
		}
	}
	if errors.Is(err, errNotDue) {
		return nil, nil
	}
	return &added, nil
}

var errNotDue = errors.New("rotation not due")

// add inserts a key of the next generation when decide says so, retrying
// when another instance took the generation meanwhile.
func (s *Service) add(ctx context.Context, decide func([]auth.KeyStatus) (time.Time, bool)) (auth.KeyStatus, error) {
	if s.store == nil {
		return auth.KeyStatus{}, ErrKeysFromFile
	}
	for range 3 {
		if err := s.Reload(ctx); err != nil {
			return auth.KeyStatus{}, err
		}
		now := s.now()
		stored := s.current().stored
		at, ok := decide(auth.Schedule(stored, now, s.retention()))
		if !ok {
			return auth.KeyStatus{}, errNotDue
		}
		gen := 0
		for _, k := range stored {
			gen = max(gen, k.Generation)
		}
		cand, err := newCandidate(now, s.cfg.Algorithm)
		if err != nil {
			return auth.KeyStatus{}, err
		}
		cand.Generation, cand.ActivatesAt = gen+1, at
		won, err := s.store.InsertSigningKey(ctx, cand)
		if err != nil {
			return auth.KeyStatus{}, fmt.Errorf("token: key store: %w", err)
		}
		if err := s.Reload(ctx); err != nil {
			return auth.KeyStatus{}, err
		}
		if won {
			for _, st := range auth.Schedule(s.current().stored, s.now(), s.retention()) {
				if st.Key.ID == cand.ID {
					return st, nil
				}
			}
		}
	}
	return auth.KeyStatus{}, errors.New("token: rotation lost three races for the next generation")
}

// JWKSMaxAge is the Cache-Control max-age that fits the rotation: a cache
// that fetched the set just before a key was added still fetches again
// before that key signs (PublishAhead minus the reload delay, halved for
// margin, at most 15 minutes). Keys from a file change only on restart:
// five minutes.
func (s *Service) JWKSMaxAge() time.Duration {
	if s.store == nil {
		return 5 * time.Minute
	}
	d := (s.cfg.PublishAhead - s.cfg.ReloadInterval) / 2
	return min(max(d, 0), 15*time.Minute).Truncate(time.Second)
}
