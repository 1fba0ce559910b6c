package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
)

// The JWKS is the key set as is, cacheable for the configured time (or
// revalidated every time when that is zero).
func TestJWKS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAge func(*Options)
		want   string
	}{
		{"max-age", func(*Options) {}, "public, max-age=3600"},
		{"no-cache", func(o *Options) { o.JWKSMaxAge = 0 }, "no-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(_ *Deps, o *Options) { tc.maxAge(o) })
			r := s.do(http.MethodGet, "/.well-known/jwks.json", "")
			if r.Code != 200 || r.Header.Get("Cache-Control") != tc.want || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("%d %v", r.Code, r.Header)
			}
			if string(r.Body) != testJWKS {
				t.Errorf("body %s", r.Body)
			}
		})
	}
}

// The discovery document is built on PUBLIC_URL, whatever Host the request
// names, lists the key set's algorithms, and may be cached by anyone.
func TestDiscovery(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) {
		d.JWKS = func() []byte {
			return []byte(`{"keys":[{"kid":"a","alg":"EdDSA"},{"kid":"b","alg":"ES256"},{"kid":"c","alg":"EdDSA"},{"kid":"d"}]}`)
		}
	})
	r := s.do(http.MethodGet, "/.well-known/openid-configuration", "", func(r *http.Request) {
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "evil.example")
	})
	if r.Code != 200 || r.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("%d %v", r.Code, r.Header)
	}
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Authz   *string  `json:"authorization_endpoint"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != "https://id.example.com" || doc.JWKSURI != "https://id.example.com/.well-known/jwks.json" {
		t.Errorf("doc %+v", doc)
	}
	if !slices.Equal(doc.Algs, []string{"ES256", "EdDSA"}) {
		t.Errorf("algs %v", doc.Algs)
	}
	if doc.Authz != nil {
		t.Error("provider endpoints without a provider")
	}
	// A key set that cannot be read lists no algorithm rather than failing.
	if got := jwksAlgorithms([]byte("not json")); len(got) != 0 {
		t.Errorf("algs of garbage: %v", got)
	}
}

// readyz is 503 with Retry-After while the database is down; healthz never
// asks it.
func TestProbes(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) {
		d.Ready = func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") }
	})
	r := s.do(http.MethodGet, "/readyz", "")
	if r.Code != 503 || r.errCode() != CodeServiceUnavailable || r.Header.Get("Retry-After") != "1" {
		t.Errorf("%d %s %v", r.Code, r.Body, r.Header)
	}
	r = s.do(http.MethodGet, "/healthz", "")
	st := dataOf[statusDTO](t, r)
	if r.Code != 200 || st.Status != "ok" {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}

// With the docs served, the root sends a browser to them; with the example
// app served, /example redirects to its directory.
func TestRootAndExample(t *testing.T) {
	example := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html>"))
	})
	s := newTestServer(t, func(d *Deps, _ *Options) { d.Docs = http.NotFoundHandler(); d.Example = example })
	r := s.do(http.MethodGet, "/", "")
	if r.Code != http.StatusFound || r.Header.Get("Location") != "/docs" {
		t.Errorf("root: %d %v", r.Code, r.Header)
	}
	rec := s.rawDo(http.MethodGet, "/example", "")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/example/" {
		t.Errorf("/example: %d %v", rec.Code, rec.Header())
	}
	rec = s.rawDo(http.MethodGet, "/example/index.html", "")
	if rec.Code != 200 || rec.Body.String() != "<!doctype html>" || rec.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("/example/: %d %v", rec.Code, rec.Header())
	}
	// Without the docs there is no root.
	s = newTestServer(t)
	if r := s.do(http.MethodGet, "/", ""); r.Code != 404 {
		t.Errorf("root without docs: %d", r.Code)
	}
}
