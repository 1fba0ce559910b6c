package main

import (
	"strings"
	"testing"
)

// TestAdminAccountIdentities: an account that signed up through a
// provider shows its linked identity to an administrator (provider,
// email, when), with neither the provider's subject nor any token; an
// account without one lists none; a non-admin and an unknown account are
// refused.
func TestAdminAccountIdentities(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		s, c := w.start(t)
		root, rootPair := signInRoot(t, s, w.env)

		ada := w.corpSession(t, c, "ada")

		base := "/admin/users/" + ada.User.ID + "/identities"
		r := root.do("GET", base, nil)
		expect(t, r, 200, "")
		var got []struct{ ID, Provider, Email, CreatedAt string }
		r.data(t, &got)
		if len(got) != 1 || got[0].Provider != "corp" || got[0].Email != "ada@example.com" || got[0].ID == "" || got[0].CreatedAt == "" {
			t.Fatalf("admin identities %s", r.Env.Data)
		}
		// The same identity as the owner's own listing.
		r = c.do("GET", "/auth/identities", nil)
		expect(t, r, 200, "")
		var own []struct{ ID, Provider, Email, CreatedAt string }
		r.data(t, &own)
		if len(own) != 1 || own[0] != got[0] {
			t.Fatalf("owner sees %s, admin %+v", r.Env.Data, got)
		}
		r = root.do("GET", base, nil)
		data := string(r.Env.Data)
		for _, secret := range []string{"u-ada", ada.AccessToken, ada.RefreshToken, "subject", "token"} {
			if secret != "" && strings.Contains(data, secret) {
				t.Fatalf("admin identities show %q: %s", secret, data)
			}
		}

		// An account without linked identities lists none.
		r = root.do("GET", "/admin/users/"+rootPair.User.ID+"/identities", nil)
		expect(t, r, 200, "")
		if strings.TrimSpace(string(r.Env.Data)) != "[]" {
			t.Fatalf("root identities %s", r.Env.Data)
		}
		expect(t, c.do("GET", base, nil), 403, "FORBIDDEN")
		expect(t, s.client().do("GET", base, nil), 401, "UNAUTHENTICATED")
		expect(t, root.do("GET", "/admin/users/00000000-0000-4000-8000-000000000000/identities", nil), 404, "NOT_FOUND")
	})
}
