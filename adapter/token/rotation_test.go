package token

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// rotStore is an in-memory RotatingKeyStore: one key per generation.
type rotStore struct {
	mu   sync.Mutex
	keys []auth.SigningKey
}

var _ RotatingKeyStore = (*rotStore)(nil)

func (m *rotStore) EnsureSigningKey(ctx context.Context, c auth.SigningKey) ([]auth.SigningKey, error) {
	c.Generation = 1
	if _, err := m.InsertSigningKey(ctx, c); err != nil {
		return nil, err
	}
	return m.SigningKeys(ctx)
}

func (m *rotStore) SigningKeys(context.Context) ([]auth.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]auth.SigningKey(nil), m.keys...), nil
}

func (m *rotStore) InsertSigningKey(_ context.Context, k auth.SigningKey) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.Generation == k.Generation {
			return false, nil
		}
	}
	if k.ActivatesAt.IsZero() {
		k.ActivatesAt = k.CreatedAt
	}
	m.keys = append(m.keys, k)
	return true, nil
}

func (m *rotStore) DeleteSigningKeys(_ context.Context, kids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.keys[:0]
	for _, k := range m.keys {
		keep := true
		for _, d := range kids {
			keep = keep && k.ID != d
		}
		if keep {
			out = append(out, k)
		}
	}
	m.keys = out
	return nil
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

func jwksKIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("private material in the JWKS")
		}
		out = append(out, k.Kid)
	}
	sort.Strings(out)
	return out
}

func issueAt(t *testing.T, s *Service, now time.Time) (string, string) {
	t.Helper()
	tok, err := s.Issue(auth.Claims{Subject: "u", SessionID: "s", IssuedAt: now, AuthTime: now})
	if err != nil {
		t.Fatal(err)
	}
	var h joseHeader
	seg, _ := s.b64.DecodeString(tok[:indexByte(tok, '.')])
	_ = json.Unmarshal(seg, &h)
	return tok, h.Kid
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// Two instances on one store, a rotation on one of them: the new key is
// published before it signs, both sign with it once it activates, tokens of
// the old key verify until they expire, and then the old key leaves the set.
func TestRotationAcrossInstances(t *testing.T) {
	clock := &fakeNow{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	store := &rotStore{}
	cfg := Config{Issuer: "gh", Audience: "gh", TTL: 15 * time.Minute, PublishAhead: time.Hour,
		ReloadInterval: time.Minute, RotationInterval: 24 * time.Hour}
	a, err := NewService(context.Background(), cfg, store, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewService(context.Background(), cfg, store, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	old, oldKID := issueAt(t, a, clock.now())
	if got := jwksKIDs(t, b.JWKS()); len(got) != 1 || got[0] != oldKID {
		t.Fatalf("before: %v", got)
	}

	next, err := a.Rotate(context.Background())
	if err != nil || next.State != auth.KeyNext {
		t.Fatalf("rotate: %+v %v", next, err)
	}
	if _, kid := issueAt(t, a, clock.now()); kid != oldKID {
		t.Fatal("the next key signed before its time")
	}
	if got := jwksKIDs(t, a.JWKS()); len(got) != 2 {
		t.Fatalf("next key not published ahead: %v", got)
	}
	// b learns of it on its reload.
	if err := b.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, b.JWKS()); len(got) != 2 {
		t.Fatalf("b after reload: %v", got)
	}

	clock.add(time.Hour)
	during, kid := issueAt(t, b, clock.now())
	if kid != next.Key.ID {
		t.Fatalf("after activation b signs with %s, want %s", kid, next.Key.ID)
	}
	for _, s := range []*Service{a, b} {
		for _, tok := range []string{during} {
			if _, err := s.Verify(tok); err != nil {
				t.Fatalf("new token: %v", err)
			}
		}
	}
	// A token of the old key minted just before the switch still verifies.
	clock.add(-time.Second)
	late, kid := issueAt(t, a, clock.now())
	clock.add(time.Second)
	if kid != oldKID {
		t.Fatal("old key should sign before the switch")
	}
	if _, err := b.Verify(late); err != nil {
		t.Fatalf("old-key token after the switch: %v", err)
	}
	if _, err := a.Verify(old); err == nil {
		t.Fatal("the very first token is an hour old and should have expired")
	}

	clock.add(15*time.Minute - 2*time.Second)
	if got := jwksKIDs(t, a.JWKS()); len(got) != 2 {
		t.Fatalf("old key left before its last token expired: %v", got)
	}
	clock.add(2 * time.Second)
	if got := jwksKIDs(t, a.JWKS()); len(got) != 1 || got[0] != next.Key.ID {
		t.Fatalf("old key still published after its last token expired: %v", got)
	}

	// Statuses as the admin API shows them.
	st, err := b.Keys(context.Background())
	if err != nil || len(st) != 2 || st[0].State != auth.KeyRetired || st[1].State != auth.KeyActive {
		t.Fatalf("keys: %+v %v", st, err)
	}
}

// An instance that has not reloaded yet verifies a token of a key it does
// not know after one immediate reload; garbage kids do not reload again
// within ten seconds.
func TestUnknownKIDReloads(t *testing.T) {
	clock := &fakeNow{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	store := &rotStore{}
	cfg := Config{Issuer: "gh", Audience: "gh", TTL: 15 * time.Minute, ReloadInterval: time.Minute}
	a, _ := NewService(context.Background(), cfg, store, clock.now)
	b, _ := NewService(context.Background(), cfg, store, clock.now)
	// Publish-ahead zero: a signs with the new key at once.
	if _, err := a.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok, _ := issueAt(t, a, clock.now())
	if _, err := b.Verify(tok); err == nil {
		t.Fatal("b verified within 10s of its last reload")
	}
	clock.add(11 * time.Second)
	tok, _ = issueAt(t, a, clock.now())
	if _, err := b.Verify(tok); err != nil {
		t.Fatalf("b after the rate limit: %v", err)
	}
}

func TestRotateIfDueOneInstanceWins(t *testing.T) {
	clock := &fakeNow{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	store := &rotStore{}
	cfg := Config{Issuer: "gh", Audience: "gh", TTL: 15 * time.Minute, PublishAhead: time.Hour,
		ReloadInterval: time.Minute, RotationInterval: 24 * time.Hour}
	var svcs []*Service
	for range 3 {
		s, err := NewService(context.Background(), cfg, store, clock.now)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
	}
	clock.add(22 * time.Hour)
	for _, s := range svcs {
		if k, err := s.RotateIfDue(context.Background()); err != nil || k != nil {
			t.Fatalf("rotated early: %v %v", k, err)
		}
	}
	clock.add(time.Hour)
	added := 0
	for _, s := range svcs {
		k, err := s.RotateIfDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k != nil {
			added++
		}
	}
	if keys, _ := store.SigningKeys(context.Background()); added != 1 || len(keys) != 2 {
		t.Fatalf("added %d, store holds %d", added, len(keys))
	}
	// A day later the first key's tokens are long gone: pruned from the store.
	clock.add(26 * time.Hour)
	if _, err := svcs[0].RotateIfDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, _ := store.SigningKeys(context.Background())
	for _, k := range keys {
		if k.Generation == 1 {
			t.Fatal("retired key not pruned")
		}
	}
	if s := svcs[1]; s.JWKSMaxAge() != 15*time.Minute {
		t.Fatalf("max-age %s", s.JWKSMaxAge())
	}
}
