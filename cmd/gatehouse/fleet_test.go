package main

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestFleet runs two instances on one database (on SQLite, two pools on one
// file) and checks what a client load-balanced across them must not notice:
// a token from one works on the other, a logout on one is honoured by the
// other, and racing refreshes of one token across both keep one lineage.
func TestFleet(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		url := dbURL(t)
		fleet := func(t *testing.T, extra map[string]string) (a, b *server) {
			env := testEnv(url)
			env["RATE_LIMIT_PER_IP"] = "0"
			for k, v := range extra {
				env[k] = v
			}
			// Started one after the other: the first migrates and
			// creates the signing key, the second finds both.
			return startServer(t, env), startServer(t, env)
		}
		hc := &http.Client{Timeout: 30 * time.Second}

		t.Run("tokens of one instance work on the other", func(t *testing.T) {
			a, b := fleet(t, nil)
			o := probe(t, hc, a.base, "POST", "/auth/register",
				map[string]any{"email": "fleet-cross@example.com", "password": "fleet password", "refreshTokenTransport": "body"}, "")
			p, ok := pairOf(t, o)
			if !ok {
				t.Fatalf("register on A: %s: %s", o, bodyOf(o))
			}
			if o := probe(t, hc, b.base, "GET", "/users/me", nil, p.AccessToken); o.status() != 200 {
				t.Fatalf("A's access token on B: %s: %s", o, bodyOf(o))
			}
			o = probe(t, hc, b.base, "POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken}, "")
			p2, ok := pairOf(t, o)
			if !ok {
				t.Fatalf("A's refresh token on B: %s: %s", o, bodyOf(o))
			}
			if o := probe(t, hc, a.base, "GET", "/users/me", nil, p2.AccessToken); o.status() != 200 {
				t.Fatalf("B's access token on A: %s: %s", o, bodyOf(o))
			}
			ja := probe(t, hc, a.base, "GET", "/.well-known/jwks.json", nil, "")
			jb := probe(t, hc, b.base, "GET", "/.well-known/jwks.json", nil, "")
			if ja.status() != 200 || string(ja.resp.Body) != string(jb.resp.Body) {
				t.Errorf("the instances publish different key sets:\nA: %s\nB: %s", bodyOf(ja), bodyOf(jb))
			}
		})

		// revocation logs in on A, uses the session on B, logs out on A and
		// returns how long after the logout B still accepted the access
		// token (0: it refused it at the first try), polling up to within.
		revocation := func(t *testing.T, a, b *server, email string, within time.Duration) time.Duration {
			o := probe(t, hc, a.base, "POST", "/auth/register",
				map[string]any{"email": email, "password": "fleet password", "refreshTokenTransport": "body"}, "")
			p, ok := pairOf(t, o)
			if !ok {
				t.Fatalf("register on A: %s: %s", o, bodyOf(o))
			}
			// B has seen the session alive (and may have cached that).
			if o := probe(t, hc, b.base, "GET", "/users/me", nil, p.AccessToken); o.status() != 200 {
				t.Fatalf("on B before logout: %s: %s", o, bodyOf(o))
			}
			if o := probe(t, hc, a.base, "POST", "/auth/logout", nil, p.AccessToken); o.status() != 200 {
				t.Fatalf("logout on A: %s: %s", o, bodyOf(o))
			}
			loggedOut := time.Now()
			var accepted time.Duration
			for {
				// Measured from when the request was sent: B decided
				// "alive" no earlier than that, however slow the answer.
				sent := time.Since(loggedOut)
				o := probe(t, hc, b.base, "GET", "/users/me", nil, p.AccessToken)
				if o.status() == 401 && o.resp.code() == "SESSION_REVOKED" {
					break
				}
				if o.status() != 200 {
					t.Fatalf("on B after logout: %s, want 401 SESSION_REVOKED: %s", o, bodyOf(o))
				}
				accepted = max(sent, time.Nanosecond)
				if accepted > within {
					t.Fatalf("B still accepts the access token of a session logged out on A %s ago (allowed: %s)", accepted.Round(time.Millisecond), within)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// The refresh token is dead on B too, at once: refresh reads
			// the session under its lock, never from a cache.
			o = probe(t, hc, b.base, "POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken}, "")
			if o.status() != 401 || o.resp.code() != "REFRESH_TOKEN_INVALID" {
				t.Errorf("refresh on B after logout on A: %s, want 401 REFRESH_TOKEN_INVALID: %s", o, bodyOf(o))
			}
			return accepted
		}

		t.Run("a logout on one instance is refused at once by the other", func(t *testing.T) {
			a, b := fleet(t, nil)
			// No cache by default: the very first request after the logout
			// must be refused.
			if d := revocation(t, a, b, "fleet-revoke@example.com", 0); d != 0 {
				t.Errorf("accepted for %s after logout", d)
			}
		})

		t.Run("with SESSION_CACHE_TTL=1s a logout reaches the other instance within the TTL", func(t *testing.T) {
			a, b := fleet(t, map[string]string{"SESSION_CACHE_TTL": "1s"})
			// 1s of cache plus slack for a loaded machine.
			d := revocation(t, a, b, "fleet-revoke-cached@example.com", 1500*time.Millisecond)
			t.Logf("B accepted the revoked session's access token for %s after the logout", d.Round(time.Millisecond))
		})

		t.Run("parallel refreshes of one token across both instances keep one lineage", func(t *testing.T) {
			const n = 20
			a, b := fleet(t, nil)
			o := probe(t, hc, a.base, "POST", "/auth/register",
				map[string]any{"email": "fleet-race@example.com", "password": "fleet password", "refreshTokenTransport": "body"}, "")
			p, ok := pairOf(t, o)
			if !ok {
				t.Fatalf("register: %s: %s", o, bodyOf(o))
			}
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				results = make([]outcome, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					target := a
					if i%2 == 1 {
						target = b
					}
					// One connection each, opened before the start, so the
					// requests really race.
					c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
					defer c.CloseIdleConnections()
					probe(t, c, target.base, "GET", "/healthz", nil, "")
					<-start
					results[i] = probe(t, c, target.base, "POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken}, "")
				}()
			}
			time.Sleep(100 * time.Millisecond)
			close(start)
			wg.Wait()

			successors := map[string]int{}
			var access []string
			for i, o := range results {
				inst := "A"
				if i%2 == 1 {
					inst = "B"
				}
				if o.err != nil || o.status() >= 500 {
					t.Errorf("refresh %d on %s: %s: %s", i, inst, o, bodyOf(o))
					continue
				}
				// Every racer presents the token that was current when
				// the race began: one rotates it, the others are within
				// the grace interval and get the same successor. A 401
				// here would log a user's tab out for no reason.
				q, ok := pairOf(t, o)
				if !ok {
					t.Errorf("refresh %d on %s: %s, want 200: %s", i, inst, o, bodyOf(o))
					continue
				}
				successors[q.RefreshToken]++
				access = append(access, q.AccessToken)
				if q.Session.ID != p.Session.ID {
					t.Errorf("refresh %d on %s moved to session %s (was %s)", i, inst, q.Session.ID, p.Session.ID)
				}
			}
			if len(successors) != 1 {
				t.Fatalf("parallel refreshes of one token produced %d successors (want one lineage): %v", len(successors), counts(successors))
			}
			var next string
			for k := range successors {
				next = k
			}
			// The lineage goes on, from either instance, and every access
			// token handed out during the race works.
			for i, inst := range []*server{b, a} {
				o := probe(t, hc, inst.base, "POST", "/auth/refresh", map[string]any{"refreshToken": next}, "")
				q, ok := pairOf(t, o)
				if !ok {
					t.Fatalf("continuing the lineage (step %d): %s: %s", i, o, bodyOf(o))
				}
				next = q.RefreshToken
			}
			for i, tok := range access {
				if o := probe(t, hc, []*server{a, b}[i%2].base, "GET", "/users/me", nil, tok); o.status() != 200 {
					t.Errorf("access token %d from the race: %s: %s", i, o, bodyOf(o))
				}
			}
		})
	})
}

// counts lists how many times each secret occurred, without the secrets.
func counts(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
