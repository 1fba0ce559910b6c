package spa

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func serve(h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesTheApp(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/example/", "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"/example/app.js", "text/javascript; charset=utf-8", "connectPage({"},
		{"/example/api.js", "text/javascript; charset=utf-8", "credentials: 'include'"},
		{"/example/admin.js", "text/javascript; charset=utf-8", "export function startConsole"},
		{"/example/admin-kit.js", "text/javascript; charset=utf-8", "export function route"},
		{"/example/style.css", "text/css; charset=utf-8", ":root"},
	} {
		rec := serve(h, http.MethodGet, tc.path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", tc.path, rec.Code)
			continue
		}
		hdr := rec.Header()
		if got := hdr.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self';", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("ETag") == "" {
			t.Errorf("GET %s: headers %v", tc.path, hdr)
		}

		// Revalidation with the ETag.
		again := serve(h, http.MethodGet, tc.path, http.Header{"If-None-Match": {hdr.Get("ETag")}})
		if again.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d, want 304", tc.path, again.Code)
		}
		if head := serve(h, http.MethodHead, tc.path, nil); head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", tc.path, head.Code, head.Body.Len())
		}
	}
}

func TestHandlerOtherPaths(t *testing.T) {
	h := Handler()
	if rec := serve(h, http.MethodGet, "/example", nil); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/example/" {
		t.Errorf("GET /example: %d to %q, want 301 to /example/", rec.Code, rec.Header().Get("Location"))
	}
	for _, p := range []string{"/example/index.html", "/example/embed.go", "/example/../app.js", "/app.js", "/", "/example/app.js/x"} {
		if rec := serve(h, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	rec := serve(h, http.MethodPost, "/example/", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /example/: %d, Allow %q; want 405 and GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestHandlerWithAPIOrigins(t *testing.T) {
	h, err := HandlerWithAPIOrigins("http://127.0.0.1:3000", "https://auth.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	csp := serve(h, http.MethodGet, "/example/", nil).Header().Get("Content-Security-Policy")
	if want := "connect-src 'self' http://127.0.0.1:3000 https://auth.example.com;"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
	for _, bad := range []string{"", "127.0.0.1:3000", "ftp://example.com", "https://example.com/api",
		"https://example.com?x=1", "https://user@example.com", "*", "'unsafe-inline'", "https://a.example https://b.example",
		"https://example.com;script-src", "http://[::1]:3000x"} {
		if _, err := HandlerWithAPIOrigins(bad); err == nil {
			t.Errorf("HandlerWithAPIOrigins(%q): no error", bad)
		}
	}
}

// Every module is served, and every module a module imports is one of them: a
// module missing from the list would fail to load in the browser, and with it the page.
func TestModulesAreServed(t *testing.T) {
	h := Handler()
	embedded, err := fs.Glob(files, "*.js")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(embedded)), slices.Sorted(slices.Values(modules))) {
		t.Errorf("embedded modules %v, served %v", embedded, modules)
	}
	imports := regexp.MustCompile(`(?m)^(?:import|export) [^;]*? from '\./([^']+)';`)
	for _, m := range modules {
		rec := serve(h, http.MethodGet, "/example/"+m, nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("GET /example/%s: %d %q", m, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, imp := range imports.FindAllStringSubmatch(rec.Body.String(), -1) {
			if !slices.Contains(modules, imp[1]) {
				t.Errorf("%s imports ./%s, which is not served", m, imp[1])
			}
		}
	}
}

// Every element the modules look up exists in index.html, and the page loads nothing
// from another host.
func TestAppMatchesPage(t *testing.T) {
	page, err := files.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	style, err := files.ReadFile("style.css")
	if err != nil {
		t.Fatal(err)
	}
	byID := regexp.MustCompile(`byId\('([^']+)'\)`)
	found := 0
	for _, name := range modules {
		script, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range byID.FindAllStringSubmatch(string(script), -1) {
			found++
			if !strings.Contains(string(page), `id="`+m[1]+`"`) {
				t.Errorf("%s uses #%s, which index.html lacks", name, m[1])
			}
		}
	}
	if found < 80 {
		t.Fatalf("found only %d byId calls in the modules", found)
	}
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|url\(\s*['"]?(https?:)?//|@import`)
	for name, text := range map[string][]byte{"index.html": page, "style.css": style} {
		if loc := external.Find(text); loc != nil {
			t.Errorf("%s loads an external resource: %s", name, loc)
		}
	}
}
