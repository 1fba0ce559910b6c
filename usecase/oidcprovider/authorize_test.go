package oidcprovider_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// memOAuth is an in-memory ClientStore, RequestStore and GrantStore.
type memOAuth struct {
	mu       sync.Mutex
	clients  map[string]oauth.Client
	requests map[string]oauth.Request
	grants   map[[2]string]oauth.Grant
}

func newMemOAuth() *memOAuth {
	return &memOAuth{clients: map[string]oauth.Client{}, requests: map[string]oauth.Request{}, grants: map[[2]string]oauth.Grant{}}
}

func (m *memOAuth) CreateClient(_ context.Context, c oauth.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients[c.ID] = c
	return nil
}

func (m *memOAuth) ClientByID(_ context.Context, cid string) (oauth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[cid]
	if !ok {
		return oauth.Client{}, oauth.ErrClientNotFound
	}
	return c, nil
}

func (m *memOAuth) ListClients(context.Context) ([]oauth.Client, error) { return nil, nil }
func (m *memOAuth) DeleteClient(context.Context, string) error          { return nil }

func (m *memOAuth) CreateRequest(_ context.Context, r oauth.Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[r.ID] = r
	return nil
}

func (m *memOAuth) RequestByID(_ context.Context, rid string) (oauth.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[rid]
	if !ok {
		return oauth.Request{}, oauth.ErrRequestNotFound
	}
	return r, nil
}

func (m *memOAuth) UpdateRequest(_ context.Context, rid string, fn func(*oauth.Request) error) error {
	return fakes.UpdateIn(&m.mu, m.requests, rid, oauth.ErrRequestNotFound, fn)
}

func (m *memOAuth) SpendCode(context.Context, [32]byte, time.Time) (oauth.Request, error) {
	return oauth.Request{}, oauth.ErrCodeInvalid
}

func (m *memOAuth) RequestByCode(context.Context, [32]byte) (oauth.Request, error) {
	return oauth.Request{}, oauth.ErrCodeInvalid
}

func (m *memOAuth) PurgeRequests(context.Context, time.Time) (int, error) { return 0, nil }

func (m *memOAuth) Grant(_ context.Context, uid, cid string) (oauth.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[[2]string{uid, cid}]
	if !ok {
		return oauth.Grant{}, oauth.ErrGrantNotFound
	}
	g.Scopes = slices.Clone(g.Scopes)
	return g, nil
}

func (m *memOAuth) SaveGrant(_ context.Context, g oauth.Grant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants[[2]string{g.UserID, g.Client.ID}] = g
	return nil
}

func (m *memOAuth) ListGrants(context.Context, string) ([]oauth.Grant, error) { return nil, nil }
func (m *memOAuth) DeleteGrant(context.Context, string, string) error         { return nil }

type authorizeEnv struct {
	store  *fakes.Store
	oauth  *memOAuth
	clock  *fakes.Clock
	az     *oidcprovider.Authorizer
	client oauth.Client
	public oauth.Client
}

func newAuthorizeEnv(t *testing.T) *authorizeEnv {
	t.Helper()
	e := &authorizeEnv{store: fakes.NewStore(), oauth: newMemOAuth(), clock: fakes.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	e.az = oidcprovider.NewAuthorizer(oidcprovider.AuthorizerDeps{
		Clients: e.oauth, Requests: e.oauth, Grants: e.oauth, Audit: e.store.Audit, Tx: e.store, Clock: e.clock,
		CodeTTL: time.Minute,
	})
	e.client = oauth.Client{ID: id.New(), Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"},
		Scopes: []string{"openid", "profile", "email"}}
	e.public = oauth.Client{ID: id.New(), Name: "SPA", Public: true, RedirectURIs: []string{"https://spa.example/cb"},
		Scopes: oauth.KnownScopes}
	_ = e.oauth.CreateClient(context.Background(), e.client)
	_ = e.oauth.CreateClient(context.Background(), e.public)
	return e
}

func (e *authorizeEnv) request(c oauth.Client) oauth.Request {
	return oauth.Request{ClientID: c.ID, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid", "email"},
		State: "st", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256"}
}

func TestBeginAppliesGatehouseRules(t *testing.T) {
	e := newAuthorizeEnv(t)
	ctx := context.Background()
	noPKCE := e.request(e.public)
	noPKCE.CodeChallenge, noPKCE.CodeChallengeMethod = "", ""
	plain := e.request(e.client)
	plain.CodeChallengeMethod = "plain"
	none := e.request(e.client)
	none.Prompt = []string{"none"}
	formPost := e.request(e.client)
	formPost.ResponseMode = "form_post"
	noOpenID := e.request(e.client)
	noOpenID.Scopes = []string{"email"}
	for name, tc := range map[string]struct {
		r    oauth.Request
		want error
	}{
		"public client without PKCE": {noPKCE, oidcprovider.ErrPKCERequired},
		"plain PKCE":                 {plain, oidcprovider.ErrPKCEMethod},
		"prompt=none":                {none, oidcprovider.ErrLoginRequired},
		"form_post":                  {formPost, oidcprovider.ErrResponseMode},
		"no openid":                  {noOpenID, oidcprovider.ErrScopeOpenID},
	} {
		if _, err := e.az.Begin(ctx, tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A confidential client may skip PKCE; scopes it is not registered for
	// are dropped.
	r := e.request(e.client)
	r.CodeChallenge, r.CodeChallengeMethod = "", ""
	r.Scopes = []string{"openid", "email", "offline_access"}
	got, err := e.az.Begin(ctx, r)
	if err != nil || len(got.ID) < 43 || !got.ExpiresAt.Equal(e.clock.Now().Add(oidcprovider.RequestTTL)) ||
		!slices.Equal(got.Scopes, []string{"openid", "email"}) {
		t.Fatalf("begin: %+v %v", got, err)
	}
}

func TestAcceptRemembersConsentOnce(t *testing.T) {
	e := newAuthorizeEnv(t)
	ctx := context.Background()
	user := id.New()
	proof := oauth.Proof{UserID: user, AuthTime: e.clock.Now().Add(-time.Minute), Fresh: true}
	r, err := e.az.Begin(ctx, e.request(e.client))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.az.Show(ctx, r.ID, user); err != nil || !v.ConsentRequired || v.Client.Name != "Wiki" {
		t.Fatalf("show: %+v %v", v, err)
	}
	ans, err := e.az.Accept(ctx, r.ID, proof, nil, "192.0.2.1", "ua")
	if err != nil || ans.Code == "" || ans.State != "st" || ans.RedirectURI != "https://wiki.example/cb" {
		t.Fatalf("accept: %+v %v", ans, err)
	}
	// Single use: the request is gone for the page and for a second answer.
	if _, err := e.az.Show(ctx, r.ID, user); !errors.Is(err, oauth.ErrRequestNotFound) {
		t.Errorf("show after accept: %v", err)
	}
	if _, err := e.az.Reject(ctx, r.ID); !errors.Is(err, oauth.ErrRequestNotFound) {
		t.Errorf("reject after accept: %v", err)
	}
	// The consent covers the next request; a second acceptance adds no event.
	r2, _ := e.az.Begin(ctx, e.request(e.client))
	if v, _ := e.az.Show(ctx, r2.ID, user); v.ConsentRequired {
		t.Error("consent asked again for the same scopes")
	}
	if _, err := e.az.Accept(ctx, r2.ID, proof, nil, "", ""); err != nil {
		t.Fatal(err)
	}
	page, _ := e.store.Audit.ListByUser(ctx, user, "", 10)
	if n := countEvents(page.Events, audit.OAuthConsentGranted); n != 1 {
		t.Errorf("%d oauth_consent_granted events, want 1", n)
	}
	// An expired request is gone.
	r3, _ := e.az.Begin(ctx, e.request(e.client))
	e.clock.Advance(oidcprovider.RequestTTL)
	if _, err := e.az.Accept(ctx, r3.ID, proof, nil, "", ""); !errors.Is(err, oauth.ErrRequestNotFound) {
		t.Errorf("accept after expiry: %v", err)
	}
}

func TestAcceptNeedsRecentSignIn(t *testing.T) {
	e := newAuthorizeEnv(t)
	ctx := context.Background()
	sixty := int64(60)
	req := e.request(e.client)
	req.MaxAge = &sixty
	r, _ := e.az.Begin(ctx, req)
	old := oauth.Proof{UserID: id.New(), AuthTime: e.clock.Now().Add(-2 * time.Minute), Fresh: true}
	var re *oauth.ReauthenticateError
	if _, err := e.az.Accept(ctx, r.ID, old, nil, "", ""); !errors.As(err, &re) || re.MaxAge != 60 {
		t.Fatalf("max_age 60 with a 2-minute-old sign-in: %v", err)
	}
	// The refusal leaves the request pending: sign in again and accept.
	recent := old
	recent.AuthTime = e.clock.Now().Add(-10 * time.Second)
	if _, err := e.az.Accept(ctx, r.ID, recent, []string{"email"}, "", ""); err != nil {
		t.Fatalf("accept with a recent sign-in: %v", err)
	}
	// Asking for a scope that was not requested is a field error.
	r2, _ := e.az.Begin(ctx, e.request(e.client))
	var fe *oauth.FieldError
	if _, err := e.az.Accept(ctx, r2.ID, recent, []string{"profile"}, "", ""); !errors.As(err, &fe) || fe.Field != "scopes" {
		t.Errorf("unrequested scope: %v", err)
	}
}

func countEvents(evs []audit.Event, t audit.Type) int {
	n := 0
	for _, e := range evs {
		if e.Type == t {
			n++
		}
	}
	return n
}
