package hatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client speaks Gatehouse's public HTTP API and nothing else.
type client struct {
	base string
	hc   *http.Client
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// reply is one answer: the HTTP status (0 when no response arrived), the
// envelope's error code, and data decoded into the caller's value.
type reply struct {
	status int
	code   string
	err    error
}

func (r reply) String() string {
	if r.status == 0 {
		return fmt.Sprintf("no response (%v)", r.err)
	}
	if r.code != "" {
		return fmt.Sprintf("%d %s", r.status, r.code)
	}
	if r.err != nil {
		// Not Gatehouse's envelope: HAProxy's own page, say.
		return fmt.Sprintf("%d (%v)", r.status, r.err)
	}
	return fmt.Sprint(r.status)
}

type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// tokenPair is the part of a token pair the load uses.
type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	Session      struct {
		ID string `json:"id"`
	} `json:"session"`
}

func (c *client) do(ctx context.Context, method, path, bearer string, body, out any) reply {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		r.err = fmt.Errorf("decode envelope: %w", err)
		return r
	}
	if env.Error != nil {
		r.code = env.Error.Code
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			r.err = fmt.Errorf("decode data: %w", err)
		}
	}
	return r
}

func (c *client) register(ctx context.Context, email, password string, out *tokenPair) reply {
	return c.do(ctx, http.MethodPost, "/auth/register", "",
		map[string]string{"email": email, "password": password, "refreshTokenTransport": "body"}, out)
}

func (c *client) login(ctx context.Context, email, password string, out *tokenPair) reply {
	return c.do(ctx, http.MethodPost, "/auth/login", "",
		map[string]string{"email": email, "password": password, "refreshTokenTransport": "body"}, out)
}

func (c *client) refresh(ctx context.Context, token string, out *tokenPair) reply {
	return c.do(ctx, http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": token}, out)
}

func (c *client) me(ctx context.Context, access string) reply {
	return c.do(ctx, http.MethodGet, "/users/me", access, nil, nil)
}

// logout by refresh token alone: idempotent (an unknown or revoked token
// answers 200 too), so it is safe to retry after an unanswered attempt.
func (c *client) logout(ctx context.Context, token string) reply {
	return c.do(ctx, http.MethodPost, "/auth/logout", "", map[string]string{"refreshToken": token}, nil)
}

type sessionInfo struct {
	ID string `json:"id"`
}

func (c *client) sessions(ctx context.Context, access string, out *[]sessionInfo) reply {
	return c.do(ctx, http.MethodGet, "/auth/sessions", access, nil, out)
}
