package oauth_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/oauth"
)

func TestCheckRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb?x=1", true},
		{"http://localhost:8080/cb", true},
		{"http://127.0.0.1/cb", true},
		{"http://[::1]:9/cb", true},
		{"http://app.example.com/cb", false},
		{"https://app.example.com/cb#frag", false},
		{"https://app.example.com/cb#", false},
		{"/relative", false},
		{"myapp://cb", false},
		{"https://user:pw@app.example.com/cb", false},
		{"", false},
	} {
		if err := oauth.CheckRedirectURI(tc.uri); (err == nil) != tc.ok {
			t.Errorf("CheckRedirectURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
	}
}

func TestRedirectComparedExactly(t *testing.T) {
	c := oauth.Client{RedirectURIs: []string{"https://app.example.com/cb"}}
	for _, u := range []string{"https://app.example.com/cb/", "https://APP.example.com/cb", "https://app.example.com/cb?x", "https://app.example.com:443/cb"} {
		if c.RedirectRegistered(u) {
			t.Errorf("%q matched https://app.example.com/cb", u)
		}
	}
	if !c.RedirectRegistered("https://app.example.com/cb") {
		t.Error("the registered URI did not match itself")
	}
}

func TestNormalize(t *testing.T) {
	r, err := oauth.Registration{Name: " Grafana ", RedirectURIs: []string{"https://g.example.com/login/generic_oauth"}}.Normalize()
	if err != nil || r.Name != "Grafana" || r.IDTokenAlg != oauth.AlgRS256 || !slices.Equal(r.Scopes, oauth.KnownScopes) {
		t.Fatalf("defaults: %+v %v", r, err)
	}
	for field, reg := range map[string]oauth.Registration{
		"name":                     {RedirectURIs: []string{"https://a.example/cb"}},
		"redirectUris":             {Name: "x"},
		"scopes":                   {Name: "x", RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"profile"}},
		"idTokenSignedResponseAlg": {Name: "x", RedirectURIs: []string{"https://a.example/cb"}, IDTokenAlg: "HS256"},
		"postLogoutRedirectUris":   {Name: "x", RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"http://evil.example/"}},
	} {
		_, err := reg.Normalize()
		var fe *oauth.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestCheckProof(t *testing.T) {
	created := time.Date(2026, 1, 1, 12, 0, 0, 500e6, time.UTC)
	sixty := int64(60)
	zero := int64(0)
	login := oauth.Proof{AuthTime: created.Add(-time.Hour).Truncate(time.Second), Fresh: true}
	again := oauth.Proof{AuthTime: created.Add(2 * time.Second).Truncate(time.Second), Fresh: true}
	stale := oauth.Proof{AuthTime: created.Add(2 * time.Second).Truncate(time.Second), Fresh: false}
	now := created.Add(5 * time.Second)
	for _, tc := range []struct {
		name string
		r    oauth.Request
		p    oauth.Proof
		ok   bool
	}{
		{"no constraint", oauth.Request{CreatedAt: created}, login, true},
		{"max_age 60 with an hour-old sign-in", oauth.Request{CreatedAt: created, MaxAge: &sixty}, login, false},
		{"max_age 60 with a recent one", oauth.Request{CreatedAt: created, MaxAge: &sixty}, again, true},
		{"max_age 0 with an old one", oauth.Request{CreatedAt: created, MaxAge: &zero}, login, false},
		{"max_age 0 signed in again", oauth.Request{CreatedAt: created, MaxAge: &zero}, again, true},
		{"prompt=login with an old one", oauth.Request{CreatedAt: created, Prompt: []string{"login"}}, login, false},
		{"prompt=login signed in again", oauth.Request{CreatedAt: created, Prompt: []string{"login"}}, again, true},
		{"prompt=login with a refreshed token", oauth.Request{CreatedAt: created, Prompt: []string{"login"}}, stale, false},
	} {
		err := tc.r.CheckProof(tc.p, now)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, oauth.ErrReauthenticate) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestGrantedAndCovers(t *testing.T) {
	r := oauth.Request{Scopes: []string{"openid", "email", "offline_access"}}
	if g, err := r.Granted(nil); err != nil || !slices.Equal(g, r.Scopes) {
		t.Errorf("default: %v %v", g, err)
	}
	if g, err := r.Granted([]string{"email"}); err != nil || !slices.Equal(g, []string{"openid", "email"}) {
		t.Errorf("subset: %v %v", g, err)
	}
	if _, err := r.Granted([]string{"profile"}); err == nil {
		t.Error("a scope that was not asked for was granted")
	}
	g := oauth.Grant{Scopes: []string{"openid", "email"}}
	if !g.Covers([]string{"email"}) || g.Covers([]string{"email", "offline_access"}) {
		t.Error("Covers")
	}
	if !g.Widen([]string{"email", "offline_access"}, time.Now()) || g.Widen([]string{"email"}, time.Now()) {
		t.Error("Widen")
	}
}
