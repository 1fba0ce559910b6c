package main

import (
	"strconv"
	"testing"
)

// retryAfter returns the Retry-After header in seconds, failing if absent.
func retryAfter(t testing.TB, r *response) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n <= 0 {
		t.Fatalf("Retry-After %q on %d %s", r.Header.Get("Retry-After"), r.Status, r.code())
	}
	return n
}

func TestLoginThrottling(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["LOGIN_MAX_FAILURES"] = "3"
		env["LOGIN_BACKOFF_AFTER"] = "10"
		env["LOGIN_LOCKOUT"] = "15m"
		a, b := startServer(t, env), startServer(t, env)
		a.client().register("locked@example.com", "right password")

		t.Run("lockout is shared by instances and identical for unknown accounts", func(t *testing.T) {
			// Failures alternate between the two instances: the count is shared.
			for i, s := range []*server{a, b, a} {
				_, r := s.client().login("locked@example.com", "wrong password", "")
				expect(t, r, 401, "INVALID_CREDENTIALS")
				_, r = s.client().login("ghost@example.com", "wrong password", "")
				if r.Status != 401 {
					t.Fatalf("unknown account attempt %d: %d", i+1, r.Status)
				}
			}
			_, known := b.client().login("locked@example.com", "right password", "")
			expect(t, known, 429, "TOO_MANY_REQUESTS")
			_, unknown := a.client().login("ghost@example.com", "wrong password", "")
			expect(t, unknown, 429, "TOO_MANY_REQUESTS")
			if known.Env.Message != unknown.Env.Message {
				t.Errorf("messages differ: %q vs %q", known.Env.Message, unknown.Env.Message)
			}
			if ra := retryAfter(t, known); ra < 899 || ra > 900 {
				t.Errorf("Retry-After %d, want the 15 min lockout", ra)
			}
			// Other accounts are untouched.
			c := a.client()
			c.register("free@example.com", "free password")
			_, r := a.client().login("free@example.com", "free password", "")
			expect(t, r, 200, "")
		})

		t.Run("success resets the count", func(t *testing.T) {
			a.client().register("reset@example.com", "reset password")
			for range 2 {
				a.client().login("reset@example.com", "bad password", "")
			}
			_, r := a.client().login("reset@example.com", "reset password", "")
			expect(t, r, 200, "")
			for range 2 {
				_, r = b.client().login("reset@example.com", "bad password", "")
				expect(t, r, 401, "INVALID_CREDENTIALS")
			}
		})

		t.Run("reauthentication failures count", func(t *testing.T) {
			c := a.client()
			c.register("reauth@example.com", "reauth password")
			for range 3 {
				expect(t, c.do("POST", "/auth/reauthenticate", map[string]any{"password": "not the password"}), 401, "INVALID_CREDENTIALS")
			}
			r := c.do("POST", "/auth/reauthenticate", map[string]any{"password": "reauth password"})
			expect(t, r, 429, "TOO_MANY_REQUESTS")
			retryAfter(t, r)
		})
	})
}

func TestLoginBackoff(t *testing.T) {
	env := testEnv("sqlite://" + t.TempDir() + "/g.db")
	env["LOGIN_BACKOFF_AFTER"] = "2"
	env["LOGIN_BACKOFF_BASE"] = "1h"
	s := startServer(t, env)
	s.client().register("slow@example.com", "slow password")
	for range 2 {
		_, r := s.client().login("slow@example.com", "wrong password", "")
		expect(t, r, 401, "INVALID_CREDENTIALS")
	}
	_, r := s.client().login("slow@example.com", "slow password", "")
	expect(t, r, 429, "TOO_MANY_REQUESTS")
	if ra := retryAfter(t, r); ra < 3599 || ra > 3600 {
		t.Errorf("Retry-After %d, want the first back-off of 1h", ra)
	}
}

func TestRateLimitPerIP(t *testing.T) {
	t.Run("untrusted peer cannot spoof X-Forwarded-For", func(t *testing.T) {
		env := testEnv("sqlite://" + t.TempDir() + "/g.db")
		env["RATE_LIMIT_PER_IP"] = "5/1m"
		s := startServer(t, env)
		c := s.client()
		for i := range 5 {
			r := c.do("POST", "/auth/refresh", nil, withHeader("X-Forwarded-For", "203.0.113."+strconv.Itoa(i)))
			expect(t, r, 401, "REFRESH_TOKEN_INVALID")
		}
		r := c.do("POST", "/auth/login", map[string]any{"email": "a@b.co", "password": "whatever1"}, withHeader("X-Forwarded-For", "198.51.100.7"))
		expect(t, r, 429, "TOO_MANY_REQUESTS")
		if ra := retryAfter(t, r); ra > 60 {
			t.Errorf("Retry-After %d beyond the window", ra)
		}
		// Outside /auth the budget does not apply.
		expect(t, c.do("GET", "/healthz", nil), 200, "")
	})

	t.Run("trusted proxy's X-Forwarded-For is believed", func(t *testing.T) {
		env := testEnv("sqlite://" + t.TempDir() + "/g.db")
		env["RATE_LIMIT_PER_IP"] = "2/1m"
		env["TRUSTED_PROXIES"] = "127.0.0.1/32"
		s := startServer(t, env)
		c := s.client()
		for range 2 {
			expect(t, c.do("POST", "/auth/refresh", nil, withHeader("X-Forwarded-For", "203.0.113.1")), 401, "REFRESH_TOKEN_INVALID")
		}
		expect(t, c.do("POST", "/auth/refresh", nil, withHeader("X-Forwarded-For", "203.0.113.1")), 429, "TOO_MANY_REQUESTS")
		// Another client behind the same proxy has its own budget.
		expect(t, c.do("POST", "/auth/refresh", nil, withHeader("X-Forwarded-For", "203.0.113.2")), 401, "REFRESH_TOKEN_INVALID")
	})
}
