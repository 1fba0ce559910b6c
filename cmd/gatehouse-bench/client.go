package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// newHTTPClient returns a keep-alive client that keeps enough idle
// connections for every worker, so the load measures requests, not dials.
func newHTTPClient(concurrency int, timeout time.Duration) *http.Client {
	idle := max(2*concurrency, 16)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // 127.0.0.1 only; never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// checkLoopback refuses URLs whose host is not a loopback address: this
// tool generates load, and load belongs on this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: only loopback hosts (127.0.0.1, ::1, localhost) are allowed", raw)
	}
	return nil
}

// apiClient calls the Gatehouse HTTP API.
type apiClient struct {
	base string
	hc   *http.Client
}

// tokenPair is the part of a token-pair response the tool uses.
type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
	Session struct {
		ID string `json:"id"`
	} `json:"session"`
}

// do sends one request. A non-2xx answer is a *StatusError carrying the
// envelope's error code. With out nil the body is discarded unread (but
// drained, so the connection is reused); otherwise the envelope's data is
// decoded into out.
func (c *apiClient) do(ctx context.Context, method, path, bearer string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var env struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = json.Unmarshal(data, &env)
		return &StatusError{Status: resp.StatusCode, Code: env.Error.Code}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return kindError{kind: "bad response body", err: err}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return kindError{kind: "bad response body", err: err}
	}
	return nil
}

// postJSON marshals v (which cannot fail for the tool's own types) and posts it.
func (c *apiClient) postJSON(ctx context.Context, path string, v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, "", b, out)
}

type credentials struct {
	Email                 string `json:"email"`
	Password              string `json:"password"`
	Name                  string `json:"name,omitempty"`
	RefreshTokenTransport string `json:"refreshTokenTransport"`
}

func (c *apiClient) register(ctx context.Context, email, password, name string, out *tokenPair) error {
	return c.postJSON(ctx, "/auth/register", credentials{Email: email, Password: password, Name: name, RefreshTokenTransport: "body"}, outOrNil(out))
}

func (c *apiClient) login(ctx context.Context, email, password string, out *tokenPair) error {
	return c.postJSON(ctx, "/auth/login", credentials{Email: email, Password: password, RefreshTokenTransport: "body"}, outOrNil(out))
}

func (c *apiClient) refresh(ctx context.Context, refreshToken string, out *tokenPair) error {
	return c.postJSON(ctx, "/auth/refresh", struct {
		RefreshToken string `json:"refreshToken"`
	}{refreshToken}, outOrNil(out))
}

func (c *apiClient) me(ctx context.Context, accessToken string) error {
	return c.do(ctx, http.MethodGet, "/users/me", accessToken, nil, nil)
}

// jwks fetches the raw JWK Set.
func (c *apiClient) jwks(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Status: resp.StatusCode}
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// outOrNil keeps a typed nil pointer from becoming a non-nil any.
func outOrNil(p *tokenPair) any {
	if p == nil {
		return nil
	}
	return p
}

// vuser is one virtual user: an account made in the setup phase and its
// newest tokens. Phases run one after another, and within the refresh
// phase each vuser belongs to exactly one worker, so fields need no lock.
type vuser struct {
	Email     string
	UserID    string
	SessionID string
	Access    string
	Refresh   string
	// Broken is set when the refresh chain was refused (the session is gone
	// or revoked); the user is then skipped by refresh.
	Broken bool
}

// runPrefix returns a per-run email prefix unlikely to collide with any
// earlier run on the same database.
func runPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("bench-%d-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}

// setupUsers registers n users (body transport) with up to concurrency
// requests at once and returns them in order. A rate limit answer is
// reported with the setting that causes it.
func setupUsers(ctx context.Context, c *apiClient, n, concurrency int, prefix, password string) ([]*vuser, error) {
	users := make([]*vuser, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(min(concurrency, n), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				email := fmt.Sprintf("%s-%d@bench.example.com", prefix, i)
				var tp tokenPair
				if err := c.register(ctx, email, password, fmt.Sprintf("Bench %d", i), &tp); err != nil {
					errs[i] = err
					continue
				}
				if tp.RefreshToken == "" || tp.AccessToken == "" {
					errs[i] = errors.New("register returned no refresh token in the body (refreshTokenTransport body ignored?)")
					continue
				}
				users[i] = &vuser{Email: email, UserID: tp.User.ID, SessionID: tp.Session.ID, Access: tp.AccessToken, Refresh: tp.RefreshToken}
			}
		}()
	}
loop:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
			return nil, fmt.Errorf("setup: register user %d: %w (run the service with RATE_LIMIT_PER_IP=0 for benchmarks)", i, err)
		}
		return nil, fmt.Errorf("setup: register user %d: %w", i, err)
	}
	return users, nil
}

// benchHint explains error kinds that mean the service is configured
// against the benchmark rather than slow.
func benchHint(kinds map[string]uint64) string {
	for k := range kinds {
		if strings.HasPrefix(k, "HTTP 429") {
			return "429 answers: run the service with RATE_LIMIT_PER_IP=0 for benchmarks"
		}
	}
	return ""
}
