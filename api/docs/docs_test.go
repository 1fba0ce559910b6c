package docs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api"
)

func get(t *testing.T, srv *httptest.Server, method, p string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestIndexPage(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/docs", "/docs/"} {
		resp, body := get(t, srv, http.MethodGet, p, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", p, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s Content-Type = %q", p, ct)
		}
		if !strings.Contains(body, `src="/docs/swagger-initializer.js"`) {
			t.Errorf("GET %s does not load our initializer", p)
		}
		if !strings.Contains(body, "/docs/openapi.yaml") {
			t.Errorf("GET %s does not mention /docs/openapi.yaml", p)
		}
		if strings.Contains(strings.ToLower(body), "petstore") {
			t.Errorf("GET %s mentions petstore", p)
		}
		if regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) ||
			!regexp.MustCompile(`(?is)<script\s[^>]*src=`).MatchString(body) {
			t.Errorf("GET %s: want only external scripts, no inline script", p)
		}
	}
}

func TestInitializer(t *testing.T) {
	srv := newServer(t)
	resp, body := get(t, srv, http.MethodGet, "/docs/swagger-initializer.js", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, want := range []string{
		`url: "/docs/openapi.yaml"`,
		`withCredentials: true`,
		`deepLinking: true`,
		`validatorUrl: null`,
		`dom_id: "#swagger-ui"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("initializer lacks %s", want)
		}
	}
	if strings.Contains(strings.ToLower(body), "petstore") {
		t.Error("initializer mentions petstore")
	}
}

// TestNoOtherHost checks that neither the page nor the initializer names another
// host, and that the CSP forbids other hosts and inline scripts.
func TestNoOtherHost(t *testing.T) {
	srv := newServer(t)
	absURL := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+`)
	for _, p := range []string{"/docs", "/docs/swagger-initializer.js"} {
		_, body := get(t, srv, http.MethodGet, p, nil)
		if m := absURL.FindAllString(body, -1); len(m) > 0 {
			t.Errorf("%s names other hosts: %v", p, m)
		}
	}

	resp, _ := get(t, srv, http.MethodGet, "/docs", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"connect-src":     "'self'",
		"img-src":         "'self' data:",
		"style-src":       "'self' 'unsafe-inline'",
		"font-src":        "'self'",
		"frame-ancestors": "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("CSP %s = %q, want %q (CSP: %s)", name, directives[name], value, csp)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
		t.Errorf("CSP too loose: %s", csp)
	}
}

// TestReferencedAssets fetches every asset index.html references.
func TestReferencedAssets(t *testing.T) {
	srv := newServer(t)
	_, body := get(t, srv, http.MethodGet, "/docs", nil)
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 7 {
		t.Fatalf("index.html references only %d assets", len(refs))
	}
	wantType := map[string]string{
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".png":  "image/png",
		".yaml": "application/yaml; charset=utf-8",
	}
	seen := map[string]bool{}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/docs/") {
			t.Errorf("reference %q is not under /docs/", ref)
			continue
		}
		seen[path.Base(ref)] = true
		resp, asset := get(t, srv, http.MethodGet, ref, nil)
		if resp.StatusCode != http.StatusOK || asset == "" {
			t.Errorf("GET %s = %d (%d bytes)", ref, resp.StatusCode, len(asset))
			continue
		}
		if got, want := resp.Header.Get("Content-Type"), wantType[path.Ext(ref)]; got != want {
			t.Errorf("GET %s Content-Type = %q, want %q", ref, got, want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks X-Content-Type-Options: nosniff", ref)
		}
	}
	for _, name := range []string{
		"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
		"swagger-initializer.js", "favicon-32x32.png", "favicon-16x16.png",
	} {
		if !seen[name] {
			t.Errorf("index.html does not load %s", name)
		}
	}
}

func TestStylesFetchNothingElsewhere(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/docs/swagger-ui.css", "/docs/index.css"} {
		_, body := get(t, srv, http.MethodGet, p, nil)
		if strings.Contains(body, "@import") || regexp.MustCompile(`url\(\s*["']?https?:`).MatchString(body) {
			t.Errorf("%s loads something from another host", p)
		}
	}
}

func TestSpecFiles(t *testing.T) {
	srv := newServer(t)
	specJSON, err := api.SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, contentType, body string }{
		{"/docs/openapi.yaml", "application/yaml; charset=utf-8", string(api.SpecYAML())},
		{"/docs/openapi.json", "application/json; charset=utf-8", string(specJSON)},
	} {
		resp, body := get(t, srv, http.MethodGet, tt.path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", tt.path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != tt.contentType {
			t.Errorf("GET %s Content-Type = %q, want %q", tt.path, ct, tt.contentType)
		}
		if body != tt.body {
			t.Errorf("GET %s: body differs from the embedded spec", tt.path)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{
		"/docs/nope.js", "/docs/index.html", "/docs/oauth2-redirect.html",
		"/docs/swagger-ui.js", "/docs/swagger-ui-es-bundle.js", "/docs/../go.mod",
		"/docs/sub/swagger-ui.css", "/docsx", "/", "/docs//swagger-ui.css",
	} {
		resp, body := get(t, srv, http.MethodGet, p, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s Content-Type = %q", p, ct)
		}
		if strings.Contains(body, "<") {
			t.Errorf("GET %s body is not plain: %q", p, body)
		}
	}
	resp, _ := get(t, srv, http.MethodPost, "/docs", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /docs = %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestHeadAndConditionalGet(t *testing.T) {
	srv := newServer(t)
	resp, body := get(t, srv, http.MethodHead, "/docs/swagger-ui-bundle.js", nil)
	if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD = %d, %d bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, _ = get(t, srv, http.MethodGet, "/docs/swagger-ui-bundle.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", resp.StatusCode)
	}
}
