package main

import (
	"strings"
	"testing"
)

// TestAdminWritesNeedAAL2 (issue 21 item 12): an administrator whose
// account has TOTP needs an aal2 token for every administrative write, as
// for changing their own factors. Here the token is fresh but aal1 (the
// session signed in with the password before TOTP was turned on): main let
// it change other accounts. The refusal is 403 FRESH_AUTH_REQUIRED with the
// RFC 9470 challenge for a second factor; a step-up with a code lifts it;
// reads stay open.
func TestAdminWritesNeedAAL2(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		s := startServer(t, env)
		root, _ := adminClient(t, s, env, "root@example.com", "root's passphrase", "admin", "user")
		_, adaID := adminClient(t, s, env, "ada@example.com", "ada's passphrase", "user")
		secret, _ := enableTOTP(t, root)
		if aal, _, fresh := claimsOf(t, root.bearer); aal != "aal1" || !fresh {
			t.Fatalf("root's token: %s fresh=%v, want a fresh aal1 one", aal, fresh)
		}

		writes := []struct{ method, path string }{
			{"PATCH", "/admin/users/" + adaID},
			{"POST", "/admin/users/" + adaID + "/revoke-sessions"},
			{"DELETE", "/admin/users/" + adaID},
			{"POST", "/admin/keys/rotate"},
		}
		for _, w := range writes {
			var body any
			if w.method == "PATCH" {
				body = map[string]any{"disabled": true}
			}
			r := root.do(w.method, w.path, body)
			expect(t, r, 403, "FRESH_AUTH_REQUIRED")
			if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, `acr_values="aal2"`) {
				t.Errorf("%s %s: WWW-Authenticate %q", w.method, w.path, h)
			}
		}
		// A bad body is not even read before the refusal.
		expect(t, root.do("PATCH", "/admin/users/"+adaID, map[string]any{"disabled": "yes"}), 403, "FRESH_AUTH_REQUIRED")
		expect(t, root.do("GET", "/admin/users/"+adaID, nil), 200, "")
		r := root.do("GET", "/admin/users/"+adaID, nil)
		var got adminUser
		r.data(t, &got)
		if got.Disabled {
			t.Fatal("a refused write disabled the account")
		}

		// A step-up with the code makes the token aal2: the writes pass.
		ra := root.do("POST", "/auth/reauthenticate", map[string]any{"password": "root's passphrase", "code": totpCode(t, secret, 0)})
		expect(t, ra, 200, "")
		var p tokenPair
		ra.data(t, &p)
		root.bearer = p.AccessToken
		if aal, _, _ := claimsOf(t, root.bearer); aal != "aal2" {
			t.Fatalf("after the step-up: %s", aal)
		}
		expect(t, root.do("PATCH", "/admin/users/"+adaID, map[string]any{"disabled": true}), 200, "")
	})
}
