package auth

import (
	"crypto"
	"sort"
	"time"
)

// KeyState is where a signing key is in its life.
type KeyState string

// The key states, as published by the administration API.
const (
	// KeyNext is published ahead, not signing yet.
	KeyNext KeyState = "next"
	// KeyActive signs new tokens.
	KeyActive KeyState = "active"
	// KeyRetired no longer signs; it stays published until the last token
	// it signed has expired.
	KeyRetired KeyState = "retired"
)

// KeyStatus is a signing key's state at one instant.
type KeyStatus struct {
	Key   SigningKey
	State KeyState
	// RetiresAt is when the key stops (or stopped) signing: when the next
	// key activates. Zero while no later key exists.
	RetiresAt time.Time
	// Published reports whether the key belongs in the JWKS: next, active,
	// or retired for less than the retention.
	Published bool
	// UnpublishAt is when a retired key leaves the JWKS (RetiresAt plus the
	// retention); zero otherwise.
	UnpublishAt time.Time
}

// Schedule gives every key its state at now, ordered by ActivatesAt (then
// Generation, then ID). The active key is the last one whose ActivatesAt has come; when none
// has (clocks set back), the earliest one signs, as something must.
// retention is how long a retired key's tokens can still be valid: the
// access-token lifetime plus the clock leeway.
func Schedule(keys []SigningKey, now time.Time, retention time.Duration) []KeyStatus {
	out := make([]KeyStatus, len(keys))
	for i, k := range keys {
		out[i] = KeyStatus{Key: k}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if !a.ActivatesAt.Equal(b.ActivatesAt) {
			return a.ActivatesAt.Before(b.ActivatesAt)
		}
		if a.Generation != b.Generation {
			return a.Generation < b.Generation
		}
		return a.ID < b.ID
	})
	active := 0
	for i, s := range out {
		if !s.Key.ActivatesAt.After(now) {
			active = i
		}
	}
	for i := range out {
		s := &out[i]
		if i+1 < len(out) {
			s.RetiresAt = out[i+1].Key.ActivatesAt
		}
		switch {
		case i == active:
			s.State, s.Published = KeyActive, true
		case i > active:
			s.State, s.Published = KeyNext, true
		default:
			s.State = KeyRetired
			s.UnpublishAt = s.RetiresAt.Add(retention)
			s.Published = now.Before(s.UnpublishAt)
		}
	}
	return out
}

// RotationPolicy is the automatic rotation of database-managed keys.
type RotationPolicy struct {
	// Interval is how long each key signs; zero turns rotation off.
	Interval time.Duration
	// PublishAhead is how long a new key is published before it signs.
	PublishAhead time.Duration
}

// Due reports whether a new key should be added at now to the keys of
// sched (a Schedule), and when it should activate: when no key is waiting
// as next and the active key's interval ends within PublishAhead. The new
// key activates when that interval ends, never sooner than PublishAhead
// from now, so every instance and every cache has seen it before it signs.
func (p RotationPolicy) Due(sched []KeyStatus, now time.Time) (activatesAt time.Time, due bool) {
	if p.Interval <= 0 {
		return time.Time{}, false
	}
	var cur *KeyStatus
	for i := range sched {
		switch sched[i].State {
		case KeyNext:
			return time.Time{}, false
		case KeyActive:
			cur = &sched[i]
		}
	}
	if cur == nil {
		return time.Time{}, false
	}
	end := cur.Key.ActivatesAt.Add(p.Interval)
	if now.Before(end.Add(-p.PublishAhead)) {
		return time.Time{}, false
	}
	earliest := now.Add(p.PublishAhead)
	if end.Before(earliest) {
		end = earliest
	}
	return end, true
}

// Prunable lists the keys of sched that may be deleted from the store at
// now: retired and unpublished for longer than margin (so every instance
// has dropped them from its JWKS first).
func Prunable(sched []KeyStatus, now time.Time, margin time.Duration) []string {
	var out []string
	for _, s := range sched {
		if s.State == KeyRetired && !s.UnpublishAt.IsZero() && !now.Before(s.UnpublishAt.Add(margin)) {
			out = append(out, s.Key.ID)
		}
	}
	return out
}

// KeySigner is a private key that signs tokens now, with its kid and JOSE
// alg: what a signer outside the token adapter (the OpenID provider) uses.
type KeySigner struct {
	KID string
	Alg string
	Key crypto.Signer
}

// PublicKey is a public key that verifies tokens, with its kid and alg.
type PublicKey struct {
	KID string
	Alg string
	Key crypto.PublicKey
}
