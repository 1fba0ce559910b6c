package persistence_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	domauth "github.com/gatehouse/gatehouse/domain/auth"
)

func candidate(i int) domauth.SigningKey {
	return domauth.SigningKey{
		ID: fmt.Sprintf("kid-%02d", i), Algorithm: "EdDSA",
		PrivateKeyPEM: []byte(fmt.Sprintf("-----BEGIN PRIVATE KEY-----\nkey %d\n-----END PRIVATE KEY-----\n", i)),
		CreatedAt:     base.Add(time.Duration(i) * time.Second),
	}
}

func TestEnsureSigningKeyConcurrently(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		const n = 10
		warmPool(t, s, n)
		results := make([][]domauth.SigningKey, n)
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
		var first domauth.SigningKey
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
		if _, err := s.keys.EnsureSigningKey(context.Background(), domauth.SigningKey{}); err == nil {
			t.Fatal("empty candidate accepted")
		}
	})
}
