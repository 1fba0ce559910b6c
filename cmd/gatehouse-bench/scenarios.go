package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Scenario names.
const (
	scenarioMe       = "me"
	scenarioRefresh  = "refresh"
	scenarioLogin    = "login"
	scenarioRegister = "register"
)

// allScenarios lists the service scenarios in their default order.
func allScenarios() []string {
	return []string{scenarioMe, scenarioRefresh, scenarioLogin, scenarioRegister}
}

// pick returns the user worker w uses on its iter-th call when workers
// share all users round robin: worker w takes w, w+workers, w+2*workers...
// so every user's token is in use and no two workers start on the same one.
func pick(users []*vuser, workers, w, iter int) *vuser {
	return users[(w+iter*workers)%len(users)]
}

// meOp is GET /users/me with the newest access token of many users, on
// whatever base URL c points at (the service or the floor handler).
func meOp(c *apiClient, users []*vuser, workers int) Op {
	return func(ctx context.Context, w, iter int) error {
		return c.me(ctx, pick(users, workers, w, iter).Access)
	}
}

// refreshWorkers is how many workers the refresh scenario can use: each
// token chain belongs to one worker, so never more than there are users.
func refreshWorkers(concurrency, users int) int { return max(min(concurrency, users), 1) }

// refreshOp rotates token chains: worker w owns users w, w+workers, ...
// and refreshes them in turn, always with the newest refresh token, so no
// chain is ever presented twice at once and no rotation is a replay. A
// chain the service refuses (401) is marked broken and skipped; a worker
// with no live chain stops.
func refreshOp(c *apiClient, users []*vuser, workers int) Op {
	owned := make([][]*vuser, workers)
	for i, u := range users {
		owned[i%workers] = append(owned[i%workers], u)
	}
	return func(ctx context.Context, w, iter int) error {
		mine := owned[w]
		for k := range len(mine) {
			u := mine[(iter+k)%len(mine)]
			if u.Broken {
				continue
			}
			var tp tokenPair
			if err := c.refresh(ctx, u.Refresh, &tp); err != nil {
				var se *StatusError
				if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
					u.Broken = true
				}
				return err
			}
			if tp.RefreshToken == "" {
				u.Broken = true
				return kindError{kind: "no refresh token in response", err: errors.New("refresh answered without data.refreshToken")}
			}
			u.Refresh, u.Access = tp.RefreshToken, tp.AccessToken
			return nil
		}
		return errWorkerDone
	}
}

// brokenChains counts the users whose refresh chain was lost.
func brokenChains(users []*vuser) int {
	n := 0
	for _, u := range users {
		if u.Broken {
			n++
		}
	}
	return n
}

// loginOp logs the users in round robin with their password (body
// transport, so no cookie): one argon2id verification per call.
func loginOp(c *apiClient, users []*vuser, workers int, password string) Op {
	return func(ctx context.Context, w, iter int) error {
		return c.login(ctx, pick(users, workers, w, iter).Email, password, nil)
	}
}

// registerOp registers fresh accounts; tag must be unique per run so that
// emails never collide with an earlier run.
func registerOp(c *apiClient, tag, password string) Op {
	return func(ctx context.Context, w, iter int) error {
		email := fmt.Sprintf("%s-w%d-%d@bench.example.com", tag, w, iter)
		return c.register(ctx, email, password, "", nil)
	}
}
