package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/api/spectest"
)

// decodeJWT returns a JWT's header and claims without verifying it.
func decodeJWT(t testing.TB, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %q", tok)
	}
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return h, c
}

func TestAccounts(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))

		t.Run("register, read and edit the profile", func(t *testing.T) {
			c := s.client()
			r := c.do("POST", "/auth/register", map[string]any{"email": "  Ada@Example.COM ", "password": "correct horse", "name": "Ada"})
			expect(t, r, 201, "")
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("token response Cache-Control = %q", r.Header.Get("Cache-Control"))
			}
			if r.Env.Path != "/auth/register" || r.Env.Timestamp == "" || r.Env.Message == "" {
				t.Errorf("envelope fields: %+v", r.Env)
			}
			var p tokenPair
			r.data(t, &p)
			if p.User.Email != "ada@example.com" || p.TokenType != "Bearer" || p.ExpiresIn != 900 || p.RefreshToken != "" {
				t.Errorf("pair: %+v", p)
			}
			if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password") {
				t.Errorf("password material in response: %s", r.Body)
			}
			h, cl := decodeJWT(t, p.AccessToken)
			if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] == "" {
				t.Errorf("JWT header: %v", h)
			}
			for _, k := range []string{"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "auth_time", "fresh", "amr", "roles"} {
				if _, ok := cl[k]; !ok {
					t.Errorf("claim %s missing: %v", k, cl)
				}
			}
			if cl["fresh"] != true || cl["sub"] != p.User.ID || cl["sid"] != p.Session.ID {
				t.Errorf("claims: %v", cl)
			}

			c.bearer = p.AccessToken
			me := c.do("GET", "/users/me", nil)
			expect(t, me, 200, "")
			var u struct{ ID, Email, Name string }
			me.data(t, &u)
			if u.ID != p.User.ID || u.Name != "Ada" {
				t.Errorf("me: %+v", u)
			}
			up := c.do("PATCH", "/users/me", map[string]any{"name": "Ada Lovelace"})
			expect(t, up, 200, "")
			up.data(t, &u)
			if u.Name != "Ada Lovelace" {
				t.Errorf("patched name %q", u.Name)
			}
			bad := c.do("PATCH", "/users/me", map[string]any{"name": "bell\x07"})
			expect(t, bad, 400, "VALIDATION_FAILED")

			// Case-insensitive: the same account, and login works either way.
			dup := s.client().do("POST", "/auth/register", map[string]any{"email": "ADA@example.com", "password": "another pass"})
			expect(t, dup, 409, "EMAIL_TAKEN")
			_, lr := s.client().login("ADA@EXAMPLE.com", "correct horse", "")
			expect(t, lr, 200, "")
		})

		t.Run("no user enumeration on login", func(t *testing.T) {
			c := s.client()
			c.register("enum@example.com", "right password")
			_, wrong := s.client().login("enum@example.com", "wrong password", "")
			_, unknown := s.client().login("nobody@example.com", "wrong password", "")
			expect(t, wrong, 401, "INVALID_CREDENTIALS")
			expect(t, unknown, 401, "INVALID_CREDENTIALS")
			if wrong.Env.Message != unknown.Env.Message {
				t.Errorf("messages differ: %q vs %q", wrong.Env.Message, unknown.Env.Message)
			}
		})

		t.Run("password rules", func(t *testing.T) {
			c := s.client()
			cases := []struct {
				name, email, password string
				field                 string
			}{
				{"too short", "p1@example.com", "short", "password"},
				{"too long", "p2@example.com", strings.Repeat("x", 129), "password"},
				{"equals email", "p3@example.com", "P3@example.com", "password"},
				{"bad email", "not-an-email", "long enough", "email"},
			}
			for _, tc := range cases {
				r := c.do("POST", "/auth/register", map[string]any{"email": tc.email, "password": tc.password})
				expect(t, r, 400, "VALIDATION_FAILED")
				if len(r.Env.Error.Details) == 0 || r.Env.Error.Details[0].Field != tc.field {
					t.Errorf("%s: details %s", tc.name, r.Body)
				}
			}
			// 8 characters of Unicode is enough even though it is more bytes.
			expect(t, c.do("POST", "/auth/register", map[string]any{"email": "uni@example.com", "password": "pässwörd"}), 201, "")
			_, r := s.client().login("uni@example.com", "pässwörd", "")
			expect(t, r, 200, "")
		})

		t.Run("twenty concurrent registrations of one email", func(t *testing.T) {
			var wg sync.WaitGroup
			statuses := make([]int, 20)
			codes := make([]string, 20)
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := s.client().do("POST", "/auth/register", map[string]any{"email": "race@example.com", "password": fmt.Sprintf("password %d", i)})
					statuses[i], codes[i] = r.Status, r.code()
				}()
			}
			wg.Wait()
			created := 0
			for i := range 20 {
				switch {
				case statuses[i] == 201:
					created++
				case statuses[i] == 409 && codes[i] == "EMAIL_TAKEN":
				// Registrations hash a password, so the account throttle
				// may refuse some of twenty parallel attempts from one client.
				case statuses[i] == 429 && codes[i] == "TOO_MANY_REQUESTS":
				default:
					t.Errorf("registration %d: %d %s", i, statuses[i], codes[i])
				}
			}
			if created != 1 {
				t.Errorf("%d registrations succeeded, want 1", created)
			}
		})

		t.Run("access token checks", func(t *testing.T) {
			c := s.client()
			p := c.register("tok@example.com", "token password")
			anon := s.client()
			expect(t, anon.do("GET", "/users/me", nil), 401, "UNAUTHENTICATED")
			anon.bearer = "not.a.jwt"
			expect(t, anon.do("GET", "/users/me", nil), 401, "TOKEN_INVALID")
			// Tamper with the payload: the signature no longer matches.
			parts := strings.Split(p.AccessToken, ".")
			anon.bearer = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "." + parts[2]
			expect(t, anon.do("GET", "/users/me", nil), 401, "TOKEN_INVALID")
			// alg none.
			anon.bearer = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
			expect(t, anon.do("GET", "/users/me", nil), 401, "TOKEN_INVALID")
			r := anon.do("GET", "/users/me", nil, withHeader("Authorization", "Basic Zm9vOmJhcg=="))
			expect(t, r, 401, "TOKEN_INVALID")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})

		t.Run("jwks", func(t *testing.T) {
			r := s.client().do("GET", "/.well-known/jwks.json", nil)
			if r.Status != 200 {
				t.Fatalf("status %d", r.Status)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) == 0 {
				t.Fatalf("jwks %s: %v", r.Body, err)
			}
			for _, k := range set.Keys {
				if _, private := k["d"]; private {
					t.Errorf("private key material in JWKS: %v", k)
				}
			}
			p := s.client().register("jwks@example.com", "jwks password")
			h, _ := decodeJWT(t, p.AccessToken)
			found := false
			for _, k := range set.Keys {
				found = found || k["kid"] == h["kid"]
			}
			if !found {
				t.Errorf("token kid %v not in JWKS", h["kid"])
			}
		})

		t.Run("health", func(t *testing.T) {
			expect(t, s.client().do("GET", "/healthz", nil), 200, "")
			expect(t, s.client().do("GET", "/readyz", nil), 200, "")
		})
	})
}

func TestRequestHandling(t *testing.T) {
	s := startServer(t, testEnv("sqlite://"+t.TempDir()+"/g.db"))
	c := s.client()

	t.Run("request id", func(t *testing.T) {
		r := c.do("GET", "/healthz", nil, withHeader("X-Request-ID", "abc.DEF_123-x"))
		if r.Header.Get("X-Request-ID") != "abc.DEF_123-x" {
			t.Errorf("valid id not echoed: %q", r.Header.Get("X-Request-ID"))
		}
		for _, bad := range []string{"has space", strings.Repeat("a", 129), "semi;colon", "ünï"} {
			r := c.do("GET", "/healthz", nil, withHeader("X-Request-ID", bad))
			if got := r.Header.Get("X-Request-ID"); got == bad || got == "" {
				t.Errorf("bad id %q answered with %q", bad, got)
			}
		}
	})

	t.Run("bodies", func(t *testing.T) {
		cases := []struct {
			name   string
			body   rawBody
			status int
			code   string
		}{
			{"not json", rawBody{"application/json", []byte(`{"email":`)}, 400, "MALFORMED_JSON"},
			{"wrong type", rawBody{"application/json", []byte(`{"email":1,"password":"xxxxxxxx"}`)}, 400, "MALFORMED_JSON"},
			{"trailing data", rawBody{"application/json", []byte(`{"email":"a@b.co","password":"xxxxxxxx"} {}`)}, 400, "MALFORMED_JSON"},
			{"invalid utf-8", rawBody{"application/json", []byte("{\"email\":\"a@b.co\",\"password\":\"xx\xffxxxxxx\"}")}, 400, "MALFORMED_JSON"},
			{"array", rawBody{"application/json", []byte(`[]`)}, 400, "MALFORMED_JSON"},
			{"form", rawBody{"application/x-www-form-urlencoded", []byte(`email=a`)}, 415, "UNSUPPORTED_MEDIA_TYPE"},
			{"no content type", rawBody{"", []byte(`{"email":"a@b.co"}`)}, 415, "UNSUPPORTED_MEDIA_TYPE"},
			{"latin1", rawBody{"application/json; charset=latin1", []byte(`{}`)}, 415, "UNSUPPORTED_MEDIA_TYPE"},
			{"too large", rawBody{"application/json", []byte(`{"email":"` + strings.Repeat("a", 70<<10) + `"}`)}, 413, "PAYLOAD_TOO_LARGE"},
		}
		for _, tc := range cases {
			r := c.do("POST", "/auth/register", tc.body)
			if r.Status != tc.status || r.code() != tc.code {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, r.Status, r.code(), tc.status, tc.code)
			}
		}
	})

	t.Run("every failing field is listed by its JSON name", func(t *testing.T) {
		r := c.do("POST", "/auth/register", map[string]any{"password": "short", "extra": 1, "another": true, "refreshTokenTransport": "pigeon"})
		expect(t, r, 400, "VALIDATION_FAILED")
		got := map[string]bool{}
		for _, d := range r.Env.Error.Details {
			got[d.Field] = true
		}
		for _, f := range []string{"email", "password", "extra", "another", "refreshTokenTransport"} {
			if !got[f] {
				t.Errorf("field %s not listed: %s", f, r.Body)
			}
		}
		r = c.do("PUT", "/users/me/password", nil)
		expect(t, r, 401, "UNAUTHENTICATED")
	})

	t.Run("routing errors", func(t *testing.T) {
		expect(t, c.do("GET", "/nope", nil), 404, "NOT_FOUND")
		expect(t, c.do("DELETE", "/auth/login", nil), 405, "METHOD_NOT_ALLOWED")
		expect(t, c.do("POST", "/users/me", nil), 405, "METHOD_NOT_ALLOWED")
		expect(t, c.do("GET", "/users/me/password", nil), 405, "METHOD_NOT_ALLOWED")
	})

	t.Run("security headers", func(t *testing.T) {
		r := c.do("GET", "/healthz", nil)
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
			if r.Header.Get(k) != want {
				t.Errorf("%s = %q", k, r.Header.Get(k))
			}
		}
	})

	t.Run("docs", func(t *testing.T) {
		resp, err := http.Get(s.base + "/docs")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("/docs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, p := range []string{"/docs/openapi.yaml", "/docs/openapi.json"} {
			resp, err := http.Get(s.base + p)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", p, resp.StatusCode)
			}
		}
	})
}

// TestRoutesAreInSpec fails when a route is registered that the spec does
// not describe, or the spec describes one that is not served.
func TestRoutesAreInSpec(t *testing.T) {
	s := startServer(t, testEnv("sqlite://"+t.TempDir()+"/g.db"))
	srvRoutes := echoRoutes(t, s)
	spec := map[string]bool{}
	for _, op := range spectest.Shared(t).Operations() {
		spec[op.Method+" "+op.Path] = true
	}
	served := map[string]bool{}
	for _, r := range srvRoutes {
		served[r] = true
		if !spec[r] {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	for op := range spec {
		if !served[op] {
			t.Errorf("spec operation %s is not served", op)
		}
	}
}

// TestKeysSurviveRestart: a token issued before a restart verifies after it,
// and a second instance on the same database verifies the first's tokens.
func TestKeysSurviveRestart(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		a := startServer(t, env)
		c := a.client()
		c.register("restart@example.com", "restart password")
		b := startServer(t, env)
		other := b.client()
		other.bearer = c.bearer
		expect(t, other.do("GET", "/users/me", nil), 200, "")
		a.stop()
		c2 := startServer(t, env).client()
		c2.bearer = c.bearer
		expect(t, c2.do("GET", "/users/me", nil), 200, "")
	})
}
