package main

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// refreshCookie returns the refresh cookie a response set, failing if none.
func refreshCookie(t testing.TB, r *response) *http.Cookie {
	t.Helper()
	ck := r.cookie("refresh_token")
	if ck == nil {
		t.Fatalf("no refresh_token cookie set: %v", r.Header.Values("Set-Cookie"))
	}
	return ck
}

func TestRefreshCookieFlow(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))

		t.Run("cookie attributes and rotation", func(t *testing.T) {
			c := s.client()
			r := c.do("POST", "/auth/register", map[string]any{"email": "cookie@example.com", "password": "cookie password"})
			expect(t, r, 201, "")
			ck := refreshCookie(t, r)
			if !ck.HttpOnly || ck.Path != "/auth" || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != int((168*time.Hour)/time.Second) {
				t.Errorf("cookie attributes: %+v", ck)
			}
			if ck.Secure {
				t.Errorf("COOKIE_SECURE=false but cookie is Secure")
			}
			first := ck.Value

			rr := c.do("POST", "/auth/refresh", nil)
			expect(t, rr, 200, "")
			if rr.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("refresh Cache-Control %q", rr.Header.Get("Cache-Control"))
			}
			second := refreshCookie(t, rr).Value
			if second == first {
				t.Fatal("refresh did not rotate the token")
			}
			var p tokenPair
			rr.data(t, &p)
			if p.RefreshToken != "" {
				t.Error("cookie transport leaked the refresh token into the body")
			}
			_, claims := decodeJWT(t, p.AccessToken)
			if claims["fresh"] != false {
				t.Errorf("refreshed token fresh = %v", claims["fresh"])
			}
			c.bearer = p.AccessToken
			expect(t, c.do("GET", "/users/me", nil), 200, "")

			// The predecessor within the grace interval: the same successor.
			old := s.client()
			old.cookies["refresh_token"] = &http.Cookie{Name: "refresh_token", Value: first, Path: "/auth"}
			replay := old.do("POST", "/auth/refresh", nil)
			expect(t, replay, 200, "")
			if got := refreshCookie(t, replay).Value; got != second {
				t.Errorf("grace replay gave another successor")
			}
		})

		t.Run("logout clears the cookie and ends the session", func(t *testing.T) {
			c := s.client()
			c.register("logout@example.com", "logout password")
			r := c.do("POST", "/auth/logout", nil)
			expect(t, r, 200, "")
			if ck := r.cookie("refresh_token"); ck == nil || ck.MaxAge >= 0 {
				t.Errorf("cookie not cleared: %v", r.Header.Values("Set-Cookie"))
			}
			if string(r.Env.Data) != "null" {
				t.Errorf("data = %s, want null", r.Env.Data)
			}
			expect(t, c.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
			expect(t, c.do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
		})

		t.Run("refresh without a token", func(t *testing.T) {
			expect(t, s.client().do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
			expect(t, s.client().do("POST", "/auth/refresh", map[string]any{"refreshToken": "garbage"}), 401, "REFRESH_TOKEN_INVALID")
		})

		t.Run("origin check on cookie requests", func(t *testing.T) {
			c := s.client()
			c.register("csrf@example.com", "csrf password")
			r := c.do("POST", "/auth/refresh", nil, withHeader("Origin", "https://evil.example"))
			expect(t, r, 403, "CSRF_REJECTED")
			// The service's own origin is fine.
			expect(t, c.do("POST", "/auth/refresh", nil, withHeader("Origin", s.base)), 200, "")
		})

		t.Run("login ignores a planted cookie", func(t *testing.T) {
			victim := s.client()
			victim.register("fixation@example.com", "fixation pw")
			planted := victim.cookies["refresh_token"].Value
			attacker := s.client()
			attacker.cookies["refresh_token"] = &http.Cookie{Name: "refresh_token", Value: planted, Path: "/auth"}
			p, r := attacker.login("fixation@example.com", "fixation pw", "")
			expect(t, r, 200, "")
			if refreshCookie(t, r).Value == planted {
				t.Error("login reused the presented refresh token")
			}
			var v tokenPair
			r.data(t, &v)
			if p.Session.ID == "" {
				t.Error("no session")
			}
		})
	})
}

func TestRefreshBodyTransportAndReuse(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["REFRESH_REUSE_GRACE"] = "0s"
		s := startServer(t, env)
		c := s.client()
		c.register("native@example.com", "native password")
		p, r := c.login("native@example.com", "native password", "body")
		expect(t, r, 200, "")
		if p.RefreshToken == "" || r.cookie("refresh_token") != nil {
			t.Fatalf("body transport: token %q, cookie %v", p.RefreshToken, r.cookie("refresh_token"))
		}
		r1 := c.do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken})
		expect(t, r1, 200, "")
		var p1 tokenPair
		r1.data(t, &p1)
		if p1.RefreshToken == "" || p1.RefreshToken == p.RefreshToken {
			t.Fatal("body refresh did not return a new token")
		}
		time.Sleep(5 * time.Millisecond) // past a zero grace interval
		reuse := c.do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken})
		expect(t, reuse, 401, "REFRESH_TOKEN_REUSED")
		// The whole session is gone: its newest token and its access token.
		expect(t, c.do("POST", "/auth/refresh", map[string]any{"refreshToken": p1.RefreshToken}), 401, "REFRESH_TOKEN_INVALID")
		c.bearer = p1.AccessToken
		expect(t, c.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
	})
}

// TestParallelRefresh: fifty refreshes of one token at once give no 5xx,
// and every success carries the same successor: one lineage.
func TestParallelRefresh(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		c := s.client()
		c.register("parallel@example.com", "parallel password")
		p, _ := c.login("parallel@example.com", "parallel password", "body")
		const n = 50
		var wg sync.WaitGroup
		results := make([]*response, n)
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.client().do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken})
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		successors := map[string]int{}
		ok := 0
		for _, r := range results {
			switch r.Status {
			case 200:
				ok++
				var np tokenPair
				r.data(t, &np)
				successors[np.RefreshToken]++
			default:
				t.Errorf("parallel refresh: %d %s", r.Status, r.code())
			}
		}
		if len(successors) != 1 {
			t.Errorf("%d distinct successors, want 1 lineage", len(successors))
		}
		t.Logf("%d parallel refreshes: %d answered 200, %d distinct successors, %v", n, ok, len(successors), elapsed)
		// The lineage continues from that one successor.
		for succ := range successors {
			expect(t, c.do("POST", "/auth/refresh", map[string]any{"refreshToken": succ}), 200, "")
		}
	})
}

func TestSessionManagement(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		laptop := s.client()
		laptop.register("sessions@example.com", "sessions password")
		phone := s.client()
		_, r := phone.login("sessions@example.com", "sessions password", "body")
		expect(t, r, 200, "")

		list := laptop.do("GET", "/auth/sessions", nil)
		expect(t, list, 200, "")
		var sessions []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		}
		list.data(t, &sessions)
		if len(sessions) != 2 {
			t.Fatalf("%d sessions listed, want 2", len(sessions))
		}
		var phoneID string
		for _, ss := range sessions {
			if !ss.Current {
				phoneID = ss.ID
			}
		}
		if phoneID == "" {
			t.Fatal("no non-current session")
		}
		stranger := s.client()
		stranger.register("stranger@example.com", "stranger password")
		expect(t, stranger.do("DELETE", "/auth/sessions/"+phoneID, nil), 404, "NOT_FOUND")
		expect(t, stranger.do("DELETE", "/auth/sessions/not-a-uuid", nil), 400, "VALIDATION_FAILED")
		expect(t, phone.do("GET", "/users/me", nil), 200, "")

		expect(t, laptop.do("DELETE", "/auth/sessions/"+phoneID, nil), 200, "")
		expect(t, phone.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		list = laptop.do("GET", "/auth/sessions", nil)
		list.data(t, &sessions)
		if len(sessions) != 1 || !sessions[0].Current {
			t.Errorf("after revoke: %+v", sessions)
		}

		other := s.client()
		other.login("sessions@example.com", "sessions password", "")
		expect(t, laptop.do("POST", "/auth/logout-all", nil), 200, "")
		expect(t, laptop.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		expect(t, other.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		expect(t, other.do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
		// The stranger was not touched.
		expect(t, stranger.do("GET", "/users/me", nil), 200, "")
	})
}

// TestRevocationAcrossInstances: two instances on one database; a logout on
// one is refused by the other at once.
func TestRevocationAcrossInstances(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		a, b := startServer(t, env), startServer(t, env)
		ca := a.client()
		ca.register("fleet@example.com", "fleet password")
		cb := b.client()
		cb.bearer = ca.bearer
		expect(t, cb.do("GET", "/users/me", nil), 200, "")
		expect(t, ca.do("POST", "/auth/logout", nil), 200, "")
		expect(t, cb.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
	})
}

func TestReuseDetectionClearsTheCookie(t *testing.T) {
	env := testEnv("sqlite://" + t.TempDir() + "/g.db")
	env["REFRESH_REUSE_GRACE"] = "0s"
	s := startServer(t, env)
	c := s.client()
	c.register("thief@example.com", "thief password")
	stolen := c.cookies["refresh_token"].Value
	expect(t, c.do("POST", "/auth/refresh", nil), 200, "")
	time.Sleep(5 * time.Millisecond)
	thief := s.client()
	thief.cookies["refresh_token"] = &http.Cookie{Name: "refresh_token", Value: stolen, Path: "/auth"}
	r := thief.do("POST", "/auth/refresh", nil)
	expect(t, r, 401, "REFRESH_TOKEN_REUSED")
	if ck := r.cookie("refresh_token"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("reuse detection did not clear the cookie: %v", r.Header.Values("Set-Cookie"))
	}
	// The victim's newest cookie is dead too, and clearing it is the answer.
	r = c.do("POST", "/auth/refresh", nil)
	expect(t, r, 401, "REFRESH_TOKEN_INVALID")
}

func TestCORS(t *testing.T) {
	env := testEnv("sqlite://" + t.TempDir() + "/g.db")
	env["CORS_ALLOWED_ORIGINS"] = "http://app.example:8080"
	s := startServer(t, env)
	c := s.client()
	c.register("cors@example.com", "cors password")

	pre, err := http.NewRequest(http.MethodOptions, s.base+"/auth/refresh", nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Header.Set("Origin", "http://app.example:8080")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example:8080" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	r := c.do("POST", "/auth/refresh", nil, withHeader("Origin", "http://app.example:8080"))
	expect(t, r, 200, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "http://app.example:8080" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers on an allowed origin: %v", r.Header)
	}
	r = c.do("GET", "/healthz", nil, withHeader("Origin", "http://evil.example"))
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a disallowed origin got CORS access: %v", r.Header)
	}
	expect(t, c.do("POST", "/auth/refresh", nil, withHeader("Origin", "http://evil.example")), 403, "CSRF_REJECTED")
	// Bearer requests are not subject to the Origin check.
	expect(t, c.do("GET", "/users/me", nil, withHeader("Origin", "http://evil.example")), 200, "")
}

// TestSessionListPagesAndCap: GET /auth/sessions pages with limit and the
// X-Next-Cursor header, and MAX_SESSIONS_PER_USER revokes the oldest.
func TestSessionListPagesAndCap(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["MAX_SESSIONS_PER_USER"] = "3"
		s := startServer(t, env)
		first := s.client()
		first.register("pages@example.com", "pages password")
		var clients []*client
		for range 3 {
			c := s.client()
			_, r := c.login("pages@example.com", "pages password", "body")
			expect(t, r, 200, "")
			clients = append(clients, c)
		}
		// Four started, three kept: the first is over the limit.
		expect(t, first.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")

		type item struct {
			ID string `json:"id"`
		}
		var seen []string
		r := clients[2].do("GET", "/auth/sessions?limit=2", nil)
		expect(t, r, 200, "")
		var page []item
		r.data(t, &page)
		next := r.Header.Get("X-Next-Cursor")
		if len(page) != 2 || next == "" {
			t.Fatalf("first page: %d sessions, cursor %q; want 2 and a cursor", len(page), next)
		}
		for _, it := range page {
			seen = append(seen, it.ID)
		}
		r = clients[2].do("GET", "/auth/sessions?limit=2&cursor="+next, nil)
		expect(t, r, 200, "")
		r.data(t, &page)
		if len(page) != 1 || r.Header.Get("X-Next-Cursor") != "" {
			t.Fatalf("last page: %d sessions, cursor %q; want 1 and none", len(page), r.Header.Get("X-Next-Cursor"))
		}
		seen = append(seen, page[0].ID)
		if len(seen) != 3 || seen[0] == seen[1] || seen[1] == seen[2] || seen[0] == seen[2] {
			t.Fatalf("pages gave %v", seen)
		}
		expect(t, clients[2].do("GET", "/auth/sessions?limit=0", nil), 400, "VALIDATION_FAILED")
		expect(t, clients[2].do("GET", "/auth/sessions?limit=101", nil), 400, "VALIDATION_FAILED")
		expect(t, clients[2].do("GET", "/auth/sessions?cursor=bm90LWEtY3Vyc29y", nil), 400, "VALIDATION_FAILED")
	})
}
