package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/scale"
)

// The scale scenarios: they need a seeded database (-manifest).
const (
	scenarioSearchEmail = "admin-search-email"
	scenarioSearchName  = "admin-search-name"
	scenarioAdminPage   = "admin-page"
	scenarioAdminUser   = "admin-user"
	scenarioAdminEvents = "admin-events"
	scenarioSessions    = "sessions"
	scenarioMixed       = "mixed"
)

// scaleScenarios lists them: the operator's paths, a user's own session
// list, and the mixed load of the memory run.
func scaleScenarios() []string {
	return []string{scenarioSearchEmail, scenarioSearchName, scenarioAdminPage, scenarioAdminUser,
		scenarioAdminEvents, scenarioSessions, scenarioMixed}
}

// adminSession is the seeded administrator, logged in; a token that
// expired during a long run is replaced by logging in again.
type adminSession struct {
	api             *apiClient
	email, password string

	mu    sync.Mutex
	token string
}

func newAdminSession(ctx context.Context, api *apiClient, email, password string) (*adminSession, error) {
	a := &adminSession{api: api, email: email, password: password}
	if _, err := a.relogin(ctx, ""); err != nil {
		return nil, fmt.Errorf("setup: admin login: %w", err)
	}
	return a, nil
}

// relogin logs in again unless another worker already replaced stale.
func (a *adminSession) relogin(ctx context.Context, stale string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != stale {
		return a.token, nil
	}
	var tp tokenPair
	if err := a.api.login(ctx, a.email, a.password, &tp); err != nil {
		return "", err
	}
	a.token = tp.AccessToken
	return a.token, nil
}

// get reads path as the administrator into out.
func (a *adminSession) get(ctx context.Context, path string, out any) error {
	a.mu.Lock()
	tok := a.token
	a.mu.Unlock()
	err := a.api.do(ctx, http.MethodGet, path, tok, nil, out)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusUnauthorized && se.Code == "TOKEN_EXPIRED" {
		if tok, err = a.relogin(ctx, tok); err != nil {
			return err
		}
		return a.api.do(ctx, http.MethodGet, path, tok, nil, out)
	}
	return err
}

// adminList is the admin list's page.
type adminList struct {
	Items []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// loginSeeded logs n seeded accounts in (spread over the manifest's
// sample, so over the whole list) and returns them as virtual users.
func loginSeeded(ctx context.Context, c *apiClient, m *scale.Manifest, n, concurrency int) ([]*vuser, error) {
	n = min(n, len(m.Sample))
	users := make([]*vuser, n)
	errs := make([]error, n)
	stride := len(m.Sample) / n
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(min(concurrency, n), 1) {
		wg.Go(func() {
			for i := range next {
				s := m.Sample[i*stride]
				var tp tokenPair
				if err := c.login(ctx, s.Email, m.Password, &tp); err != nil {
					errs[i] = fmt.Errorf("log in %s: %w", s.Email, err)
					continue
				}
				if tp.RefreshToken == "" || tp.AccessToken == "" {
					errs[i] = fmt.Errorf("log in %s: no token pair (a second factor?)", s.Email)
					continue
				}
				users[i] = &vuser{Email: s.Email, UserID: s.ID, SessionID: tp.Session.ID, Access: tp.AccessToken, Refresh: tp.RefreshToken}
			}
		})
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
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return users, nil
}

// scaleOp is a scale scenario's operation on service sd.
func scaleOp(sd *side, scenario string, workers int, password string) (Op, error) {
	if sd.man == nil || sd.admin == nil {
		return nil, fmt.Errorf("scenario %s needs the seeded database's -manifest", scenario)
	}
	m, admin := sd.man, sd.admin
	sample := func(w, iter int) scale.SampleUser {
		return m.Sample[(w*7919+iter*workers)%len(m.Sample)]
	}
	switch scenario {
	case scenarioSearchEmail:
		// A substring from the middle of one account's address: the
		// surname and number (unique, or nearly, as the number is).
		return func(ctx context.Context, w, iter int) error {
			s := sample(w, iter)
			local, _, _ := strings.Cut(s.Email, "@")
			_, term, _ := strings.Cut(local, ".")
			var page adminList
			if err := admin.get(ctx, "/admin/users?limit=50&q="+url.QueryEscape(term), &page); err != nil {
				return err
			}
			for _, it := range page.Items {
				if it.ID == s.ID {
					return nil
				}
			}
			return kindError{kind: "search missed the account", err: fmt.Errorf("q=%s: %d items without %s", term, len(page.Items), s.ID)}
		}, nil
	case scenarioSearchName:
		// A surname: about one account in a hundred has it.
		return func(ctx context.Context, w, iter int) error {
			term := strings.ToLower(m.Surnames[(w+iter*workers)%len(m.Surnames)])
			var page adminList
			if err := admin.get(ctx, "/admin/users?limit=50&q="+url.QueryEscape(term), &page); err != nil {
				return err
			}
			if len(page.Items) == 0 {
				return kindError{kind: "search found nothing", err: fmt.Errorf("q=%s", term)}
			}
			return nil
		}, nil
	case scenarioAdminPage:
		if len(m.Deep) == 0 {
			return nil, errors.New("the manifest has no deep cursors (too few accounts)")
		}
		return func(ctx context.Context, w, iter int) error {
			d := m.Deep[(w*31+iter*workers)%len(m.Deep)]
			var page adminList
			if err := admin.get(ctx, "/admin/users?limit=50&cursor="+url.QueryEscape(d.Cursor), &page); err != nil {
				return err
			}
			if len(page.Items) == 0 || page.Items[0].ID != d.NextID {
				return kindError{kind: "deep page starts elsewhere", err: fmt.Errorf("after depth %d", d.Depth)}
			}
			return nil
		}, nil
	case scenarioAdminUser:
		return func(ctx context.Context, w, iter int) error {
			s := sample(w, iter)
			var u struct {
				ID string `json:"id"`
			}
			if err := admin.get(ctx, "/admin/users/"+s.ID, &u); err != nil {
				return err
			}
			if u.ID != s.ID {
				return kindError{kind: "wrong account", err: fmt.Errorf("asked %s, got %s", s.ID, u.ID)}
			}
			return nil
		}, nil
	case scenarioAdminEvents:
		return func(ctx context.Context, w, iter int) error {
			return admin.get(ctx, "/admin/users/"+sample(w, iter).ID+"/security-events?limit=50", nil)
		}, nil
	case scenarioSessions:
		return func(ctx context.Context, w, iter int) error {
			u := pick(sd.users, workers, w, iter)
			return sd.api.do(ctx, http.MethodGet, "/auth/sessions", u.Access, nil, nil)
		}, nil
	case scenarioMixed:
		return mixedOp(sd, workers, password), nil
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// mixedOp is the memory run's load, per 20 calls of a worker: 13 access
// checks (me), 4 refreshes of its own chains, one login, one admin search
// and one admin read of an account with its sessions and factors.
func mixedOp(sd *side, workers int, password string) Op {
	// A worker's access checks use its own chains' tokens, which only its
	// refreshes replace.
	me := func(ctx context.Context, w, iter int) error {
		owned := (len(sd.users) - w + workers - 1) / workers
		return sd.api.me(ctx, sd.users[w+(iter%owned)*workers].Access)
	}
	refresh := refreshOp(sd.api, sd.users, workers)
	login := loginOp(sd.api, sd.users, workers, password)
	search, _ := scaleOp(sd, scenarioSearchName, workers, password)
	user, _ := scaleOp(sd, scenarioAdminUser, workers, password)
	return func(ctx context.Context, w, iter int) error {
		switch k := iter % 20; {
		case k == 0:
			return login(ctx, w, iter)
		case k == 1:
			return search(ctx, w, iter)
		case k == 2:
			return user(ctx, w, iter)
		case k < 7:
			err := refresh(ctx, w, iter)
			if errors.Is(err, errWorkerDone) {
				return me(ctx, w, iter)
			}
			return err
		default:
			return me(ctx, w, iter)
		}
	}
}
