package verifyecho_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/api/verify"
	"github.com/gatehouse/gatehouse/api/verify/verifyecho"
)

func TestEchoMiddleware(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := jwk.FromRaw(priv.Public())
		_ = k.Set(jwk.KeyIDKey, "k1")
		_ = k.Set(jwk.AlgorithmKey, jwa.EdDSA)
		set := jwk.NewSet()
		_ = set.AddKey(k)
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer keys.Close()
	now := time.Now()
	sign := func(fresh bool, roles ...string) string {
		b, _ := json.Marshal(map[string]any{"iss": "gh", "aud": "gh", "sub": "u1", "sid": "s1", "jti": "j",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "auth_time": now.Unix(), "fresh": fresh, "roles": roles})
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, "k1")
		_ = h.Set(jws.TypeKey, "at+jwt")
		tok, err := jws.Sign(b, jws.WithKey(jwa.EdDSA, priv, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + string(tok)
	}
	v, err := verify.New(t.Context(), verify.Config{JWKSURL: keys.URL, Issuer: "gh", Audience: "gh"})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	hello := func(c echo.Context) error {
		cl, _ := verifyecho.Claims(c)
		return c.String(200, cl.Subject)
	}
	mw := verifyecho.Middleware(v)
	e.GET("/me", hello, mw)
	e.POST("/sensitive", hello, mw, verifyecho.RequireFresh(v, 5*time.Minute))
	e.GET("/admin", hello, mw, verifyecho.RequireRole(v, "admin"))

	tests := []struct {
		method, path, auth string
		status             int
		code               string
	}{
		{"GET", "/me", sign(false), 200, ""},
		{"GET", "/me", "", 401, "UNAUTHENTICATED"},
		{"GET", "/me", "Bearer nope", 401, "TOKEN_INVALID"},
		{"POST", "/sensitive", sign(false), 403, "FRESH_AUTH_REQUIRED"},
		{"POST", "/sensitive", sign(true), 200, ""},
		{"GET", "/admin", sign(true, "user"), 403, "FORBIDDEN"},
		{"GET", "/admin", sign(true, "admin"), 200, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		var env struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if tt.code != "" {
			_ = json.Unmarshal(w.Body.Bytes(), &env)
		}
		if w.Code != tt.status || env.Error.Code != tt.code {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, w.Code, w.Body, tt.status, tt.code)
		}
	}
	if w := httptest.NewRecorder(); true {
		r := httptest.NewRequest("POST", "/sensitive", nil)
		r.Header.Set("Authorization", sign(false))
		e.ServeHTTP(w, r)
		if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=300` {
			t.Errorf("step-up challenge %q", got)
		}
	}
}
