// Package docs serves Gatehouse's API documentation under /docs: a Swagger UI page
// that works offline (every asset is served from /docs/, nothing is fetched from any
// other host) and the OpenAPI document as YAML and JSON.
package docs

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/internal/webasset"
)

// Prefix is the path under which Handler serves.
const Prefix = "/docs"

// ContentSecurityPolicy is sent with the Swagger UI page. Only this origin may
// provide scripts, styles, images, fonts and API calls; inline scripts are
// forbidden (the initializer is its own file). Swagger UI sets inline styles and
// uses data: images, so those two are allowed.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self'; " +
	"connect-src 'self'; " +
	"manifest-src 'self'; " +
	"base-uri 'none'; " +
	"form-action 'self'; " +
	"frame-ancestors 'none'"

const (
	typeHTML = "text/html; charset=utf-8"
	typeJS   = "text/javascript; charset=utf-8"
	typeCSS  = "text/css; charset=utf-8"
	typePNG  = "image/png"
	typeJSON = "application/json; charset=utf-8"
	typeYAML = "application/yaml; charset=utf-8"
)

//go:embed index.html swagger-initializer.js
var own embed.FS

// uiAssets lists the files taken from github.com/swaggo/files/v2, with their
// content types. Its stock index.html and swagger-initializer.js are deliberately
// absent: they load a public demo spec.
func uiAssets() map[string]string {
	return map[string]string{
		"swagger-ui.css":                      typeCSS,
		"swagger-ui.css.map":                  typeJSON,
		"index.css":                           typeCSS,
		"swagger-ui-bundle.js":                typeJS,
		"swagger-ui-bundle.js.map":            typeJSON,
		"swagger-ui-standalone-preset.js":     typeJS,
		"swagger-ui-standalone-preset.js.map": typeJSON,
		"favicon-32x32.png":                   typePNG,
		"favicon-16x16.png":                   typePNG,
	}
}

type handler struct {
	index *webasset.Asset            // the HTML page: gets the Content-Security-Policy
	files map[string]*webasset.Asset // by name under /docs/
}

// Handler returns the handler for GET (and HEAD) requests under /docs:
//
//   - /docs and /docs/: the Swagger UI page (text/html), with a strict
//     Content-Security-Policy;
//   - /docs/openapi.yaml and /docs/openapi.json: the OpenAPI document;
//   - /docs/swagger-initializer.js and the Swagger UI assets the page loads;
//   - anything else under /docs/: 404, plain text; other methods: 405.
//
// Responses carry an ETag and Cache-Control: no-cache, so browsers revalidate
// cheaply. The handler is plain net/http: mount it at /docs and /docs/ (or /docs*)
// without stripping the prefix.
func Handler() http.Handler {
	h := &handler{files: make(map[string]*webasset.Asset)}
	h.index = fromFS(own, "index.html", typeHTML)
	h.files["swagger-initializer.js"] = fromFS(own, "swagger-initializer.js", typeJS)
	for name, contentType := range uiAssets() {
		h.files[name] = fromFS(swaggerfiles.FS, name, contentType)
	}
	h.files["openapi.yaml"] = webasset.New("openapi.yaml", typeYAML, api.SpecYAML(), nil)
	specJSON, err := api.SpecJSON()
	h.files["openapi.json"] = webasset.New("openapi.json", typeJSON, specJSON, err)
	return h
}

func fromFS(fsys fs.FS, name, contentType string) *webasset.Asset {
	if fsys == nil {
		return webasset.New(name, contentType, nil, fs.ErrNotExist)
	}
	data, err := fs.ReadFile(fsys, name)
	return webasset.New(name, contentType, data, err)
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f *webasset.Asset
	switch p := r.URL.Path; {
	case p == Prefix || p == Prefix+"/":
		f = h.index
		webasset.PageHeaders(w.Header(), ContentSecurityPolicy)
	case strings.HasPrefix(p, Prefix+"/"):
		f = h.files[strings.TrimPrefix(p, Prefix+"/")]
	}
	webasset.Serve(w, r, f)
}
