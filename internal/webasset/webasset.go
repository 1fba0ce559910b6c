// Package webasset serves files embedded in the binary (the Swagger UI, the
// example app): GET and HEAD only, an ETag from the content so browsers
// revalidate cheaply, no sniffing, and plain-text errors.
package webasset

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// Asset is one file ready to serve.
type Asset struct {
	Name        string
	ContentType string
	Data        []byte
	ETag        string
	// Err, when set, means the file could not be prepared: it is answered 500.
	Err error
}

// New returns an Asset for data, or a broken one for err.
func New(name, contentType string, data []byte, err error) *Asset {
	a := &Asset{Name: name, ContentType: contentType, Data: data, Err: err}
	if err == nil {
		sum := sha256.Sum256(data)
		a.ETag = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	}
	return a
}

// PageHeaders are the headers an HTML page of ours gets besides its CSP.
func PageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// Serve answers r with a (nil means 404). Only GET and HEAD are allowed;
// conditional requests are answered by http.ServeContent.
func Serve(w http.ResponseWriter, r *http.Request, a *Asset) {
	switch {
	case a == nil:
		Plain(w, http.StatusNotFound, "404 page not found")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		Plain(w, http.StatusMethodNotAllowed, "405 method not allowed")
		return
	case a.Err != nil:
		Plain(w, http.StatusInternalServerError, "500 internal server error")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.ContentType)
	hdr.Set("ETag", a.ETag)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, a.Name, time.Time{}, bytes.NewReader(a.Data))
}

// Plain writes a short plain-text answer that no cache keeps.
func Plain(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
