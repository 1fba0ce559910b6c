package main

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 10 item 7: a NUL (or invalid UTF-8) in any text that could reach the
// database is a 400 naming the field, never a 500, on both engines.
func TestNULAndInvalidUTF8AreRefused(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		c := s.client()
		c.register("nul@example.com", "a fine long passphrase")
		bodies := []struct {
			method, path, body, field string
		}{
			{"POST", "/auth/login", `{"email":"a\u0000@example.com","password":"whatever123"}`, "email"},
			{"POST", "/auth/login", `{"email":"nul@example.com","password":"a fine\u0000 long"}`, "password"},
			{"POST", "/auth/register", `{"email":"b@example.com","password":"abcdefgh\u0000ijk"}`, "password"},
			{"PATCH", "/users/me", `{"name":"Ada\u0000"}`, "name"},
			{"POST", "/auth/reauthenticate", `{"password":"x\u0000yyyyyyyy"}`, "password"},
			{"POST", "/auth/refresh", `{"refreshToken":"\u0000"}`, "refreshToken"},
		}
		for _, b := range bodies {
			r := c.do(b.method, b.path, rawBody{"application/json", []byte(b.body)})
			expect(t, r, 400, "VALIDATION_FAILED")
			if !strings.Contains(string(r.Body), `"field":"`+b.field+`"`) || !strings.Contains(string(r.Body), "NUL") {
				t.Errorf("%s %s: the answer does not name %s and why: %s", b.method, b.path, b.field, r.Body)
			}
		}
		r := c.do("GET", "/users/me/security-events?cursor=%00", nil)
		expect(t, r, 400, "VALIDATION_FAILED")
		r = c.do("GET", "/users/me/security-events?cursor=%ff", nil)
		expect(t, r, 400, "VALIDATION_FAILED")
	})
}

// Issue 10 item 10: authenticated answers and every /auth and /users answer
// are never stored by a cache.
func TestPersonalAnswersAreNotCacheable(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	c := s.client()
	c.register("cache@example.com", "a fine long passphrase")
	for _, p := range []string{"/users/me", "/auth/sessions", "/users/me/security-events"} {
		r := c.do("GET", p, nil)
		expect(t, r, 200, "")
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, got)
		}
	}
	r := c.do("PATCH", "/users/me", map[string]any{"name": "Bea"})
	expect(t, r, 200, "")
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("PATCH /users/me: Cache-Control %q", got)
	}
	anon := s.client()
	r = anon.do("GET", "/users/me", nil)
	expect(t, r, 401, "UNAUTHENTICATED")
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("401 on /users/me: Cache-Control %q", got)
	}
	r = anon.do("GET", "/.well-known/jwks.json", nil)
	if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "max-age") {
		t.Errorf("JWKS lost its caching: %q", got)
	}
}

// Issue 10 item 12: without an Origin, the browser's other signals decide.
func TestCookieRequestWithoutOriginButCrossSiteSignals(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	c := s.client()
	c.register("csrf@example.com", "a fine long passphrase")
	for _, h := range [][2]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Referer", "https://evil.example/page"},
		{"Referer", "not a url"},
	} {
		r := c.do("POST", "/auth/refresh", nil, withHeader(h[0], h[1]))
		expect(t, r, 403, "CSRF_REJECTED")
	}
	// Same-origin signals and non-browser clients keep working.
	r := c.do("POST", "/auth/refresh", nil, withHeader("Sec-Fetch-Site", "same-origin"), withHeader("Referer", s.base+"/example/"))
	expect(t, r, 200, "")
	r = c.do("POST", "/auth/refresh", nil)
	expect(t, r, 200, "")
}

// Issue 10 item 14: two refresh cookies are refused and the cookie cleared.
func TestTwoRefreshCookiesAreRefused(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	victim := s.client()
	victim.register("victim@example.com", "a fine long passphrase")
	attacker := s.client()
	attacker.register("attacker@example.com", "a fine long passphrase")
	planted := attacker.cookies["refresh_token"].Value
	for _, path := range []string{"/auth/refresh", "/auth/logout"} {
		if _, r := victim.login("victim@example.com", "a fine long passphrase", ""); r.Status != 200 {
			t.Fatalf("login: %d", r.Status)
		}
		r := victim.do("POST", path, nil, func(r *http.Request) {
			// The planted cookie comes first, as a parent-domain cookie would.
			own := r.Header.Get("Cookie")
			r.Header.Set("Cookie", "refresh_token="+planted+"; "+own)
		})
		expect(t, r, 401, "REFRESH_TOKEN_INVALID")
		if ck := r.cookie("refresh_token"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("%s: refresh cookie not cleared: %v", path, r.Header["Set-Cookie"])
		}
	}
}

// Issue 10 item 15: a refresh token of the wrong shape is 401
// REFRESH_TOKEN_INVALID, whatever its length.
func TestMalformedRefreshTokenIsUnauthorized(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	c := s.client()
	p := c.register("shape@example.com", "a fine long passphrase")
	for _, tok := range []string{p.AccessToken, "x", strings.Repeat("a", 300)} {
		r := c.do("POST", "/auth/refresh", map[string]any{"refreshToken": tok})
		expect(t, r, 401, "REFRESH_TOKEN_INVALID")
	}
}

// Issue 10 item 17: HEAD is answered like GET, without a body.
func TestHeadOnGetRoutes(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	c := s.client()
	c.register("head@example.com", "a fine long passphrase")
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/users/me", "/auth/sessions", "/docs/openapi.yaml"} {
		get := c.do("GET", p, nil)
		head := c.do("HEAD", p, nil)
		if head.Status != get.Status || len(head.Body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, GET %d", p, head.Status, len(head.Body), get.Status)
		}
		if head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q, GET %q", p, head.Header.Get("Content-Type"), get.Header.Get("Content-Type"))
		}
	}
	r := c.do("HEAD", "/auth/login", nil)
	if r.Status != 405 {
		t.Errorf("HEAD on a POST-only route: %d, want 405", r.Status)
	}
}

// Issue 10 item 5: common, breached and email-derived passwords are refused
// with a message that says why, at registration and at a password change.
func TestCommonPasswordsAreRefused(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	for pw, why := range map[string]string{
		"password":     "breach",
		"12345678":     "breach",
		"        ":     "repeated",
		"Iloveyou1":    "breach",
		"grace.hopper": "email",
	} {
		r := s.client().do("POST", "/auth/register", map[string]any{"email": "grace.hopper@example.com", "password": pw})
		expect(t, r, 400, "VALIDATION_FAILED")
		if !strings.Contains(string(r.Body), why) {
			t.Errorf("%q: the message does not say why (%s): %s", pw, why, r.Body)
		}
	}
	c := s.client()
	c.register("grace.hopper@example.com", "a fine long passphrase")
	r := c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "a fine long passphrase", "newPassword": "qwertyuiop"})
	expect(t, r, 400, "VALIDATION_FAILED")
}
