package hatest

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Check is what the invariants checks found, through the public API only.
type Check struct {
	Chains     int // chains checked
	Refreshed  int // whose next two refreshes succeeded
	ReuseFired int // where a token two generations old was refused as reused and took its session down
	Revoked    int // acknowledged logouts and reuse revocations checked
	StillDead  int // of those, refused on refresh and on /users/me
	Problems   []string
}

// OK reports whether every chain and every revocation held.
func (c Check) OK() bool {
	return len(c.Problems) == 0 && c.Refreshed == c.Chains && c.ReuseFired == c.Chains && c.StillDead == c.Revoked
}

func (c Check) String() string {
	return fmt.Sprintf("chains %d/%d refreshed, reuse fired %d/%d, revocations held %d/%d",
		c.Refreshed, c.Chains, c.ReuseFired, c.Chains, c.StillDead, c.Revoked)
}

// CheckInvariants must run while the load is stopped. For every chain: its
// next refresh succeeds (so it was neither lost nor left half-rotated),
// twice; then a token two generations old is refused as
// REFRESH_TOKEN_REUSED and the whole session dies with it (so there is one
// lineage, and reuse detection works after the fault). The chain then
// starts a new session. For every acknowledged logout or reuse revocation
// so far: the refresh token and the access token are still refused.
//
// Revocations made since the previous check are all checked; of older ones
// (already seen holding), at most sampleOld at random, or all when
// sampleOld < 0.
func (l *Load) CheckInvariants(ctx context.Context, sampleOld int) Check {
	var (
		mu  sync.Mutex
		res Check
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}
	l.mu.Lock()
	revokedBefore := append([]revoked(nil), l.revoked[l.checked:]...)
	older := l.revoked[:l.checked]
	if sampleOld < 0 || sampleOld >= len(older) {
		revokedBefore = append(revokedBefore, older...)
	} else {
		for range sampleOld {
			revokedBefore = append(revokedBefore, older[l.intn(len(older))])
		}
	}
	// What this check adds (reuse revocations) is new for the next one.
	l.checked = len(l.revoked)
	l.mu.Unlock()

	// First, promptly, the chains whose last refresh or logout went
	// unanswered, as their clients would retry: a rotation that happened
	// is handed back only within the reuse grace.
	_ = l.parallel(ctx, len(l.chains), func(i int) error {
		c := l.chains[i]
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case c.leaving:
			l.logoutChain(ctx, c)
		case c.unsure && !c.needNew:
			l.refreshChain(ctx, c)
		}
		return nil
	})
	_ = l.parallel(ctx, len(l.chains), func(i int) error {
		c := l.chains[i]
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.leaving && !l.logoutChain(ctx, c) {
			problem("chain %d: logout still not answered after the fault", i)
			return nil
		}
		if c.needNew {
			if r := l.newSession(ctx, c); r.status != 200 {
				problem("chain %d: login: %v", i, r)
			}
			return nil
		}
		mu.Lock()
		res.Chains++
		mu.Unlock()
		for range 2 {
			var tp tokenPair
			if r := l.c.refresh(ctx, c.current(), &tp); r.status != 200 || r.err != nil {
				problem("chain %d: refresh after the fault: %v; trail: %s", i, r, strings.Join(c.trail, ", "))
				return nil
			}
			c.access, c.tokens = tp.AccessToken, append(c.tokens, tp.RefreshToken)
		}
		mu.Lock()
		res.Refreshed++
		mu.Unlock()
		old := c.tokens[len(c.tokens)-3]
		if r := l.c.refresh(ctx, old, nil); r.status != 401 || r.code != "REFRESH_TOKEN_REUSED" {
			problem("chain %d: old token: %v, want 401 REFRESH_TOKEN_REUSED", i, r)
		} else if r := l.c.refresh(ctx, c.current(), nil); r.status != 401 {
			problem("chain %d: newest token after reuse: %v, want 401", i, r)
		} else if r := l.c.me(ctx, c.access); r.status != 401 || r.code != "SESSION_REVOKED" {
			problem("chain %d: access token after reuse: %v, want 401 SESSION_REVOKED", i, r)
		} else {
			mu.Lock()
			res.ReuseFired++
			mu.Unlock()
			l.mu.Lock()
			l.revoked = append(l.revoked, revoked{refresh: c.current(), access: c.access})
			l.mu.Unlock()
		}
		if r := l.newSession(ctx, c); r.status != 200 {
			problem("chain %d: new login: %v", i, r)
		}
		return nil
	})

	res.Revoked = len(revokedBefore)
	_ = l.parallel(ctx, len(revokedBefore), func(i int) error {
		rv := revokedBefore[i]
		if r := l.c.refresh(ctx, rv.refresh, nil); r.status != 401 {
			problem("revoked session %d: refresh answered %v, want 401", i, r)
			return nil
		}
		if r := l.c.me(ctx, rv.access); r.status != 401 || r.code != "SESSION_REVOKED" {
			problem("revoked session %d: /users/me answered %v, want 401 SESSION_REVOKED", i, r)
			return nil
		}
		mu.Lock()
		res.StillDead++
		mu.Unlock()
		return nil
	})
	return res
}

// CheckSessions lists each user's active sessions (through one of its
// chains) and checks that every chain's session is there, and that the
// extra ones are no more than that user's logins that got no answer: a
// login either made a whole session or none.
func (l *Load) CheckSessions(ctx context.Context) []string {
	byUser := map[string][]*chain{}
	for _, c := range l.chains {
		if !c.needNew {
			byUser[c.email] = append(byUser[c.email], c)
		}
	}
	var problems []string
	for email, chains := range byUser {
		var list []sessionInfo
		if r := l.c.sessions(ctx, chains[0].access, &list); r.status != 200 {
			problems = append(problems, fmt.Sprintf("%s: list sessions: %v", email, r))
			continue
		}
		listed := map[string]bool{}
		for _, s := range list {
			listed[s.ID] = true
		}
		for _, c := range chains {
			if !listed[c.session] {
				problems = append(problems, fmt.Sprintf("%s: session %s of a live chain is not listed", email, c.session))
			}
		}
		l.mu.Lock()
		unacked := l.unacked[email]
		l.mu.Unlock()
		if extra := len(list) - len(chains); extra > unacked {
			problems = append(problems, fmt.Sprintf("%s: %d sessions beyond the live chains, but only %d logins went unanswered", email, extra, unacked))
		}
	}
	return problems
}
