package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// from sends the request as if from ip, through a trusted proxy.
func from(ip string) reqOpt { return withHeader("X-Forwarded-For", ip) }

// Issue 10 item 2: an attacker elsewhere cannot lock the owner out; the
// per-account ceiling across clients slows, with a bounded wait.
func TestLockoutIsPerAccountAndClient(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["TRUSTED_PROXIES"] = "127.0.0.1/32"
		env["RATE_LIMIT_PER_IP"] = "0"
		env["LOGIN_ACCOUNT_BACKOFF_AFTER"] = "30"
		s := startServer(t, env)
		s.client().register("owner@example.com", "the owner's passphrase")
		login := func(ip, password string) *response {
			return s.client().do("POST", "/auth/login", map[string]any{"email": "owner@example.com", "password": password}, from(ip))
		}
		locked := false
		for range 12 {
			if r := login("203.0.113.66", "a wrong guess"); r.Status == 429 {
				locked = true
			}
		}
		if !locked {
			t.Fatal("12 wrong passwords from one client were never throttled")
		}
		expect(t, login("203.0.113.66", "the owner's passphrase"), 429, "TOO_MANY_REQUESTS")
		// The owner, elsewhere, still gets in.
		expect(t, login("198.51.100.4", "the owner's passphrase"), 200, "")
		// An IPv6 attacker rotating through its /64 is one client.
		for i := range 12 {
			login("2001:db8:7:7::"+strconv.Itoa(i+1), "a wrong guess")
		}
		expect(t, login("2001:db8:7:7::ff", "the owner's passphrase"), 429, "TOO_MANY_REQUESTS")

		// Distributed guessing: past the account-wide ceiling every client
		// waits, but for at most LOGIN_ACCOUNT_MAX_DELAY, never a lockout.
		for i := range 40 {
			login("192.0.2."+strconv.Itoa(i+1), "a wrong guess")
		}
		r := login("198.51.100.5", "the owner's passphrase")
		expect(t, r, 429, "TOO_MANY_REQUESTS")
		if ra := retryAfter(t, r); ra > 30 {
			t.Errorf("Retry-After %d past LOGIN_ACCOUNT_MAX_DELAY", ra)
		}
	})
}

// Issue 10 item 3: a password change hashes a password, so it goes through
// the per-IP budget and the account throttle, and a wrong current password
// counts as a failed attempt.
func TestPasswordChangeIsThrottled(t *testing.T) {
	t.Run("account throttle", func(t *testing.T) {
		env := testEnv("sqlite::memory:")
		env["RATE_LIMIT_PER_IP"] = "0"
		env["LOGIN_MAX_FAILURES"] = "3"
		s := startServer(t, env)
		c := s.client()
		c.register("change@example.com", "the right passphrase")
		for range 3 {
			r := c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "a wrong guess", "newPassword": "another long one"})
			expect(t, r, 400, "VALIDATION_FAILED")
		}
		r := c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "the right passphrase", "newPassword": "another long one"})
		expect(t, r, 429, "TOO_MANY_REQUESTS")
		// And the same count locks login from this client.
		_, r = s.client().login("change@example.com", "the right passphrase", "")
		expect(t, r, 429, "TOO_MANY_REQUESTS")
	})
	t.Run("per-IP budget", func(t *testing.T) {
		env := testEnv("sqlite::memory:")
		env["RATE_LIMIT_PER_IP"] = "45/1m"
		s := startServer(t, env)
		c := s.client()
		c.register("budget@example.com", "the right passphrase") // 10
		limited := 0
		for range 5 {
			r := c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "x" + "yyyyyyyy", "newPassword": "another long one"})
			if r.Status == 429 {
				limited++
			}
		}
		if limited < 2 {
			t.Errorf("%d of 5 password changes refused by a budget of 45 with weight 10, want at least 2", limited)
		}
	})
}

// Issue 10 item 4: the per-IP budget covers every route, and email changes
// are bounded per account.
func TestBudgetOnEveryRouteAndEmailChangeLimit(t *testing.T) {
	env := testEnv("sqlite::memory:")
	env["RATE_LIMIT_PER_IP"] = "20/1m"
	env["EMAIL_CHANGE_LIMIT"] = "2/1h"
	s := startServer(t, env)
	c := s.client()
	c.register("probe@example.com", "the right passphrase") // 10 of 20
	s.client().register("taken@example.com", "another passphrase")
	// That was 20; /users/me is counted too now.
	expect(t, c.do("GET", "/users/me", nil), 429, "TOO_MANY_REQUESTS")
	expect(t, c.do("GET", "/healthz", nil), 200, "")

	env = testEnv("sqlite::memory:")
	env["RATE_LIMIT_PER_IP"] = "0"
	env["EMAIL_CHANGE_LIMIT"] = "2/1h"
	s = startServer(t, env)
	c = s.client()
	c.register("probe@example.com", "the right passphrase")
	s.client().register("taken@example.com", "another passphrase")
	for range 2 {
		expect(t, c.do("PUT", "/users/me/email", map[string]any{"email": "taken@example.com"}), 409, "EMAIL_TAKEN")
	}
	r := c.do("PUT", "/users/me/email", map[string]any{"email": "taken@example.com"})
	expect(t, r, 429, "TOO_MANY_REQUESTS")
	retryAfter(t, r)
}

// Issue 10 item 8: a password change or account deletion is seen at once on
// the instance that made it, even with SESSION_CACHE_TTL.
func TestSessionCacheEvictedByPasswordChangeAndDeletion(t *testing.T) {
	env := testEnv("sqlite::memory:")
	env["SESSION_CACHE_TTL"] = "1s"
	env["RATE_LIMIT_PER_IP"] = "0"
	s := startServer(t, env)
	a := s.client()
	a.register("cached@example.com", "the first passphrase")
	b := s.client()
	if _, r := b.login("cached@example.com", "the first passphrase", "body"); r.Status != 200 {
		t.Fatal(r.Status)
	}
	expect(t, b.do("GET", "/users/me", nil), 200, "") // now cached
	expect(t, a.do("PUT", "/users/me/password", map[string]any{"currentPassword": "the first passphrase", "newPassword": "the second passphrase"}), 200, "")
	expect(t, b.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")

	expect(t, a.do("GET", "/users/me", nil), 200, "") // cached
	c := s.client()
	c.bearer = a.bearer
	expect(t, c.do("DELETE", "/users/me", nil), 200, "")
	r := a.do("GET", "/users/me", nil, func(r *http.Request) {})
	expect(t, r, 401, "SESSION_REVOKED")
}

// Issue 24 item 7: every budgeted answer carries the IETF RateLimit-Policy
// and RateLimit fields (draft-ietf-httpapi-ratelimit-headers), so a client
// can slow down before the 429; the 429 has them beside Retry-After, which
// does not end before the window; the health probes carry none.
func TestRateLimitHeaders(t *testing.T) {
	env := testEnv("sqlite::memory:")
	// A day's window: the counts below must not start over at a window's
	// end in the middle of the test (windows are fixed, counted from the
	// Unix epoch), which a one-minute window did now and then.
	env["RATE_LIMIT_PER_IP"] = "25/24h"
	s := startServer(t, env)
	c := s.client()
	field := regexp.MustCompile(`^"ip";r=([0-9]+);t=([0-9]+)$`)
	remaining := func(r *response) (int, int) {
		t.Helper()
		if p := r.Header.Get("RateLimit-Policy"); p != `"ip";q=25;w=86400` {
			t.Fatalf("RateLimit-Policy %q", p)
		}
		m := field.FindStringSubmatch(r.Header.Get("RateLimit"))
		if m == nil {
			t.Fatalf("RateLimit %q", r.Header.Get("RateLimit"))
		}
		left, _ := strconv.Atoi(m[1])
		reset, _ := strconv.Atoi(m[2])
		if reset < 1 || reset > 86400 {
			t.Fatalf("t=%d outside the day's window", reset)
		}
		return left, reset
	}
	r := c.do("GET", "/users/me", nil)
	expect(t, r, 401, "UNAUTHENTICATED")
	if left, _ := remaining(r); left != 24 {
		t.Fatalf("r=%d after one request of 25, want 24", left)
	}
	c.register("ratelimit@example.com", "the right passphrase") // a hash: 10
	r = c.do("GET", "/users/me", nil)
	expect(t, r, 200, "")
	if left, _ := remaining(r); left != 13 {
		t.Fatalf("r=%d after 1 + 10 + 1 of 25, want 13", left)
	}
	r = c.do("POST", "/auth/login", map[string]any{"email": "ratelimit@example.com", "password": "the right passphrase"})
	expect(t, r, 200, "")
	if left, _ := remaining(r); left != 3 {
		t.Fatalf("r=%d, want 3", left)
	}
	// A login costs 10 of the 3 left: refused, and the 3 are still there.
	r = c.do("POST", "/auth/login", map[string]any{"email": "ratelimit@example.com", "password": "the right passphrase"})
	expect(t, r, 429, "TOO_MANY_REQUESTS")
	left, reset := remaining(r)
	if left != 3 || retryAfter(t, r) < reset {
		t.Fatalf("429: r=%d t=%d Retry-After %d", left, reset, retryAfter(t, r))
	}
	r = c.do("GET", "/healthz", nil)
	if r.Header.Get("RateLimit") != "" || r.Header.Get("RateLimit-Policy") != "" {
		t.Fatalf("a health probe carries rate-limit fields: %v", r.Header)
	}
	// Browsers let a page read them across origins.
	env = testEnv("sqlite::memory:")
	env["CORS_ALLOWED_ORIGINS"] = "https://app.example.com"
	s = startServer(t, env)
	r = s.client().do("GET", "/users/me", nil, withHeader("Origin", "https://app.example.com"))
	if exp := r.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "RateLimit") || !strings.Contains(exp, "RateLimit-Policy") {
		t.Fatalf("Access-Control-Expose-Headers %q", exp)
	}
}
