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
	// The OpenID provider is on by default: ID tokens are RS256 first.
	if doc.Issuer != "https://auth.example.com" || doc.JWKSURI != "https://auth.example.com/.well-known/jwks.json" || !slices.Equal(doc.Algs, []string{"RS256", "EdDSA"}) {
		t.Errorf("discovery document %+v", doc)
	}

	// With the provider on and an issuer that is not a URL, everything
	// derives from PUBLIC_URL, never from the request.
	s1 := startServer(t, testEnv("sqlite::memory:"))
	r = s1.client().do("GET", "/.well-known/openid-configuration", nil, withHeader("X-Forwarded-Host", "evil.example"))
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != "http://localhost:3000" || doc.JWKSURI != "http://localhost:3000/.well-known/jwks.json" {
		t.Errorf("discovery document %+v", doc)
	}

	// With the provider off and an issuer that is not an https URL: the keys
	// are where this request went.
	off := testEnv("sqlite::memory:")
	off["OIDC_PROVIDER_ENABLED"] = "false"
	s2 := startServer(t, off)
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
