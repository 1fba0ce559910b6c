package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/api/verify"
)

// TestExampleAPI drives the example against a stand-in Gatehouse (its keys
// and its session check); cmd/gatehouse tests api/verify against the real one.
func TestExampleAPI(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var revoked atomic.Bool
	gh := http.NewServeMux()
	gh.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		k, _ := jwk.FromRaw(priv.Public())
		_ = k.Set(jwk.KeyIDKey, "k1")
		_ = k.Set(jwk.AlgorithmKey, jwa.EdDSA)
		set := jwk.NewSet()
		_ = set.AddKey(k)
		_ = json.NewEncoder(w).Encode(set)
	})
	gh.HandleFunc("GET /auth/session", func(w http.ResponseWriter, r *http.Request) {
		if revoked.Load() {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"success":false,"statusCode":401,"error":{"code":"SESSION_REVOKED"}}`))
			return
		}
		// The account's roles are those the token was minted with (Gatehouse
		// answers the account's roles now, which api/verify uses).
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Roles []string `json:"roles"`
		}
		_ = json.Unmarshal(payload, &c)
		roles, _ := json.Marshal(c.Roles)
		_, _ = w.Write([]byte(`{"success":true,"statusCode":200,"data":{"active":true,"roles":` + string(roles) + `}}`))
	})
	ghs := httptest.NewServer(gh)
	defer ghs.Close()

	now := time.Now()
	sign := func(fresh bool, roles ...string) string {
		b, _ := json.Marshal(map[string]any{"iss": "gatehouse", "aud": "gatehouse", "sub": "u1", "sid": "s1", "jti": "j",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "auth_time": now.Unix(), "fresh": fresh, "roles": roles})
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, "k1")
		_ = h.Set(jws.TypeKey, "at+jwt")
		tok, err := jws.Sign(b, jws.WithKey(jwa.EdDSA, priv, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	v, err := verify.New(t.Context(), verify.Config{JWKSURL: ghs.URL + "/.well-known/jwks.json", Issuer: "gatehouse",
		Audience: "gatehouse", SessionURL: ghs.URL + "/auth/session", SessionCacheTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newHandler(v))
	defer api.Close()

	do := func(method, path, tok, body string) (int, string) {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	user, stale, admin := sign(true, "user"), sign(false, "user"), sign(false, "admin")
	if st, body := do("POST", "/notes", user, `{"text":"milk"}`); st != 201 {
		t.Fatalf("add: %d %s", st, body)
	}
	if st, body := do("GET", "/notes", stale, ""); st != 200 || !strings.Contains(body, "milk") {
		t.Fatalf("list: %d %s", st, body)
	}
	if st, body := do("GET", "/notes", "", ""); st != 401 || !strings.Contains(body, `"UNAUTHENTICATED"`) {
		t.Errorf("no token: %d %s", st, body)
	}
	if st, body := do("DELETE", "/notes", stale, ""); st != 403 || !strings.Contains(body, `"FRESH_AUTH_REQUIRED"`) {
		t.Errorf("delete with a refreshed token: %d %s", st, body)
	}
	if st, _ := do("DELETE", "/notes", user, ""); st != 204 {
		t.Errorf("delete with a fresh token: %d", st)
	}
	if st, _ := do("GET", "/stats", user, ""); st != 403 {
		t.Errorf("stats as user: %d", st)
	}
	if st, _ := do("GET", "/stats", admin, ""); st != 200 {
		t.Errorf("stats as admin: %d", st)
	}
	revoked.Store(true)
	if st, body := do("GET", "/notes", user, ""); st != 401 || !strings.Contains(body, `"SESSION_REVOKED"`) {
		t.Errorf("revoked session: %d %s", st, body)
	}

	revoked.Store(false)

	// The example's own errors are Gatehouse's envelope too.
	type envelope struct {
		Success    bool   `json:"success"`
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Error      struct {
			Code    string `json:"code"`
			Details []struct {
				Field, Message string
			} `json:"details"`
		} `json:"error"`
		Path      string `json:"path"`
		RequestID string `json:"requestId"`
	}
	for _, c := range []struct {
		method, path, contentType, body string
		status                          int
		code, field                     string
	}{
		{"GET", "/nope", "", "", 404, "NOT_FOUND", ""},
		{"PUT", "/notes", "", "", 405, "METHOD_NOT_ALLOWED", ""},
		{"POST", "/notes", "text/plain", "milk", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"POST", "/notes", "application/json", `{"text":`, 400, "MALFORMED_JSON", ""},
		{"POST", "/notes", "application/json", `{"text":"a"} {"text":"b"}`, 400, "MALFORMED_JSON", ""},
		{"POST", "/notes", "application/json", `{"text":""}`, 400, "VALIDATION_FAILED", "text"},
		{"POST", "/notes", "application/json; charset=utf-8", `{"text":"a","colour":"red"}`, 400, "VALIDATION_FAILED", "colour"},
		{"POST", "/notes", "application/json", `{"text":"` + strings.Repeat("a", 5000) + `"}`, 413, "PAYLOAD_TOO_LARGE", ""},
	} {
		req, _ := http.NewRequest(c.method, api.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+user)
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		err = json.NewDecoder(resp.Body).Decode(&env)
		_ = resp.Body.Close()
		name := c.method + " " + c.path + " " + c.code
		if err != nil || resp.StatusCode != c.status || env.Success || env.StatusCode != c.status || env.Error.Code != c.code ||
			env.Path != c.path || env.RequestID == "" || env.RequestID != resp.Header.Get("X-Request-ID") || env.Message == "" {
			t.Errorf("%s: %d %+v %v", name, resp.StatusCode, env, err)
		}
		if c.field != "" && (len(env.Error.Details) != 1 || env.Error.Details[0].Field != c.field) {
			t.Errorf("%s: details %+v", name, env.Error.Details)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: no Allow header", name)
		}
	}
}
