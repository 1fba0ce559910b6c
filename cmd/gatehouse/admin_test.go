package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// adminUser mirrors the contract's adminUser.
type adminUser struct {
	ID             string   `json:"id"`
	Email          string   `json:"email"`
	Roles          []string `json:"roles"`
	Disabled       bool     `json:"disabled"`
	EmailVerified  bool     `json:"emailVerified"`
	ActiveSessions int      `json:"activeSessions"`
	LastLoginAt    *string  `json:"lastLoginAt"`
}

// cli runs an operator command against env's database, as a script would.
func cli(t *testing.T, env map[string]string, input string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The first administrator of the admin tests, made by the command line.
const rootEmail, rootPassword = "root@example.com", "correct horse battery"

// signInRoot makes rootEmail an administrator with the command line on
// env's database, as an operator makes the first one, and signs it in on s
// (refresh token in the body); it returns that client and its tokens.
func signInRoot(t *testing.T, s *server, env map[string]string) (*client, tokenPair) {
	t.Helper()
	if code, _, errOut := cli(t, env, rootPassword+"\n", "users", "create", "--email", rootEmail, "--role", "admin"); code != 0 {
		t.Fatalf("users create: %d %q", code, errOut)
	}
	root := s.client()
	pair, r := root.login(rootEmail, rootPassword, "body")
	expect(t, r, 200, "")
	return root, pair
}

// startWithRoot starts a server on env with rootEmail signed in as its
// administrator.
func startWithRoot(t *testing.T, env map[string]string) (*server, *client, tokenPair) {
	t.Helper()
	s := startServer(t, env)
	root, pair := signInRoot(t, s, env)
	return s, root, pair
}

// adminEvent is a security event as the admin listing gives it.
type adminEvent struct {
	Type      string  `json:"type"`
	ActorID   *string `json:"actorId"`
	SessionID *string `json:"sessionId"`
}

// adminEvents is the first page of userID's security events as admin
// reads them, with the answer (for failure messages).
func adminEvents(t *testing.T, admin *client, userID string) ([]adminEvent, *response) {
	t.Helper()
	r := admin.do("GET", "/admin/users/"+userID+"/security-events", nil)
	expect(t, r, 200, "")
	var page struct {
		Items []adminEvent `json:"items"`
	}
	r.data(t, &page)
	return page.Items, r
}

// TestAdminAPI walks the administration contract: the first admin made by
// the command line, a non-admin refused, search and paging, the guard rails
// on oneself, disabling (sessions revoked at once, login USER_DISABLED after
// the password, refresh refused), events with the actor, key rotation, and
// bad input.
func TestAdminAPI(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		s := startServer(t, env)

		const pw = "correct horse battery"
		code, out, errOut := cli(t, env, pw+"\n", "users", "create", "--email", "Root@Example.com", "--name", "Root", "--role", "admin", "--role", "user")
		if code != 0 || !strings.Contains(out, "root@example.com") {
			t.Fatalf("users create: %d %q %q", code, out, errOut)
		}
		if code, _, errOut := cli(t, env, pw+"\n", "users", "create", "--email", "root@example.com"); code != exitConflict || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("duplicate create: %d %q", code, errOut)
		}

		root := s.client()
		if _, r := root.login("root@example.com", pw, "body"); r.Status != 200 {
			t.Fatalf("root login: %s", r.Body)
		}
		bob := s.client()
		bobPair := bob.register("bob@example.com", "bob's password 1")
		carol := s.client()
		carol.register("carol@example.com", "carol's password")

		// A non-admin is refused, with the insufficient_scope challenge.
		r := bob.do("GET", "/admin/users", nil)
		expect(t, r, 403, "FORBIDDEN")
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("challenge %q", r.Header.Get("WWW-Authenticate"))
		}
		expect(t, bob.do("POST", "/admin/keys/rotate", nil), 403, "FORBIDDEN")
		expect(t, s.client().do("GET", "/admin/users", nil), 401, "UNAUTHENTICATED")

		// Search by email or name substring, paged.
		r = root.do("GET", "/admin/users?q=BOB", nil)
		expect(t, r, 200, "")
		var page struct {
			Items      []adminUser `json:"items"`
			NextCursor *string     `json:"nextCursor"`
		}
		r.data(t, &page)
		if len(page.Items) != 1 || page.Items[0].Email != "bob@example.com" || page.Items[0].ActiveSessions != 1 || page.Items[0].LastLoginAt == nil {
			t.Fatalf("search bob: %s", r.Env.Data)
		}
		bobID := page.Items[0].ID
		seen := map[string]bool{}
		cursor := ""
		for range 5 {
			r = root.do("GET", "/admin/users?limit=2"+cursor, nil)
			expect(t, r, 200, "")
			r.data(t, &page)
			for _, u := range page.Items {
				if seen[u.Email] {
					t.Fatalf("%s twice", u.Email)
				}
				seen[u.Email] = true
			}
			if page.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + *page.NextCursor
		}
		if len(seen) != 3 {
			t.Fatalf("paged through %v", seen)
		}
		expect(t, root.do("GET", "/admin/users?q=%25", nil), 200, "") // a literal %, not "everything"
		r.data(t, &page)
		expect(t, root.do("GET", "/admin/users?limit=0", nil), 400, "VALIDATION_FAILED")
		expect(t, root.do("GET", "/admin/users?cursor=bogus", nil), 400, "VALIDATION_FAILED")

		// Unknown and malformed ids.
		expect(t, root.do("GET", "/admin/users/00000000-0000-4000-8000-000000000000", nil), 404, "NOT_FOUND")
		expect(t, root.do("GET", "/admin/users/not-a-uuid", nil), 404, "NOT_FOUND")
		expect(t, root.do("PATCH", "/admin/users/00000000-0000-4000-8000-000000000000", map[string]any{"disabled": true}), 404, "NOT_FOUND")

		// Bad input.
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"roles": []string{"Admin"}}), 400, "VALIDATION_FAILED")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"roles": []string{}}), 400, "VALIDATION_FAILED")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"roles": []string{"a,b"}}), 400, "VALIDATION_FAILED")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"role": []string{"user"}}), 400, "VALIDATION_FAILED")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"disabled": "yes"}), 400, "MALFORMED_JSON")

		// Guard rails on oneself.
		var me adminUser
		r = root.do("GET", "/admin/users?q=root", nil)
		r.data(t, &page)
		me = page.Items[0]
		expect(t, root.do("PATCH", "/admin/users/"+me.ID, map[string]any{"roles": []string{"user"}}), 403, "FORBIDDEN")
		expect(t, root.do("PATCH", "/admin/users/"+me.ID, map[string]any{"disabled": true}), 403, "FORBIDDEN")
		expect(t, root.do("DELETE", "/admin/users/"+me.ID, nil), 403, "FORBIDDEN")

		// Disable bob: his access token stops at once, his refresh token too,
		// and his login says USER_DISABLED only with the right password.
		r = root.do("PATCH", "/admin/users/"+bobID, map[string]any{"disabled": true, "emailVerified": true})
		expect(t, r, 200, "")
		var got adminUser
		r.data(t, &got)
		if !got.Disabled || !got.EmailVerified || got.ActiveSessions != 0 {
			t.Fatalf("after disable: %s", r.Env.Data)
		}
		expect(t, bob.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		expect(t, bob.do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
		_, r = bob.login("bob@example.com", "wrong password!", "")
		expect(t, r, 401, "INVALID_CREDENTIALS")
		_, r = bob.login("bob@example.com", "bob's password 1", "")
		expect(t, r, 403, "USER_DISABLED")
		_ = bobPair

		// The events name the administrator.
		events, r := adminEvents(t, root, bobID)
		actors := map[string]string{}
		for _, e := range events {
			if e.ActorID != nil {
				actors[e.Type] = *e.ActorID
			}
		}
		if actors["admin_user_disabled"] != me.ID || actors["admin_email_verified_changed"] != me.ID {
			t.Fatalf("events: %s", r.Env.Data)
		}
		expect(t, root.do("GET", "/admin/users/"+bobID+"/security-events?limit=101", nil), 400, "VALIDATION_FAILED")

		// Enable again: he can log in; grant admin: it counts on his next
		// request, whatever his token's roles say.
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"disabled": false}), 200, "")
		if _, r = bob.login("bob@example.com", "bob's password 1", ""); r.Status != 200 {
			t.Fatalf("login after enable: %s", r.Body)
		}
		expect(t, bob.do("GET", "/admin/users", nil), 403, "FORBIDDEN")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"roles": []string{"user", "admin"}}), 200, "")
		expect(t, bob.do("GET", "/admin/users", nil), 200, "")
		expect(t, root.do("PATCH", "/admin/users/"+bobID, map[string]any{"roles": []string{"user"}}), 200, "")
		expect(t, bob.do("GET", "/admin/users", nil), 403, "FORBIDDEN")

		// Revoke every session of bob.
		expect(t, root.do("POST", "/admin/users/"+bobID+"/revoke-sessions", nil), 200, "")
		expect(t, bob.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")

		// Keys: one active; a rotation publishes a next key at once.
		r = root.do("GET", "/admin/keys", nil)
		expect(t, r, 200, "")
		var keys []struct {
			Kid, State string
		}
		r.data(t, &keys)
		if len(keys) != 1 || keys[0].State != "active" {
			t.Fatalf("keys: %s", r.Env.Data)
		}
		r = root.do("POST", "/admin/keys/rotate", nil)
		expect(t, r, 200, "")
		var next struct{ Kid, State string }
		r.data(t, &next)
		if next.State != "next" {
			t.Fatalf("rotate: %s", r.Env.Data)
		}
		r = s.client().do("GET", "/.well-known/jwks.json", nil)
		if !bytes.Contains(r.Body, []byte(next.Kid)) || !bytes.Contains(r.Body, []byte(keys[0].Kid)) {
			t.Fatalf("jwks after rotate: %s", r.Body)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=900" {
			t.Fatalf("JWKS Cache-Control %q", cc)
		}

		// A write with a refreshed (not fresh) token needs a step-up.
		stale := s.client()
		p, _ := stale.login("root@example.com", pw, "body")
		rr := stale.do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken})
		expect(t, rr, 200, "")
		var again tokenPair
		rr.data(t, &again)
		stale.bearer = again.AccessToken
		expect(t, stale.do("GET", "/admin/users", nil), 200, "")
		expect(t, stale.do("DELETE", "/admin/users/"+bobID, nil), 403, "FRESH_AUTH_REQUIRED")

		// Delete.
		expect(t, root.do("DELETE", "/admin/users/"+bobID, nil), 200, "")
		expect(t, root.do("GET", "/admin/users/"+bobID, nil), 404, "NOT_FOUND")
		expect(t, root.do("DELETE", "/admin/users/"+bobID, nil), 404, "NOT_FOUND")

		// The command line sets roles by email; unknown email is exit 5.
		if code, out, errOut := cli(t, env, "", "users", "set-roles", "--email", "CAROL@example.com", "user,billing"); code != 0 || !strings.Contains(out, "roles=user,billing") {
			t.Fatalf("set-roles: %d %q %q", code, out, errOut)
		}
		if code, _, _ := cli(t, env, "", "users", "set-roles", "--email", "nobody@example.com", "user"); code != exitNotFound {
			t.Fatalf("set-roles unknown: %d", code)
		}
		if code, out, _ := cli(t, env, "", "keys", "list"); code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, next.Kid+" EdDSA next") {
			t.Fatalf("keys list: %d %q", code, out)
		}
		if code, _, _ := cli(t, env, "", "users", "frob"); code != exitUsage {
			t.Fatalf("unknown subcommand: %d", code)
		}
		_ = http.StatusOK
	})
}
