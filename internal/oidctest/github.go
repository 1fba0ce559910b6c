package oidctest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// GitHubUser is the person a FakeGitHub signs in.
type GitHubUser struct {
	ID     int64
	Login  string
	Name   string
	Emails []GitHubEmail
}

// GitHubEmail is an entry of GET /user/emails.
type GitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// FakeGitHub answers GitHub's OAuth endpoints (authorize, access_token,
// with PKCE) and its API's GET /user and GET /user/emails, under /api.
type FakeGitHub struct {
	URL, APIURL            string
	ClientID, ClientSecret string

	mu     sync.Mutex
	user   GitHubUser
	codes  map[string]string // code -> code_challenge
	tokens map[string]bool
}

// SetUser chooses who the next sign-in is.
func (g *FakeGitHub) SetUser(u GitHubUser) {
	g.mu.Lock()
	g.user = u
	g.mu.Unlock()
}

// StartGitHub starts a FakeGitHub for client id/secret.
func StartGitHub(t testing.TB, clientID, secret string, u GitHubUser) *FakeGitHub {
	t.Helper()
	g := &FakeGitHub{ClientID: clientID, ClientSecret: secret, user: u, codes: map[string]string{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.URL, g.APIURL = srv.URL, srv.URL+"/api"
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, _ := url.Parse(q.Get("redirect_uri"))
		code := randomString()
		g.mu.Lock()
		g.codes[code] = q.Get("code_challenge")
		g.mu.Unlock()
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_id") != g.ClientID || r.FormValue("client_secret") != g.ClientSecret {
			writeJSON(w, map[string]string{"error": "incorrect_client_credentials"})
			return
		}
		g.mu.Lock()
		challenge, ok := g.codes[r.FormValue("code")]
		delete(g.codes, r.FormValue("code"))
		g.mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			writeJSON(w, map[string]string{"error": "bad_verification_code"})
			return
		}
		tok := randomString()
		g.mu.Lock()
		g.tokens[tok] = true
		g.mu.Unlock()
		writeJSON(w, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
	})
	authed := func(r *http.Request) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		const p = "Bearer "
		h := r.Header.Get("Authorization")
		return len(h) > len(p) && g.tokens[h[len(p):]]
	}
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		g.mu.Lock()
		u := g.user
		g.mu.Unlock()
		writeJSON(w, map[string]any{"id": u.ID, "login": u.Login, "name": u.Name})
	})
	mux.HandleFunc("GET /api/user/emails", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		g.mu.Lock()
		es := g.user.Emails
		g.mu.Unlock()
		if es == nil {
			es = []GitHubEmail{}
		}
		writeJSON(w, es)
	})
	return g
}
