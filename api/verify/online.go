package verify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// sessionCache remembers Gatehouse's answer about a session for a while. Both
// answers are kept: a live session saves a call per request, and a revoked
// one stays revoked.
type sessionCache struct {
	mu      sync.Mutex
	entries map[string]sessionEntry
}

type sessionEntry struct {
	err error // nil: alive
	// roles are the account's roles as Gatehouse answered (alive only).
	roles   []string
	expires time.Time
}

// maxSessionEntries bounds the cache; past it, expired entries are dropped,
// and if none are, everything is (the next requests simply ask again).
const maxSessionEntries = 100_000

func newSessionCache() *sessionCache {
	return &sessionCache{entries: map[string]sessionEntry{}}
}

func (c *sessionCache) get(sid string, now time.Time) (sessionEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sid]
	if !ok || !now.Before(e.expires) {
		return sessionEntry{}, false
	}
	return e, true
}

func (c *sessionCache) put(sid string, e sessionEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxSessionEntries {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxSessionEntries {
			clear(c.entries)
		}
	}
	c.entries[sid] = e
}

// checkSession asks Gatehouse whether the token's session is alive, or
// reuses an answer younger than SessionCacheTTL. When it is, the claims
// take the account's roles from the answer: they are the roles as they are
// now, where the token's are those of when it was minted (up to
// ACCESS_TOKEN_TTL ago), so a role an administrator removed stops counting
// within the cache time, as a logout does.
func (v *Verifier) checkSession(ctx context.Context, raw string, c *Claims) error {
	now := v.cfg.Now()
	if e, ok := v.live.get(c.SessionID, now); ok {
		return e.apply(c)
	}
	roles, err := v.askGatehouse(ctx, raw)
	if err == nil || AsError(err) != ErrUnavailable {
		e := sessionEntry{err: err, roles: roles, expires: now.Add(v.cfg.SessionCacheTTL)}
		v.live.put(c.SessionID, e, now)
		return e.apply(c)
	}
	if v.cfg.FailOpen {
		return nil
	}
	return err
}

// apply puts a cached answer on c: its refusal, or its live roles.
func (e sessionEntry) apply(c *Claims) error {
	if e.err != nil {
		return e.err
	}
	c.Roles = append([]string(nil), e.roles...)
	return nil
}

// askGatehouse calls GET /auth/session with the token. 200 is alive, with
// the account's current roles; a 401 carries Gatehouse's own code; anything
// else (a network error, 429, 5xx, an answer that is not Gatehouse's) is
// ErrUnavailable.
func (v *Verifier) askGatehouse(ctx context.Context, raw string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.SessionURL, nil)
	if err != nil {
		return nil, refuse(ErrUnavailable, "session check: "+err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+raw)
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, refuse(ErrUnavailable, "session check: "+err.Error())
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, refuse(ErrUnavailable, "session check: "+err.Error())
	}
	var env struct {
		Success bool `json:"success"`
		Data    struct {
			Active bool     `json:"active"`
			Roles  []string `json:"roles"`
		} `json:"data"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil, refuse(ErrUnavailable, "session check: answer is not an envelope")
	}
	switch {
	case resp.StatusCode == http.StatusOK && env.Success && env.Data.Active && env.Data.Roles != nil:
		return env.Data.Roles, nil
	case resp.StatusCode == http.StatusUnauthorized:
		for _, e := range []*Error{ErrSessionRevoked, ErrTokenExpired, ErrTokenInvalid, ErrUnauthenticated} {
			if e.Code == env.Error.Code {
				return nil, refuse(e, "session check")
			}
		}
		// A 401 with a code this package does not know is still a no.
		return nil, refuse(ErrSessionRevoked, "session check: "+env.Error.Code)
	}
	return nil, refuse(ErrUnavailable, "session check: status "+resp.Status)
}
