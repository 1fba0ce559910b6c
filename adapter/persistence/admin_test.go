package persistence_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/adapter/persistence"
)

// TestDisableBumpsCredentialVersion: disabling an account moves its
// credential version, as a password change does, so a login that proved the
// password just before the disable cannot start a session after it; other
// admin changes (and re-enabling) leave it alone.
func TestDisableBumpsCredentialVersion(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		u := mustCreateUser(t, s, "ada@example.com")
		version := func() int64 {
			t.Helper()
			got, err := s.users.ByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.CredentialVersion
		}
		v0 := version()

		u.Name = "Ada L"
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0 {
			t.Fatalf("a name change moved the credential version %d -> %d", v0, v)
		}
		u.Disabled = true
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0+1 {
			t.Fatalf("disable: credential version %d; want %d", v, v0+1)
		}
		if err := dir.UpdateAdmin(ctx, u); err != nil { // still disabled
			t.Fatal(err)
		}
		u.Disabled = false
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0+1 {
			t.Fatalf("after staying disabled and re-enabling: %d; want %d", v, v0+1)
		}
	})
}
