package main

import (
	"strings"
	"testing"
	"time"
)

func TestStepUp(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))

		t.Run("refreshed tokens are not fresh; reauthenticate makes them so", func(t *testing.T) {
			c := s.client()
			c.register("stepup@example.com", "stepup password")
			rr := c.do("POST", "/auth/refresh", nil)
			expect(t, rr, 200, "")
			var p tokenPair
			rr.data(t, &p)
			c.bearer = p.AccessToken
			_, before := decodeJWT(t, p.AccessToken)

			r := c.do("PUT", "/users/me/email", map[string]any{"email": "new@example.com"})
			expect(t, r, 403, "FRESH_AUTH_REQUIRED")
			if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=600") {
				t.Errorf("WWW-Authenticate = %q", h)
			}

			expect(t, c.do("POST", "/auth/reauthenticate", map[string]any{"password": "wrong password"}), 401, "INVALID_CREDENTIALS")
			ra := c.do("POST", "/auth/reauthenticate", map[string]any{"password": "stepup password"})
			expect(t, ra, 200, "")
			var fresh tokenPair
			ra.data(t, &fresh)
			if fresh.Session.ID != p.Session.ID {
				t.Errorf("reauthenticate changed the session")
			}
			_, claims := decodeJWT(t, fresh.AccessToken)
			if claims["fresh"] != true || claims["auth_time"].(float64) < before["auth_time"].(float64) {
				t.Errorf("reauthenticated claims: %v", claims)
			}
			c.bearer = fresh.AccessToken
			em := c.do("PUT", "/users/me/email", map[string]any{"email": "New@Example.com"})
			expect(t, em, 200, "")
			_, lr := s.client().login("new@example.com", "stepup password", "")
			expect(t, lr, 200, "")
			_, lr = s.client().login("stepup@example.com", "stepup password", "")
			expect(t, lr, 401, "INVALID_CREDENTIALS")

			// A later refresh carries the new auth_time, still not fresh.
			rr = c.do("POST", "/auth/refresh", nil)
			expect(t, rr, 200, "")
			rr.data(t, &p)
			_, after := decodeJWT(t, p.AccessToken)
			if after["fresh"] != false || after["auth_time"] != claims["auth_time"] {
				t.Errorf("refresh after reauth: %v", after)
			}
		})

		t.Run("email change conflicts", func(t *testing.T) {
			s.client().register("taken@example.com", "taken password")
			c := s.client()
			c.register("mover@example.com", "mover password")
			expect(t, c.do("PUT", "/users/me/email", map[string]any{"email": "TAKEN@example.com"}), 409, "EMAIL_TAKEN")
		})

		t.Run("password change revokes other sessions", func(t *testing.T) {
			c := s.client()
			c.register("pw@example.com", "first password")
			other := s.client()
			other.login("pw@example.com", "first password", "")
			r := c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "not it at all", "newPassword": "second password"})
			expect(t, r, 400, "VALIDATION_FAILED")
			if r.Env.Error.Details[0].Field != "currentPassword" {
				t.Errorf("details: %s", r.Body)
			}
			expect(t, c.do("PUT", "/users/me/password", map[string]any{"currentPassword": "first password", "newPassword": "second password"}), 200, "")
			expect(t, c.do("GET", "/users/me", nil), 200, "")
			expect(t, other.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
			_, lr := s.client().login("pw@example.com", "first password", "")
			expect(t, lr, 401, "INVALID_CREDENTIALS")
			_, lr = s.client().login("pw@example.com", "second password", "")
			expect(t, lr, 200, "")
		})

		t.Run("account deletion", func(t *testing.T) {
			c := s.client()
			c.register("gone@example.com", "gone password")
			r := c.do("DELETE", "/users/me", nil)
			expect(t, r, 200, "")
			if ck := r.cookie("refresh_token"); ck == nil || ck.MaxAge >= 0 {
				t.Error("cookie not cleared on deletion")
			}
			expect(t, c.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
			_, lr := s.client().login("gone@example.com", "gone password", "")
			expect(t, lr, 401, "INVALID_CREDENTIALS")
			// The address is free again.
			expect(t, s.client().do("POST", "/auth/register", map[string]any{"email": "gone@example.com", "password": "another pw"}), 201, "")
		})

		t.Run("security events", func(t *testing.T) {
			c := s.client()
			c.register("events@example.com", "events password")
			s.client().login("events@example.com", "wrong password", "")
			c.login("events@example.com", "events password", "")
			// A failed attempt is written off the request path, within a
			// second (authn.FailureLog).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				r := c.do("GET", "/users/me/security-events?limit=100", nil)
				expect(t, r, 200, "")
				if strings.Contains(string(r.Env.Data), `"login_failed"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no login_failed event: %s", r.Env.Data)
				}
			}
			r := c.do("GET", "/users/me/security-events?limit=1", nil)
			expect(t, r, 200, "")
			var page struct {
				Items []struct {
					Type string `json:"type"`
				} `json:"items"`
				NextCursor *string `json:"nextCursor"`
			}
			r.data(t, &page)
			if len(page.Items) != 1 || page.Items[0].Type != "login_succeeded" || page.NextCursor == nil {
				t.Fatalf("first page: %s", r.Env.Data)
			}
			r = c.do("GET", "/users/me/security-events?limit=1&cursor="+*page.NextCursor, nil)
			r.data(t, &page)
			if len(page.Items) != 1 || page.Items[0].Type != "login_failed" {
				t.Errorf("second page: %s", r.Env.Data)
			}
			expect(t, c.do("GET", "/users/me/security-events?cursor=bogus!", nil), 400, "VALIDATION_FAILED")
			expect(t, c.do("GET", "/users/me/security-events?limit=0", nil), 400, "VALIDATION_FAILED")
		})
	})
}
