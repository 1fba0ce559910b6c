package persistence_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/internal/sealbox"
)

func candidate(i int) auth.SigningKey {
	return auth.SigningKey{
		ID: fmt.Sprintf("kid-%02d", i), Algorithm: "EdDSA",
		PrivateKeyPEM: []byte(fmt.Sprintf("-----BEGIN PRIVATE KEY-----\nkey %d\n-----END PRIVATE KEY-----\n", i)),
		CreatedAt:     base.Add(time.Duration(i) * time.Second),
	}
}

func TestEnsureSigningKeyConcurrently(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		const n = 10
		warmPool(t, s, n)
		results := make([][]auth.SigningKey, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.keys.EnsureSigningKey(context.Background(), candidate(i))
			})
		}
		close(start)
		wg.Wait()
		var first auth.SigningKey
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("instance %d: %v", i, errs[i])
			}
			if len(results[i]) != 1 {
				t.Fatalf("instance %d got %d keys, want 1", i, len(results[i]))
			}
			if i == 0 {
				first = results[0][0]
			}
			equal(t, fmt.Sprintf("instance %d's key", i), results[i][0], first)
		}
		var winner int
		if _, err := fmt.Sscanf(first.ID, "kid-%d", &winner); err != nil {
			t.Fatal(err)
		}
		want := candidate(winner)
		want.CreatedAt = norm(want.CreatedAt)
		want.ActivatesAt, want.Generation = want.CreatedAt, 1
		equal(t, "stored key", first, want)

		// Later starts keep the first key.
		again, err := s.keys.EnsureSigningKey(context.Background(), candidate(99))
		if err != nil || len(again) != 1 || again[0].ID != first.ID {
			t.Fatalf("later start: %+v, %v", again, err)
		}
		// Keys added otherwise (rotation by an operator) follow the first.
		if err := s.db.Exec("INSERT INTO signing_keys (kid, alg, private_key_pem, created_at) VALUES (?, ?, ?, ?)",
			"kid-old", "EdDSA", "pem", base.Add(-time.Hour).UTC()).Error; err != nil {
			t.Fatal(err)
		}
		all, err := s.keys.EnsureSigningKey(context.Background(), candidate(98))
		if err != nil || len(all) != 2 || all[0].ID != first.ID || all[1].ID != "kid-old" {
			t.Fatalf("with a second key: %+v, %v", all, err)
		}
		if _, err := s.keys.EnsureSigningKey(context.Background(), auth.SigningKey{}); err == nil {
			t.Fatal("empty candidate accepted")
		}
	})
}

// Instances rotating at once add one key per generation, not one each.
func TestInsertSigningKeyOnePerGeneration(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		if _, err := s.keys.EnsureSigningKey(ctx, candidate(1)); err != nil {
			t.Fatal(err)
		}
		const n = 8
		warmPool(t, s, n)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k := candidate(10 + i)
				k.Generation = 2
				k.ActivatesAt = base.Add(time.Hour)
				ok, err := s.keys.InsertSigningKey(ctx, k)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d inserts won generation 2, want 1", won.Load())
		}
		all, err := s.keys.SigningKeys(ctx)
		if err != nil || len(all) != 2 || all[1].Generation != 2 || !all[1].ActivatesAt.Equal(norm(base.Add(time.Hour))) {
			t.Fatalf("keys: %+v %v", all, err)
		}
		if err := s.keys.DeleteSigningKeys(ctx, []string{all[0].ID}); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.keys.SigningKeys(ctx); len(left) != 1 || left[0].ID != all[1].ID {
			t.Fatalf("after delete: %+v", left)
		}
	})
}

// With DATA_ENCRYPTION_KEY, no private key is in the table in plain text:
// keys written earlier are sealed on the first start that has the key, and
// a changed key can open old rows only while the old key is still given.
func TestSigningKeysSealedAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		plain, err := s.keys.EnsureSigningKey(ctx, candidate(1))
		if err != nil {
			t.Fatal(err)
		}
		raw := func() string {
			var pem string
			if err := s.db.Raw("SELECT private_key_pem FROM signing_keys WHERE kid = ?", plain[0].ID).Row().Scan(&pem); err != nil {
				t.Fatal(err)
			}
			return pem
		}
		if !strings.Contains(raw(), "BEGIN PRIVATE KEY") {
			t.Fatal("without a key the row should be plain PEM")
		}
		ring1, _ := sealbox.New(bytes.Repeat([]byte{1}, 32))
		sealed := persistence.NewKeyStore(s.db, ring1)
		if n, err := sealed.SealAtRest(ctx); err != nil || n != 1 {
			t.Fatalf("seal: %d %v", n, err)
		}
		if r := raw(); strings.Contains(r, "PRIVATE KEY") || sealbox.SealedWith(r) != ring1.KeyID() {
			t.Fatalf("row after sealing: %q", r)
		}
		if n, _ := sealed.SealAtRest(ctx); n != 0 {
			t.Fatalf("second start resealed %d rows", n)
		}
		got, err := sealed.SigningKeys(ctx)
		if err != nil || !bytes.Equal(got[0].PrivateKeyPEM, plain[0].PrivateKeyPEM) {
			t.Fatalf("read back: %v", err)
		}
		// A new key written through the sealing store is sealed too.
		k2 := candidate(2)
		k2.Generation = 2
		if ok, err := sealed.InsertSigningKey(ctx, k2); err != nil || !ok {
			t.Fatal(err)
		}
		// Without the key, or with another, the start fails with a clear error.
		if _, err := s.keys.SigningKeys(ctx); err == nil || !strings.Contains(err.Error(), "DATA_ENCRYPTION_KEY is not set") {
			t.Fatalf("plain store on sealed rows: %v", err)
		}
		ring2, _ := sealbox.New(bytes.Repeat([]byte{2}, 32))
		if _, err := persistence.NewKeyStore(s.db, ring2).SigningKeys(ctx); err == nil || !strings.Contains(err.Error(), ring1.KeyID()) {
			t.Fatalf("other key: %v", err)
		}
		// Changing the key: new first, old second; the start re-seals.
		both, _ := sealbox.New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
		if n, err := persistence.NewKeyStore(s.db, both).SealAtRest(ctx); err != nil || n != 2 {
			t.Fatalf("reseal: %d %v", n, err)
		}
		if got, err := persistence.NewKeyStore(s.db, ring2).SigningKeys(ctx); err != nil || len(got) != 2 {
			t.Fatalf("new key alone after reseal: %v", err)
		}
		// A sealed value moved to another row does not open there.
		if err := s.db.Exec("UPDATE signing_keys SET private_key_pem = (SELECT private_key_pem FROM signing_keys WHERE kid = ?) WHERE kid = ?", k2.ID, plain[0].ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := persistence.NewKeyStore(s.db, ring2).SigningKeys(ctx); err == nil {
			t.Fatal("a swapped row opened")
		}
	})
}

// Issue 21 item 12: with DATA_ENCRYPTION_KEY the refresh-token MAC key is
// sealed like the signing keys: a key stored in clear is sealed on the first
// start with the setting, a new key is stored sealed, NEW,OLD re-seals, and
// without the right key the start fails naming the key id.
func TestRefreshKeySealedAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		raw := func() (secret []byte, sealed *string) {
			t.Helper()
			if err := s.db.Raw("SELECT secret, sealed FROM refresh_token_keys WHERE id = 1").Row().Scan(&secret, &sealed); err != nil {
				t.Fatal(err)
			}
			return secret, sealed
		}
		ring1, _ := sealbox.New(bytes.Repeat([]byte{1}, 32))
		if ok, err := persistence.NewKeyStore(s.db, ring1).SealRefreshKeyAtRest(ctx); err != nil || ok {
			t.Fatalf("sealing with no key stored: %v %v", ok, err)
		}
		key := bytes.Repeat([]byte{7}, 32)
		got, err := s.keys.EnsureRefreshKey(ctx, key)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("plain store: %x %v", got, err)
		}
		if secret, sealed := raw(); !bytes.Equal(secret, key) || sealed != nil {
			t.Fatal("without a data key the row should hold the key as is")
		}
		sealing := persistence.NewKeyStore(s.db, ring1)
		if ok, err := sealing.SealRefreshKeyAtRest(ctx); err != nil || !ok {
			t.Fatalf("seal: %v %v", ok, err)
		}
		if ok, _ := sealing.SealRefreshKeyAtRest(ctx); ok {
			t.Fatal("second start resealed")
		}
		secret, sealed := raw()
		if secret != nil || sealed == nil || sealbox.SealedWith(*sealed) != ring1.KeyID() || bytes.Contains([]byte(*sealed), key) {
			t.Fatalf("row after sealing: secret %x sealed %v", secret, sealed)
		}
		// Every later start reads the same key through the keyring; a
		// candidate offered then does not replace it.
		if got, err := sealing.EnsureRefreshKey(ctx, bytes.Repeat([]byte{9}, 32)); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("sealed read back: %x %v", got, err)
		}
		if _, err := s.keys.EnsureRefreshKey(ctx, key); err == nil || !strings.Contains(err.Error(), "DATA_ENCRYPTION_KEY is not set") || !strings.Contains(err.Error(), ring1.KeyID()) {
			t.Fatalf("plain store on a sealed key: %v", err)
		}
		ring2, _ := sealbox.New(bytes.Repeat([]byte{2}, 32))
		if _, err := persistence.NewKeyStore(s.db, ring2).EnsureRefreshKey(ctx, key); err == nil || !strings.Contains(err.Error(), ring1.KeyID()) {
			t.Fatalf("other data key: %v", err)
		}
		both, _ := sealbox.New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
		if ok, err := persistence.NewKeyStore(s.db, both).SealRefreshKeyAtRest(ctx); err != nil || !ok {
			t.Fatalf("reseal with NEW,OLD: %v %v", ok, err)
		}
		if got, err := persistence.NewKeyStore(s.db, ring2).EnsureRefreshKey(ctx, nil); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("new data key alone after reseal: %x %v", got, err)
		}

		// A first start with the data key stores a new key sealed.
		if err := s.db.Exec("DELETE FROM refresh_token_keys").Error; err != nil {
			t.Fatal(err)
		}
		fresh := bytes.Repeat([]byte{5}, 32)
		if got, err := sealing.EnsureRefreshKey(ctx, fresh); err != nil || !bytes.Equal(got, fresh) {
			t.Fatalf("first sealed store: %x %v", got, err)
		}
		if secret, sealed := raw(); secret != nil || sealed == nil {
			t.Fatal("a new key was stored in clear")
		}
	})
}
