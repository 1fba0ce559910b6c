package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
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

// TestDiscovery: the discovery document names the issuer (PUBLIC_URL by
// default), a jwks_uri that serves the key set, and the algorithm of the
// published keys; every URL in it comes from PUBLIC_URL whatever Host and
// X-Forwarded-* headers the request carries (issue 21 item 9).
func TestDiscovery(t *testing.T) {
	env := testEnv("sqlite::memory:")
	env["PUBLIC_URL"] = "https://auth.example.com/"
	s := startServer(t, env)
	c := s.client()
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Success *bool    `json:"success"`
	}
	for _, opts := range [][]reqOpt{
		nil,
		{withHost("evil.example")},
		{withHeader("X-Forwarded-Host", "evil.example"), withHeader("X-Forwarded-Proto", "http"), withHeader("Forwarded", "host=evil.example;proto=http")},
	} {
		r := c.do("GET", "/.well-known/openid-configuration", nil, opts...)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Success != nil {
			t.Error("the discovery document is wrapped in the envelope")
		}
		if doc.Issuer != "https://auth.example.com" || doc.JWKSURI != "https://auth.example.com/.well-known/jwks.json" || !slices.Equal(doc.Algs, []string{"RS256", "EdDSA"}) {
			t.Errorf("discovery document %+v", doc)
		}
	}

	// With the OpenID provider on (the default), an issuer that is not a
	// URL gives way to PUBLIC_URL, which OIDC clients require.
	env = testEnv("sqlite::memory:")
	env["PUBLIC_URL"] = "http://id.internal:8080"
	env["JWT_ISSUER"] = "gatehouse"
	s1 := startServer(t, env)
	r := s1.client().do("GET", "/.well-known/openid-configuration", nil, withHost("evil.example"))
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != "http://id.internal:8080" || doc.JWKSURI != "http://id.internal:8080/.well-known/jwks.json" {
		t.Errorf("discovery document with the provider on %+v", doc)
	}

	// With the provider off, an issuer set apart from PUBLIC_URL is
	// published as set; the keys are still under PUBLIC_URL.
	env["OIDC_PROVIDER_ENABLED"] = "false"
	s2 := startServer(t, env)
	r = s2.client().do("GET", "/.well-known/openid-configuration", nil, withHost("evil.example"))
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != "gatehouse" || doc.JWKSURI != "http://id.internal:8080/.well-known/jwks.json" {
		t.Errorf("discovery document %+v", doc)
	}
}

// withHost sends the request with another Host header.
func withHost(host string) reqOpt { return func(r *http.Request) { r.Host = host } }

// TestDiscoveryAcceptedByGoOIDC: a standard OpenID Connect client
// (github.com/coreos/go-oidc) accepts the discovery document of a default
// configuration, where the issuer is PUBLIC_URL, and verifies access tokens
// with the keys it names. With the old default issuer "gatehouse" it
// refuses the document (issuer mismatch). Gatehouse runs behind a proxy at
// PUBLIC_URL, as in production.
func TestDiscoveryAcceptedByGoOIDC(t *testing.T) {
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + front.Addr().String()
	env := testEnv("sqlite::memory:")
	env["PUBLIC_URL"] = public
	s := startServer(t, env)
	backend, _ := url.Parse(s.base)
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(backend), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = proxy.Serve(front) }()
	t.Cleanup(func() { _ = proxy.Close() })

	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, public)
	if err != nil {
		t.Fatalf("go-oidc refuses the discovery document: %v", err)
	}
	c := s.client()
	p := c.register("oidc@example.com", "oidc password 1")
	tok, err := provider.Verifier(&oidc.Config{ClientID: "gatehouse"}).Verify(ctx, p.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc refuses an access token: %v", err)
	}
	if tok.Subject != p.User.ID || tok.Issuer != public {
		t.Errorf("verified token sub %q iss %q", tok.Subject, tok.Issuer)
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
