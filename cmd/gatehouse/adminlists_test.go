package main

import (
	"strings"
	"testing"
)

// adminSession mirrors the spec's SessionInfo as the admin listing gives it.
type adminSession struct {
	ID      string `json:"id"`
	IP      string `json:"ip"`
	Current bool   `json:"current"`
}

type adminSessionPage struct {
	Items      []adminSession `json:"items"`
	NextCursor *string        `json:"nextCursor"`
}

// TestAdminAccountSessions: an administrator pages through one account's
// sessions and ends one of them; that session's refresh token dies, the
// others live; the account's events record it with the administrator; a
// non-admin, an unknown account, another account's session and a token
// that is not fresh are refused.
func TestAdminAccountSessions(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s, root, rootPair := startWithRoot(t, testEnv(dbURL(t)))

		bob := s.client()
		bobID := bob.register("bob@example.com", "bob's password 1").User.ID
		second, third := s.client(), s.client()
		p2, r := second.login("bob@example.com", "bob's password 1", "body")
		expect(t, r, 200, "")
		p3, r := third.login("bob@example.com", "bob's password 1", "body")
		expect(t, r, 200, "")

		base := "/admin/users/" + bobID + "/sessions"
		// Refused: a non-admin, anyone unsigned, an unknown account.
		expect(t, bob.do("GET", base, nil), 403, "FORBIDDEN")
		expect(t, bob.do("DELETE", base+"/"+p2.Session.ID, nil), 403, "FORBIDDEN")
		expect(t, s.client().do("GET", base, nil), 401, "UNAUTHENTICATED")
		unknown := "/admin/users/00000000-0000-4000-8000-000000000000"
		expect(t, root.do("GET", unknown+"/sessions", nil), 404, "NOT_FOUND")
		expect(t, root.do("DELETE", unknown+"/sessions/"+p2.Session.ID, nil), 404, "NOT_FOUND")
		expect(t, root.do("GET", unknown+"/factors", nil), 404, "NOT_FOUND")
		expect(t, root.do("GET", base+"?limit=0", nil), 400, "VALIDATION_FAILED")
		expect(t, root.do("GET", base+"?cursor=bogus", nil), 400, "VALIDATION_FAILED")

		// Paging: two pages of limit 2 give bob's three sessions once each.
		list := func() map[string]bool {
			t.Helper()
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages == 3 {
					t.Fatal("no last page")
				}
				r := root.do("GET", base+"?limit=2"+cursor, nil)
				expect(t, r, 200, "")
				var page adminSessionPage
				r.data(t, &page)
				if len(page.Items) == 0 || len(page.Items) > 2 {
					t.Fatalf("page %s", r.Env.Data)
				}
				for _, it := range page.Items {
					if seen[it.ID] || it.Current || it.IP == "" {
						t.Fatalf("item %+v in %s", it, r.Env.Data)
					}
					seen[it.ID] = true
				}
				if page.NextCursor == nil {
					return seen
				}
				cursor = "&cursor=" + *page.NextCursor
			}
		}
		if seen := list(); len(seen) != 3 || !seen[p2.Session.ID] || !seen[p3.Session.ID] {
			t.Fatalf("listed %v", seen)
		}

		// A refreshed token is not fresh: the write is refused, nothing ends.
		stale := s.client()
		sp, _ := stale.login(rootEmail, rootPassword, "body")
		r = stale.do("POST", "/auth/refresh", map[string]any{"refreshToken": sp.RefreshToken})
		expect(t, r, 200, "")
		var again tokenPair
		r.data(t, &again)
		stale.bearer = again.AccessToken
		expect(t, stale.do("DELETE", base+"/"+p2.Session.ID, nil), 403, "FRESH_AUTH_REQUIRED")
		if seen := list(); !seen[p2.Session.ID] {
			t.Fatal("a stale token ended the session")
		}

		// Another account's session through bob's path names nothing.
		expect(t, root.do("DELETE", base+"/"+rootPair.Session.ID, nil), 404, "NOT_FOUND")
		expect(t, root.do("GET", "/users/me", nil), 200, "")

		// End the second session: its tokens die, the third lives.
		r = root.do("DELETE", base+"/"+p2.Session.ID, nil)
		expect(t, r, 200, "")
		expect(t, second.do("POST", "/auth/refresh", map[string]any{"refreshToken": p2.RefreshToken}), 401, "REFRESH_TOKEN_INVALID")
		expect(t, second.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		expect(t, third.do("POST", "/auth/refresh", map[string]any{"refreshToken": p3.RefreshToken}), 200, "")
		expect(t, bob.do("GET", "/users/me", nil), 200, "")
		if seen := list(); len(seen) != 2 || seen[p2.Session.ID] {
			t.Fatalf("after revoke %v", seen)
		}
		expect(t, root.do("DELETE", base+"/"+p2.Session.ID, nil), 404, "NOT_FOUND")

		events, r := adminEvents(t, root, bobID)
		found := 0
		for _, e := range events {
			if e.Type == "admin_session_revoked" {
				found++
				if e.ActorID == nil || *e.ActorID != rootPair.User.ID || e.SessionID == nil || *e.SessionID != p2.Session.ID {
					t.Fatalf("event %s", r.Env.Data)
				}
			}
		}
		if found != 1 {
			t.Fatalf("%d admin_session_revoked events: %s", found, r.Env.Data)
		}
	})
}

// TestAdminAccountFactors: the administrator sees an account's TOTP state
// and passkeys, never a secret.
func TestAdminAccountFactors(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s, root, _ := startWithRoot(t, testEnv(dbURL(t)))

		carol := s.client()
		carolID := carol.register("carol@example.com", "carol's password").User.ID
		path := "/admin/users/" + carolID + "/factors"
		type factors struct {
			TOTP struct {
				Enabled   bool    `json:"enabled"`
				EnabledAt *string `json:"enabledAt"`
			} `json:"totp"`
			Passkeys []struct {
				Name       string  `json:"name"`
				CreatedAt  string  `json:"createdAt"`
				LastUsedAt *string `json:"lastUsedAt"`
			} `json:"passkeys"`
		}
		var f factors
		r := root.do("GET", path, nil)
		expect(t, r, 200, "")
		r.data(t, &f)
		if f.TOTP.Enabled || f.TOTP.EnabledAt != nil || len(f.Passkeys) != 0 {
			t.Fatalf("no factors yet: %s", r.Env.Data)
		}
		expect(t, carol.do("GET", path, nil), 403, "FORBIDDEN")

		key := newSoftAuthenticator(t, "http://localhost:3000", "localhost")
		expect(t, registerPasskey(t, carol, key, nil), 201, "")
		secret, codes := enableTOTP(t, carol)
		r = root.do("GET", path, nil)
		expect(t, r, 200, "")
		r.data(t, &f)
		if !f.TOTP.Enabled || f.TOTP.EnabledAt == nil || len(f.Passkeys) != 1 || f.Passkeys[0].Name != "Soft key" ||
			f.Passkeys[0].CreatedAt == "" || f.Passkeys[0].LastUsedAt != nil {
			t.Fatalf("factors %s", r.Env.Data)
		}
		for _, s := range append([]string{secret}, codes...) {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("a secret in %s", r.Body)
			}
		}
	})
}
