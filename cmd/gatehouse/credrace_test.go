package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Issue 10 item 1: logins racing a password change. Whatever interleaving
// the engine allows, once the change has answered no session that was
// started with the old password may still refresh.
func TestLoginRacingPasswordChangeLeavesNoSession(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["RATE_LIMIT_PER_IP"] = "0"
		env["LOGIN_MAX_FAILURES"] = "1000000"
		env["LOGIN_BACKOFF_AFTER"] = "0"
		s := startServer(t, env)
		owner := s.client()
		const email = "race@example.com"
		cur := "first passphrase 0"
		owner.register(email, cur)

		const rounds, racers, perRacer = 12, 6, 60
		survivors := 0
		for round := 1; round <= rounds; round++ {
			next := fmt.Sprintf("next passphrase %d", round)
			var (
				done    atomic.Bool
				wg      sync.WaitGroup
				mu      sync.Mutex
				tokens  []string
				started = make(chan struct{}, racers)
			)
			for range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := s.client()
					for i := 0; i < perRacer && !done.Load(); i++ {
						p, r := c.login(email, cur, "body")
						if i == 0 {
							started <- struct{}{}
						}
						if r.Status == 200 {
							mu.Lock()
							tokens = append(tokens, p.RefreshToken)
							mu.Unlock()
						}
					}
				}()
			}
			for range racers {
				<-started
			}
			if _, r := owner.login(email, cur, "body"); r.Status != 200 {
				t.Fatalf("round %d: owner login: %d %s", round, r.Status, r.Body)
			}
			r := owner.do("PUT", "/users/me/password", map[string]any{"currentPassword": cur, "newPassword": next})
			expect(t, r, 200, "")
			done.Store(true)
			wg.Wait()
			cur = next
			for _, tok := range tokens {
				r := s.client().do("POST", "/auth/refresh", map[string]any{"refreshToken": tok})
				if r.Status == 200 {
					survivors++
				} else {
					expect(t, r, 401, "REFRESH_TOKEN_INVALID")
				}
			}
		}
		if survivors > 0 {
			t.Fatalf("%d sessions started with an old password still refresh after the change", survivors)
		}
	})
}
