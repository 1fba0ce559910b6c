package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/api/verify"
)

// issuer is a stand-in Gatehouse: Ed25519 keys published as a JWK Set, and
// a GET /auth/session whose answer the test sets.
type issuer struct {
	t       *testing.T
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	public  []string // kids published
	fetches atomic.Int32
	session atomic.Int32 // status GET /auth/session answers; 0 = 200
	// liveRoles are the account's roles GET /auth/session reports (JSON).
	liveRoles atomic.Value
	checks    atomic.Int32
	srv       *httptest.Server
}

func newIssuer(t *testing.T) *issuer {
	is := &issuer{t: t, keys: map[string]ed25519.PrivateKey{}}
	is.liveRoles.Store(`["user"]`)
	is.addKey("k1", true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		set := jwk.NewSet()
		for _, kid := range is.public {
			k, err := jwk.FromRaw(is.keys[kid].Public())
			if err != nil {
				t.Error(err)
			}
			_ = k.Set(jwk.KeyIDKey, kid)
			_ = k.Set(jwk.AlgorithmKey, jwa.EdDSA)
			_ = k.Set(jwk.KeyUsageKey, "sig")
			_ = set.AddKey(k)
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET /auth/session", func(w http.ResponseWriter, r *http.Request) {
		is.checks.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch st := is.session.Load(); st {
		case 0:
			_, _ = w.Write([]byte(`{"success":true,"statusCode":200,"message":"Session active","data":{"active":true,"roles":` + is.liveRoles.Load().(string) + `}}`))
		case 401:
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"success":false,"statusCode":401,"message":"Session revoked","error":{"code":"SESSION_REVOKED"}}`))
		default:
			w.WriteHeader(int(st))
			_, _ = w.Write([]byte(`{"success":false,"statusCode":503,"message":"x","error":{"code":"SERVICE_UNAVAILABLE"}}`))
		}
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) addKey(kid string, publish bool) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		is.t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = priv
	if publish {
		is.public = append(is.public, kid)
	}
}

func (is *issuer) publish(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.public = append(is.public, kid)
}

var t0 = time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)

// claims are Gatehouse's claims of a fresh token minted at t0.
func claims() map[string]any {
	return map[string]any{
		"iss": "https://auth.example.com", "aud": "gatehouse", "sub": "user-1", "sid": "session-1",
		"jti": "token-1", "iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(15 * time.Minute).Unix(),
		"auth_time": t0.Unix(), "fresh": true, "amr": []string{"pwd"}, "roles": []string{"user"},
	}
}

// sign signs payload with the key kid under the given header fields.
func (is *issuer) sign(kid string, payload map[string]any, hdr map[string]any) string {
	is.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		is.t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	_ = h.Set(jws.TypeKey, "at+jwt")
	for k, v := range hdr {
		_ = h.Set(k, v)
	}
	is.mu.Lock()
	key := is.keys[kid]
	is.mu.Unlock()
	out, err := jws.Sign(b, jws.WithKey(jwa.EdDSA, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		is.t.Fatal(err)
	}
	return string(out)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func (is *issuer) verifier(t *testing.T, clk *clock, mod func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{
		JWKSURL: is.srv.URL + "/.well-known/jwks.json", Issuer: "https://auth.example.com", Audience: "gatehouse",
		Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verify.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyDefault starts an issuer and a verifier a minute after t0 and
// verifies a token of claims() signed with k1, failing the test if it does
// not pass; tests go on with the issuer and the verifier.
func verifyDefault(t *testing.T) (*issuer, *verify.Verifier, *verify.Claims) {
	t.Helper()
	is := newIssuer(t)
	v := is.verifier(t, &clock{now: t0.Add(time.Minute)}, nil)
	c, err := v.Verify(t.Context(), is.sign("k1", claims(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return is, v, c
}

func wantCode(t *testing.T, err error, want *verify.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %s", err, want.Code)
	}
}

func TestVerifyClaims(t *testing.T) {
	is, v, c := verifyDefault(t)
	if c.Subject != "user-1" || c.SessionID != "session-1" || !c.Fresh || !c.AuthTime.Equal(t0) ||
		!c.HasRole("user") || c.AAL != "aal1" || len(c.Methods) != 1 || c.Methods[0] != "pwd" || !c.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("claims %+v", c)
	}
	p := claims()
	p["aal"], p["amr"] = "aal2", []string{"pwd", "otp", "mfa"}
	c, err := v.Verify(t.Context(), is.sign("k1", p, nil))
	if err != nil || c.AAL != "aal2" || len(c.Methods) != 3 {
		t.Fatalf("aal2 token: %+v, %v", c, err)
	}
}

// TestAppMetadata: the app_metadata claim reaches the resource server as
// the object an administrator wrote, and is nil when the token has none.
func TestAppMetadata(t *testing.T) {
	is, v, c := verifyDefault(t)
	if c.AppMetadata != nil {
		t.Errorf("token without app_metadata gave %v", c.AppMetadata)
	}
	p := claims()
	p["app_metadata"] = map[string]any{"tenant": "acme", "plan": map[string]any{"seats": 5}}
	c, err := v.Verify(t.Context(), is.sign("k1", p, nil))
	if err != nil {
		t.Fatal(err)
	}
	tenant, ok := c.AppMetadataValue("tenant")
	if !ok || tenant != "acme" {
		t.Errorf("tenant = %v, %v", tenant, ok)
	}
	plan, _ := c.AppMetadataValue("plan")
	if seats := plan.(map[string]any)["seats"]; seats != float64(5) {
		t.Errorf("plan.seats = %v", seats)
	}
	if _, ok := c.AppMetadataValue("absent"); ok {
		t.Error("absent key reported present")
	}
}

func TestVerifyRefusals(t *testing.T) {
	is := newIssuer(t)
	is.addKey("foreign", false) // a key Gatehouse never published
	clk := &clock{now: t0.Add(time.Minute)}
	v := is.verifier(t, clk, nil)
	with := func(k string, val any) map[string]any {
		p := claims()
		if val == nil {
			delete(p, k)
		} else {
			p[k] = val
		}
		return p
	}
	good := is.sign("k1", claims(), nil)
	parts := strings.Split(good, ".")
	tests := []struct {
		name  string
		token string
		want  *verify.Error
	}{
		{"empty", "", verify.ErrUnauthenticated},
		{"garbage", "not a token", verify.ErrTokenInvalid},
		{"two segments", parts[0] + "." + parts[1], verify.ErrTokenInvalid},
		{"bad signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), verify.ErrTokenInvalid},
		{"foreign key", is.sign("foreign", claims(), nil), verify.ErrTokenInvalid},
		{"wrong iss", is.sign("k1", with("iss", "evil"), nil), verify.ErrTokenInvalid},
		{"wrong aud", is.sign("k1", with("aud", "other"), nil), verify.ErrTokenInvalid},
		{"aud list with ours", is.sign("k1", with("aud", []string{"other", "gatehouse"}), nil), nil},
		{"wrong typ", is.sign("k1", claims(), map[string]any{"typ": "JWT"}), verify.ErrTokenInvalid},
		{"no sid", is.sign("k1", with("sid", nil), nil), verify.ErrTokenInvalid},
		{"no exp", is.sign("k1", with("exp", nil), nil), verify.ErrTokenInvalid},
		{"expired", is.sign("k1", with("exp", t0.Add(30*time.Second).Unix()), nil), verify.ErrTokenExpired},
		{"not yet valid", is.sign("k1", with("nbf", t0.Add(5*time.Minute).Unix()), nil), verify.ErrTokenInvalid},
		{"alg none", noneToken(parts[1]), verify.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.want)
		})
	}
}

func noneToken(payload string) string {
	h := `{"alg":"none","kid":"k1","typ":"at+jwt"}`
	return strings.TrimRight(b64(h), "=") + "." + payload + "."
}

func b64(s string) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out strings.Builder
	b := []byte(s)
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := 0
		for j := 0; j < 3; j++ {
			n <<= 8
			if i+j < len(b) {
				n |= uint32(b[i+j])
				k++
			}
		}
		for j := 0; j <= k; j++ {
			out.WriteByte(enc[(n>>(18-6*uint(j)))&63])
		}
	}
	return out.String()
}

func TestLeeway(t *testing.T) {
	is := newIssuer(t)
	p := claims()
	p["exp"] = t0.Add(time.Minute).Unix()
	tok := is.sign("k1", p, nil)
	clk := &clock{now: t0.Add(time.Minute + 2*time.Second)}
	_, err := is.verifier(t, clk, nil).Verify(t.Context(), tok)
	wantCode(t, err, verify.ErrTokenExpired)
	if _, err := is.verifier(t, clk, func(c *verify.Config) { c.Leeway = 5 * time.Second }).Verify(t.Context(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	if _, err := verify.New(t.Context(), verify.Config{JWKSURL: "x", Issuer: "i", Audience: "a", Leeway: time.Hour}); err == nil {
		t.Error("an hour of leeway was accepted")
	}
}

// TestKeyRotation: a token signed by a key published after the set was
// cached makes the verifier fetch the set again, at most once per
// MinKeyRefresh.
func TestKeyRotation(t *testing.T) {
	is := newIssuer(t)
	clk := &clock{now: t0.Add(time.Minute)}
	v := is.verifier(t, clk, nil)
	if _, err := v.Verify(t.Context(), is.sign("k1", claims(), nil)); err != nil {
		t.Fatal(err)
	}
	before := is.fetches.Load()
	is.addKey("k2", true)
	if _, err := v.Verify(t.Context(), is.sign("k2", claims(), nil)); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if is.fetches.Load() != before+1 {
		t.Errorf("fetches %d -> %d, want one more", before, is.fetches.Load())
	}
	// Unknown kids within MinKeyRefresh do not hammer Gatehouse.
	is.addKey("k3", false)
	for range 5 {
		_, err := v.Verify(t.Context(), is.sign("k3", claims(), nil))
		wantCode(t, err, verify.ErrTokenInvalid)
	}
	if is.fetches.Load() != before+1 {
		t.Errorf("unknown kids fetched the set %d more times", is.fetches.Load()-before-1)
	}
	is.publish("k3")
	clk.add(11 * time.Second)
	if _, err := v.Verify(t.Context(), is.sign("k3", claims(), nil)); err != nil {
		t.Fatalf("after MinKeyRefresh: %v", err)
	}
}

func TestKeysUnreachableFailsClosed(t *testing.T) {
	is := newIssuer(t)
	tok := is.sign("k1", claims(), nil)
	is.srv.Close()
	clk := &clock{now: t0.Add(time.Minute)}
	_, err := is.verifier(t, clk, nil).Verify(t.Context(), tok)
	wantCode(t, err, verify.ErrUnavailable)
}

func TestOnlineMode(t *testing.T) {
	is := newIssuer(t)
	clk := &clock{now: t0.Add(time.Minute)}
	v := is.verifier(t, clk, func(c *verify.Config) {
		c.SessionURL = is.srv.URL + "/auth/session"
		c.SessionCacheTTL = 5 * time.Second
	})
	tok := is.sign("k1", claims(), nil)
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := is.checks.Load(); n != 1 {
		t.Errorf("%d session checks for 3 requests within the cache time, want 1", n)
	}
	is.session.Store(401) // the session is revoked at Gatehouse
	clk.add(4 * time.Second)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("within the cache time the old answer holds: %v", err)
	}
	clk.add(time.Second + time.Millisecond)
	_, err := v.Verify(t.Context(), tok)
	wantCode(t, err, verify.ErrSessionRevoked)

	// Gatehouse unreachable: closed by default, open when asked.
	is.session.Store(503)
	clk.add(time.Minute)
	p := claims()
	p["sid"] = "session-2"
	tok2 := is.sign("k1", p, nil)
	_, err = v.Verify(t.Context(), tok2)
	wantCode(t, err, verify.ErrUnavailable)
	open := is.verifier(t, clk, func(c *verify.Config) {
		c.SessionURL = is.srv.URL + "/auth/session"
		c.FailOpen = true
	})
	if _, err := open.Verify(t.Context(), tok2); err != nil {
		t.Fatalf("fail open: %v", err)
	}
}

// Issue 21 item 11: in online mode the roles are the live answer's, the
// account's roles now, not the token's from when it was minted: a role an
// administrator removed stops counting once the cached answer expires, and
// one added counts.
func TestOnlineModeUsesLiveRoles(t *testing.T) {
	is := newIssuer(t)
	clk := &clock{now: t0.Add(time.Minute)}
	v := is.verifier(t, clk, func(c *verify.Config) {
		c.SessionURL = is.srv.URL + "/auth/session"
		c.SessionCacheTTL = 5 * time.Second
	})
	p := claims()
	p["roles"] = []string{"user", "admin"}
	tok := is.sign("k1", p, nil)
	admin := v.Middleware(v.RequireRole("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	status := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/admin", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		admin.ServeHTTP(rec, req)
		return rec.Code
	}
	is.liveRoles.Store(`["user"]`) // demoted after the token was minted
	c, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Roles, []string{"user"}) || c.HasRole("admin") {
		t.Errorf("roles %v, want the live answer's [user]", c.Roles)
	}
	if got := status(); got != http.StatusForbidden {
		t.Errorf("a demoted admin's token reached an admin route: %d", got)
	}
	// From the cache too; and a role added shows after the cache time.
	is.liveRoles.Store(`["user","admin"]`)
	if got := status(); got != http.StatusForbidden {
		t.Errorf("cached answer: %d", got)
	}
	clk.add(6 * time.Second)
	if got := status(); got != http.StatusOK {
		t.Errorf("after promotion and the cache time: %d", got)
	}
	// An answer without roles is not Gatehouse's: closed, as for any other.
	is.liveRoles.Store(`null`)
	clk.add(6 * time.Second)
	_, err = v.Verify(t.Context(), tok)
	wantCode(t, err, verify.ErrUnavailable)
}

// TestMiddlewareAnswers: refusals come in Gatehouse's envelope with its
// challenges; the step-up answer is RFC 9470's.
func TestMiddlewareAnswers(t *testing.T) {
	is := newIssuer(t)
	clk := &clock{now: t0.Add(time.Minute)}
	v := is.verifier(t, clk, nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	})
	mux := http.NewServeMux()
	mux.Handle("/me", v.Middleware(ok))
	mux.Handle("/sensitive", v.Middleware(v.RequireFresh(10*time.Minute)(ok)))
	mux.Handle("/factors", v.Middleware(v.RequireAAL("aal2")(ok)))
	mux.Handle("/admin", v.Middleware(v.RequireRole("admin")(ok)))

	do := func(path, tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if tok != "" {
			r.Header.Set("Authorization", tok)
		}
		r.Header.Set("X-Request-ID", "req-1")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	fresh := "Bearer " + is.sign("k1", claims(), nil)
	p := claims()
	p["fresh"] = false
	stale := "Bearer " + is.sign("k1", p, nil)

	if w := do("/me", fresh); w.Code != 200 || w.Body.String() != "user-1" {
		t.Fatalf("/me = %d %s", w.Code, w.Body)
	}
	tests := []struct {
		path, tok, code, challenge string
		status                     int
	}{
		{"/me", "", "UNAUTHENTICATED", `Bearer realm="gatehouse"`, 401},
		{"/me", "Basic abc", "TOKEN_INVALID", `Bearer realm="gatehouse", error="invalid_token"`, 401},
		{"/me", "Bearer x.y.z", "TOKEN_INVALID", `Bearer realm="gatehouse", error="invalid_token"`, 401},
		{"/sensitive", stale, "FRESH_AUTH_REQUIRED", `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=600`, 403},
		{"/factors", fresh, "FRESH_AUTH_REQUIRED", `Bearer error="insufficient_user_authentication", acr_values="aal2"`, 403},
		{"/admin", fresh, "FORBIDDEN", "", 403},
	}
	for _, tt := range tests {
		w := do(tt.path, tt.tok)
		var env struct {
			Success    bool   `json:"success"`
			StatusCode int    `json:"statusCode"`
			Message    string `json:"message"`
			Error      struct {
				Code string `json:"code"`
			} `json:"error"`
			Path      string `json:"path"`
			RequestID string `json:"requestId"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s: %v: %s", tt.path, err, w.Body)
		}
		if w.Code != tt.status || env.StatusCode != tt.status || env.Success || env.Error.Code != tt.code ||
			env.Path != tt.path || env.RequestID != "req-1" || w.Header().Get("X-Request-ID") != "req-1" || env.Timestamp == "" {
			t.Errorf("%s %q: %d %s", tt.path, tt.tok, w.Code, w.Body)
		}
		if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tt.path, got, tt.challenge)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tt.path, ct)
		}
	}
	// Fresh but too old for the window: refused too.
	clk.add(11 * time.Minute)
	if w := do("/sensitive", fresh); w.Code != 403 {
		t.Errorf("an 11-minute-old proof passed a 10-minute window: %d", w.Code)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, cfg := range []verify.Config{
		{Issuer: "i", Audience: "a"},
		{JWKSURL: "http://x", Audience: "a"},
		{JWKSURL: "http://x", Issuer: "i", Audience: "a", SessionCacheTTL: -1},
	} {
		if _, err := verify.New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
