package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/api/verify"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestVerifierAgainstGatehouse: api/verify accepts a real Gatehouse's tokens,
// refuses bad ones with the very answer Gatehouse gives, and in online mode
// refuses a revoked session once its cached answer is older than the cache time.
func TestVerifierAgainstGatehouse(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		clk := &testClock{now: time.Now()}
		const ttl = 2 * time.Second
		v, err := verify.New(t.Context(), verify.Config{
			JWKSURL: s.base + "/.well-known/jwks.json", Issuer: s.cfg.JWT.Issuer, Audience: "gatehouse",
			SessionURL: s.base + "/auth/session", SessionCacheTTL: ttl, Now: clk.Now,
			// The clock stands still from here, and the tokens are issued
			// after: one issued past the next second boundary carries an
			// iat later than the frozen now.
			Leeway: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Prefetch(t.Context()); err != nil {
			t.Fatal(err)
		}
		rs := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := verify.FromContext(r.Context())
			_ = json.NewEncoder(w).Encode(c)
		})))
		defer rs.Close()

		c := s.client()
		p := c.register("verifier@example.com", "verifier password")
		claims, err := v.Verify(t.Context(), p.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != p.User.ID || claims.SessionID != p.Session.ID || !claims.Fresh || claims.AAL != "aal1" ||
			!claims.HasRole("user") || len(claims.Methods) == 0 || claims.AuthTime.IsZero() {
			t.Errorf("claims %+v", claims)
		}

		// The same refusal from Gatehouse and from the resource server.
		other := startServer(t, testEnv("sqlite::memory:")) // another Gatehouse: other keys
		foreign := other.client().register("foreign@example.com", "foreign password").AccessToken
		for _, auth := range []string{"", "Basic abc", "Bearer garbage", "Bearer " + foreign} {
			gh := s.client()
			var opts []reqOpt
			if auth != "" {
				opts = append(opts, withHeader("Authorization", auth))
			}
			want := gh.do("GET", "/users/me", nil, opts...)
			got := rawGet(t, rs.URL+"/users/me", auth)
			if err := spectest.Shared(t).ValidateResponse(got.req, got.status, got.header, got.body); err != nil {
				t.Errorf("%q: the resource server's answer is no Gatehouse envelope: %v", auth, err)
			}
			var env struct {
				Message string `json:"message"`
				Error   struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(got.body, &env)
			if got.status != want.Status || env.Error.Code != want.code() || env.Message != want.Env.Message ||
				got.header.Get("WWW-Authenticate") != want.Header.Get("WWW-Authenticate") {
				t.Errorf("%q: resource server %d %s %q, Gatehouse %d %s %q", auth, got.status, got.body,
					got.header.Get("WWW-Authenticate"), want.Status, want.Body, want.Header.Get("WWW-Authenticate"))
			}
		}

		// Revocation: refused once the cached "alive" is older than the cache time.
		if r := rawGet(t, rs.URL+"/users/me", "Bearer "+p.AccessToken); r.status != 200 {
			t.Fatalf("live token refused: %d %s", r.status, r.body)
		}
		expect(t, c.do("POST", "/auth/logout", nil), 200, "")
		expect(t, c.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		clk.add(ttl)
		r := rawGet(t, rs.URL+"/users/me", "Bearer "+p.AccessToken)
		if r.status != 401 || !strings.Contains(string(r.body), `"SESSION_REVOKED"`) {
			t.Fatalf("revoked session after the cache time: %d %s", r.status, r.body)
		}

		// Gatehouse gone: fail closed.
		p2 := s.client().register("verifier2@example.com", "verifier password")
		s.stop()
		r = rawGet(t, rs.URL+"/users/me", "Bearer "+p2.AccessToken)
		if r.status != 503 || !strings.Contains(string(r.body), `"SERVICE_UNAVAILABLE"`) {
			t.Fatalf("Gatehouse unreachable: %d %s", r.status, r.body)
		}
	})
}

type rawResponse struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

func rawGet(t *testing.T, url, auth string) rawResponse {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{req: req, status: resp.StatusCode, header: resp.Header, body: b}
}
