package admin_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// TestIdentities: an administrator sees an account's linked identities
// (provider, email, when) in the store's order; a non-admin is refused,
// an unknown account is not found, an account without any lists none.
func TestIdentities(t *testing.T) {
	e := newEnv(t)
	later := t0.Add(time.Hour)
	l := admin.NewIdentityListing(e.dir, byUser[federation.Identity]{e.ada.ID: {
		{ID: "i1", UserID: e.ada.ID, Provider: "corp", Subject: "u-ada", Email: "ada@example.com", CreatedAt: t0},
		{ID: "i2", UserID: e.ada.ID, Provider: "github", Subject: "4242", CreatedAt: later},
	}})
	got, err := l.Identities(e.ctx, e.root, e.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []admin.IdentityView{
		{ID: "i1", Provider: "corp", Email: "ada@example.com", LinkedAt: t0},
		{ID: "i2", Provider: "github", LinkedAt: later},
	}
	if len(got) != len(want) {
		t.Fatalf("identities %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("identity %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	none, err := l.Identities(e.ctx, e.root, e.root.Principal.UserID())
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("root %+v, %v", none, err)
	}
	e.wantAdminRead(t, func(a admin.Actor, userID string) error {
		_, err := l.Identities(e.ctx, a, userID)
		return err
	})
}
