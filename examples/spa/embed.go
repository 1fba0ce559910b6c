// Package spa serves the example single-page app (index.html, style.css and the
// JavaScript modules in this folder) under /example/: app.js starts it, api.js is its
// API client, admin.js and the admin-*.js modules are its admin console (#/admin/...).
// The app is plain HTML and JavaScript modules with no build step: a frontend developer
// can read it in the browser and copy from it.
//
// The service mounts Handler at /example/ when EXAMPLE_APP_ENABLED is true. There the
// app calls the API on its own origin. To try the app against an API on another
// origin, serve the same files elsewhere with HandlerWithAPIOrigins and open
// /example/?api=<API origin>; the API must list the page's origin in its
// CORS_ALLOWED_ORIGINS.
package spa

import (
	"embed"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/internal/webasset"
)

// Prefix is the path under which the handlers serve; the page is at Prefix itself.
const Prefix = "/example/"

//go:embed index.html style.css *.js
var files embed.FS

// modules are the JavaScript modules the page loads (app.js imports the others).
var modules = []string{
	"app.js", "api.js", "ui.js", "signin.js", "account.js", "security.js", "links.js", "authorize.js",
	"admin.js", "admin-kit.js", "admin-users.js", "admin-service.js",
}

// contentSecurityPolicy is the page's CSP; %s is the connect-src list.
//
// Scripts and styles come only from the page's origin (no inline script, no eval), so
// an injected <script> does not run. connect-src says where fetch may go: with Handler
// only the page's own origin, which is also what keeps a crafted link such as
// /example/?api=https://evil.example from sending a user's password anywhere else
// (the page would show "Cannot reach the API"). form-action 'none' stops a form from
// ever submitting by itself (the app submits with fetch), and frame-ancestors 'none'
// stops other sites from framing the page (clickjacking).
const contentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self'; " +
	"img-src 'self' data:; " +
	"connect-src %s; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

type handler struct {
	csp    string
	assets map[string]*webasset.Asset // by path below Prefix; "" is the page
}

// Handler serves the example app under /example/ for the service itself: the app
// talks to the API on the same origin, and its Content-Security-Policy allows no
// other (connect-src 'self').
//
// Mount it at /example/ without stripping the prefix. GET and HEAD only; /example
// redirects to /example/; any other path is a plain-text 404.
func Handler() http.Handler {
	return newHandler("'self'")
}

// HandlerWithAPIOrigins is Handler for a page served on another origin than the API:
// the CSP also lets the page call apiOrigins (each scheme://host[:port], as in
// CORS_ALLOWED_ORIGINS). Open the page with ?api=<one of them>.
func HandlerWithAPIOrigins(apiOrigins ...string) (http.Handler, error) {
	sources := []string{"'self'"}
	for _, o := range apiOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !validHost.MatchString(u.Host) ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("spa: API origin %q is not scheme://host[:port]", o)
		}
		sources = append(sources, u.Scheme+"://"+u.Host)
	}
	return newHandler(strings.Join(sources, " ")), nil
}

// validHost is a host[:port] that can stand in a CSP source list as it is.
var validHost = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

func newHandler(connectSrc string) *handler {
	h := &handler{
		csp:    fmt.Sprintf(contentSecurityPolicy, connectSrc),
		assets: make(map[string]*webasset.Asset, 2+len(modules)),
	}
	add := func(path, file, contentType string) {
		data, err := files.ReadFile(file)
		h.assets[path] = webasset.New(file, contentType, data, err)
	}
	add("", "index.html", "text/html; charset=utf-8")
	add("style.css", "style.css", "text/css; charset=utf-8")
	for _, m := range modules {
		add(m, m, "text/javascript; charset=utf-8")
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	var a *webasset.Asset
	if strings.HasPrefix(p, Prefix) {
		a = h.assets[strings.TrimPrefix(p, Prefix)]
	}
	if a != nil {
		webasset.PageHeaders(w.Header(), h.csp)
	}
	webasset.Serve(w, r, a)
}
