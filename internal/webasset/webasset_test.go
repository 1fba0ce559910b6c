package webasset

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestServe(t *testing.T) {
	a := New("app.js", "text/javascript; charset=utf-8", []byte("console.log(1)"), nil)
	rec := httptest.NewRecorder()
	Serve(rec, httptest.NewRequest(http.MethodGet, "/x/app.js", nil), a)
	if rec.Code != 200 || rec.Body.String() != "console.log(1)" || rec.Header().Get("ETag") == "" ||
		rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	// Revalidation with the ETag costs no body.
	req := httptest.NewRequest(http.MethodGet, "/x/app.js", nil)
	req.Header.Set("If-None-Match", a.ETag)
	rec = httptest.NewRecorder()
	Serve(rec, req, a)
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d", rec.Code)
	}
	cases := []struct {
		method string
		asset  *Asset
		status int
	}{
		{http.MethodPost, a, http.StatusMethodNotAllowed},
		{http.MethodGet, nil, http.StatusNotFound},
		{http.MethodGet, New("x", "text/plain", nil, errors.New("broken")), http.StatusInternalServerError},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		Serve(rec, httptest.NewRequest(c.method, "/x", nil), c.asset)
		if rec.Code != c.status || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v", c.method, rec.Code, rec.Header())
		}
	}
}
