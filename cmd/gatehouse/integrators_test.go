package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestSessionCheck: GET /auth/session reports a live session and refuses a
// dead one with the usual codes, which is what a resource server's online
// mode relies on.
func TestSessionCheck(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		c := s.client()
		p := c.register("check@example.com", "check password")

		r := c.do("GET", "/auth/session", nil)
		expect(t, r, 200, "")
		var st struct {
			ID       string   `json:"id"`
			UserID   string   `json:"userId"`
			Active   bool     `json:"active"`
			Roles    []string `json:"roles"`
			Fresh    bool     `json:"fresh"`
			Methods  []string `json:"amr"`
			AuthTime string   `json:"authTime"`
		}
		r.data(t, &st)
		if st.ID != p.Session.ID || st.UserID != p.User.ID || !st.Active || !st.Fresh || !slices.Contains(st.Methods, "pwd") || st.AuthTime == "" {
			t.Errorf("session state %+v for pair session %s user %s", st, p.Session.ID, p.User.ID)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}

		anon := s.client()
		expect(t, anon.do("GET", "/auth/session", nil), 401, "UNAUTHENTICATED")
		anon.bearer = "not.a.token"
		expect(t, anon.do("GET", "/auth/session", nil), 401, "TOKEN_INVALID")

		expect(t, c.do("POST", "/auth/logout", nil), 200, "")
		expect(t, c.do("GET", "/auth/session", nil), 401, "SESSION_REVOKED")
	})
}

// TestDiscovery: the discovery document names the issuer, a jwks_uri that
// serves the key set, and the algorithm of the published keys.
func TestDiscovery(t *testing.T) {
	env := testEnv("sqlite::memory:")
	env["JWT_ISSUER"] = "https://auth.example.com"
	s := startServer(t, env)
	c := s.client()
	r := c.do("GET", "/.well-known/openid-configuration", nil)
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Success *bool    `json:"success"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Success != nil {
		t.Error("the discovery document is wrapped in the envelope")
	}
	if doc.Issuer != "https://auth.example.com" || doc.JWKSURI != "https://auth.example.com/.well-known/jwks.json" || !slices.Equal(doc.Algs, []string{"EdDSA"}) {
		t.Errorf("discovery document %+v", doc)
	}

	// An issuer that is not an https URL: the keys are where this request went.
	s2 := startServer(t, testEnv("sqlite::memory:"))
	r = s2.client().do("GET", "/.well-known/openid-configuration", nil)
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != "gatehouse" || doc.JWKSURI != s2.base+"/.well-known/jwks.json" {
		t.Errorf("discovery document %+v (base %s)", doc, s2.base)
	}
	keys := s2.client().do("GET", "/.well-known/jwks.json", nil)
	if keys.Status != 200 {
		t.Fatalf("jwks_uri answered %d", keys.Status)
	}
}

// TestRootRedirectsToDocs: a newcomer opening the service's address lands on the docs.
func TestRootRedirectsToDocs(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	c := s.client()
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := c.do("GET", "/", nil)
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/docs" {
		t.Fatalf("GET / = %d Location %q", r.Status, r.Header.Get("Location"))
	}
}

// Issue 24 item 6: "no refresh token" is one code on both routes that take
// one: refresh and logout with no credential at all are 401
// REFRESH_TOKEN_INVALID (logout said UNAUTHENTICATED); a bearer that fails
// on logout keeps the bearer codes.
func TestNoRefreshTokenIsOneCode(t *testing.T) {
	s := startServer(t, testEnv("sqlite::memory:"))
	anon := s.client()
	for _, body := range []any{nil, map[string]any{}} {
		expect(t, anon.do("POST", "/auth/refresh", body), 401, "REFRESH_TOKEN_INVALID")
		expect(t, anon.do("POST", "/auth/logout", body), 401, "REFRESH_TOKEN_INVALID")
	}
	anon.bearer = "not.a.token"
	expect(t, anon.do("POST", "/auth/logout", nil), 401, "TOKEN_INVALID")
	// A bearer alone still logs out.
	c := s.client()
	p := c.register("nocookie@example.com", "no cookie password")
	b := s.client()
	b.bearer = p.AccessToken
	expect(t, b.do("POST", "/auth/logout", nil), 200, "")
}
