package persistence_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/id"
)

func TestFederationFlowsAreSingleUse(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewFederationStore(s.db)
		u := newUser("flow@example.com")
		if err := s.users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		f := federation.Flow{StateHash: federation.Hash("state"), Provider: "corp", Nonce: "n", Verifier: "v", RedirectTo: "https://app/x",
			CodeChallenge: "c", LinkUserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(federation.StateTTL)}
		if err := store.CreateFlow(ctx, f); err != nil {
			t.Fatal(err)
		}
		// Eight callbacks with one state at once: exactly one gets the flow.
		want := f
		want.CreatedAt, want.ExpiresAt = norm(f.CreatedAt), norm(f.ExpiresAt)
		oneWins(t, s, 8, federation.ErrFailed, func(ctx context.Context) error {
			got, err := store.TakeFlow(ctx, federation.Hash("state"))
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("flow taken:\n got  %+v\n want %+v", got, want)
			}
			return err
		})

		c := federation.AppCode{Hash: federation.Hash("code"), UserID: u.ID, Provider: "corp", CodeChallenge: "c", CreatedAt: base, ExpiresAt: base.Add(federation.CodeTTL)}
		if err := store.CreateCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := store.TakeCode(ctx, federation.Hash("code")); err != nil {
			t.Fatal(err)
		}
		if _, err := store.TakeCode(ctx, federation.Hash("code")); !errors.Is(err, federation.ErrFailed) {
			t.Fatalf("second take: %v", err)
		}
		// Expired ones are purged.
		if err := store.CreateFlow(ctx, federation.Flow{StateHash: federation.Hash("old"), Provider: "corp", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if n, err := store.PurgeExpired(ctx, base.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}

func TestFederationIdentities(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewFederationStore(s.db)
		a, b := newUser("a@example.com"), newUser("b@example.com")
		if err := s.users.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.users.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
		i := federation.Identity{ID: id.New(), UserID: a.ID, Provider: "github", Subject: "42", Email: "a@example.com", CreatedAt: base}
		if err := store.Link(ctx, i); err != nil {
			t.Fatal(err)
		}
		// (provider, subject) is one identity: another account cannot have it.
		dup := federation.Identity{ID: id.New(), UserID: b.ID, Provider: "github", Subject: "42", CreatedAt: base}
		if err := store.Link(ctx, dup); !errors.Is(err, federation.ErrIdentityTaken) {
			t.Fatalf("duplicate link: %v", err)
		}
		// The same subject at another provider is another identity.
		if err := store.Link(ctx, federation.Identity{ID: id.New(), UserID: b.ID, Provider: "corp", Subject: "42", CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
		got, err := store.BySubject(ctx, "github", "42")
		want := i
		want.CreatedAt = norm(i.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "identity", got, want)
		if _, err := store.BySubject(ctx, "github", "43"); !errors.Is(err, federation.ErrIdentityNotFound) {
			t.Fatalf("unknown subject: %v", err)
		}
		// Only the owner unlinks.
		if _, err := store.Unlink(ctx, b.ID, i.ID); !errors.Is(err, federation.ErrIdentityNotFound) {
			t.Fatalf("foreign unlink: %v", err)
		}
		if _, err := store.Unlink(ctx, a.ID, "not-a-uuid"); !errors.Is(err, federation.ErrIdentityNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
		if _, err := store.Unlink(ctx, a.ID, i.ID); err != nil {
			t.Fatal(err)
		}
		if list, err := store.ListByUser(ctx, a.ID); err != nil || len(list) != 0 {
			t.Fatalf("after unlink: %v %v", list, err)
		}
		// Deleting the account deletes its identities (and frees them).
		if err := s.db.Exec("DELETE FROM users WHERE id = ?", b.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := store.BySubject(ctx, "corp", "42"); !errors.Is(err, federation.ErrIdentityNotFound) {
			t.Fatalf("identity of a deleted account: %v", err)
		}
	})
}
