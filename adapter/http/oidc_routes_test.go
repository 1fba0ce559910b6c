package httpadapter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

const testClientID = "3b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"

// fakeProvider is the OpenID provider's use cases, answering as set per
// test and recording what they were given.
type fakeProvider struct {
	mu       sync.Mutex
	err      error
	view     oidcprovider.RequestView
	answer   oidcprovider.Answer
	secret   string
	proof    oauth.Proof
	scopes   []string
	reg      oauth.Registration
	calls    []string
	sessions map[string]oauth.Ref
	// protocolClient is the client the protocol handler saw.
	protocolClient reqctx.Client
}

func (f *fakeProvider) record(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeProvider) Show(_ context.Context, requestID, userID string) (oidcprovider.RequestView, error) {
	f.record("Show:" + requestID + ":" + userID)
	return f.view, f.err
}

func (f *fakeProvider) Accept(_ context.Context, requestID string, p oauth.Proof, scopes []string, ip, ua string) (oidcprovider.Answer, error) {
	f.record("Accept:" + requestID)
	f.proof, f.scopes = p, scopes
	return f.answer, f.err
}

func (f *fakeProvider) Reject(_ context.Context, requestID string) (oidcprovider.Answer, error) {
	f.record("Reject:" + requestID)
	a := f.answer
	a.Code, a.Error = "", "access_denied"
	return a, f.err
}

func testClient() oauth.Client {
	return oauth.Client{ID: testClientID, Name: "Notes", RedirectURIs: []string{"https://notes.example/cb"},
		PostLogoutRedirectURIs: []string{}, Scopes: []string{"openid", "profile"}, IDTokenAlg: "RS256", CreatedAt: testNow}
}

func (f *fakeProvider) Register(_ context.Context, act oidcprovider.Actor, reg oauth.Registration) (oauth.Client, string, error) {
	f.record("Register:" + act.Principal.UserID())
	f.reg = reg
	if f.err != nil {
		return oauth.Client{}, "", f.err
	}
	c := testClient()
	c.Public = reg.Public
	return c, f.secret, nil
}

func (f *fakeProvider) List(_ context.Context, act oidcprovider.Actor) ([]oauth.Client, error) {
	f.record("ListClients")
	return []oauth.Client{testClient()}, f.err
}

func (f *fakeProvider) Delete(_ context.Context, act oidcprovider.Actor, clientID string) error {
	f.record("DeleteClient:" + clientID)
	return f.err
}

// fakeGrants is UserGrants; its List differs from ClientAdmin's.
type fakeGrants struct{ *fakeProvider }

func (g fakeGrants) List(_ context.Context, userID string) ([]oauth.Grant, error) {
	g.record("ListGrants:" + userID)
	return []oauth.Grant{{UserID: userID, Client: testClient().Ref(), Scopes: []string{"openid"}, CreatedAt: testNow}}, g.err
}

func (g fakeGrants) Revoke(_ context.Context, p auth.Principal, clientID, ip, ua string) error {
	g.record("RevokeGrant:" + clientID)
	return g.err
}

func (g fakeGrants) SessionClients(_ context.Context, ids []string) (map[string]oauth.Ref, error) {
	g.record("SessionClients")
	return g.sessions, g.err
}

// ServeHTTP stands for the protocol library: it answers by path.
func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.protocolClient = reqctx.ClientOf(r.Context())
	f.mu.Unlock()
	switch r.URL.Path {
	case "/oauth2/authorize":
		http.Redirect(w, r, "https://app.example/login?request=abc", http.StatusFound)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"grant_type is required"}`))
	}
}

func withProvider(f *fakeProvider) serverOpt {
	return func(d *Deps, _ *Options) {
		d.OIDC = &OIDCProvider{Protocol: f, Requests: f, Clients: f, Grants: fakeGrants{f}, Issuer: "https://id.example.com/"}
	}
}

const requestPath = "/oauth2/requests/req-1"

func TestAuthorizationRequestShow(t *testing.T) {
	f := &fakeProvider{view: oidcprovider.RequestView{Client: testClient().Ref(), Scopes: []string{"openid", "email"}, ConsentRequired: true}}
	s := newTestServer(t, withProvider(f))
	r := s.do(http.MethodGet, requestPath, "", bearer(tokStale))
	if r.Code != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	v := dataOf[requestViewDTO](t, r)
	if v.Client.ClientID != testClientID || v.Client.Name != "Notes" || !v.ConsentRequired || v.Prompt == nil || v.MaxAge != nil ||
		!slices.Equal(v.Scopes, []string{"openid", "email"}) {
		t.Errorf("view %+v", v)
	}
	if !slices.Contains(f.calls, "Show:req-1:"+testUserID) {
		t.Errorf("calls %v", f.calls)
	}
	f.err = oauth.ErrRequestNotFound
	if r := s.do(http.MethodGet, requestPath, "", bearer(tokStale)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown request: %d %s", r.Code, r.Body)
	}
}

// Accepting hands the use case the caller's proof and the scopes granted,
// and answers the client's redirect with the code, the state and the
// issuer (RFC 9207), in the query or the fragment.
func TestAuthorizationRequestAnswer(t *testing.T) {
	cases := []struct {
		name, path, body string
		answer           oidcprovider.Answer
		want             url.Values
		fragment         bool
	}{
		{"accept, query", requestPath + "/accept", `{"scopes":["openid"]}`,
			oidcprovider.Answer{RedirectURI: "https://notes.example/cb?tenant=7", Code: "c0de", State: "st"},
			url.Values{"code": {"c0de"}, "state": {"st"}, "iss": {"https://id.example.com/"}, "tenant": {"7"}}, false},
		{"accept, fragment, no state", requestPath + "/accept", "",
			oidcprovider.Answer{RedirectURI: "https://notes.example/cb#old", ResponseMode: "fragment", Code: "c0de"},
			url.Values{"code": {"c0de"}, "iss": {"https://id.example.com/"}}, true},
		{"reject", requestPath + "/reject", "",
			oidcprovider.Answer{RedirectURI: "https://notes.example/cb", State: "st"},
			url.Values{"error": {"access_denied"}, "state": {"st"}, "iss": {"https://id.example.com/"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeProvider{answer: tc.answer}
			s := newTestServer(t, withProvider(f))
			r := s.do(http.MethodPost, tc.path, tc.body, bearer(tokFresh))
			if r.Code != 200 || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			out := dataOf[redirectDTO](t, r)
			u, err := url.Parse(out.RedirectTo)
			if err != nil {
				t.Fatal(err)
			}
			got := u.Query()
			if tc.fragment {
				if got, err = url.ParseQuery(u.Fragment); err != nil || u.RawQuery != "" {
					t.Fatalf("fragment %q query %q", u.Fragment, u.RawQuery)
				}
			}
			if u.Host != "notes.example" || u.Path != "/cb" || got.Encode() != tc.want.Encode() {
				t.Errorf("redirect %s", out.RedirectTo)
			}
		})
	}
}

func TestAuthorizationAcceptProofAndRefusals(t *testing.T) {
	f := &fakeProvider{answer: oidcprovider.Answer{RedirectURI: "https://notes.example/cb", Code: "c"}}
	s := newTestServer(t, withProvider(f))
	if r := s.do(http.MethodPost, requestPath+"/accept", `{"scopes":["openid","email"]}`, bearer(tokFresh)); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	p := f.proof
	if p.UserID != testUserID || p.SessionID != testSessionID || !p.Fresh || !p.AuthTime.Equal(testNow.Add(-time.Minute)) ||
		!slices.Equal(p.Methods, []string{"pwd"}) || !slices.Equal(f.scopes, []string{"openid", "email"}) {
		t.Errorf("proof %+v scopes %v", p, f.scopes)
	}

	// The client's max_age asks for a newer sign-in: the RFC 9470 challenge
	// carries it.
	f.err = &oauth.ReauthenticateError{MaxAge: 60}
	r := s.do(http.MethodPost, requestPath+"/accept", "", bearer(tokStale))
	want := `Bearer error="insufficient_user_authentication", error_description="The client asks for a recent sign-in", max_age=60`
	if r.Code != 403 || r.errCode() != CodeFreshAuthRequired || r.Header.Get("WWW-Authenticate") != want {
		t.Errorf("reauthenticate: %d %s %q", r.Code, r.Body, r.Header.Get("WWW-Authenticate"))
	}
	f.err = &oauth.FieldError{Field: "scopes", Message: "names a scope the request did not ask for"}
	if r := s.do(http.MethodPost, requestPath+"/accept", `{"scopes":["admin"]}`, bearer(tokFresh)); r.Code != 400 || !r.detail("scopes") {
		t.Errorf("field error: %d %s", r.Code, r.Body)
	}
	f.err = nil
	n := len(f.calls)
	for _, body := range []string{`{"scopes":[""]}`, `{"scopes":"openid"}`, `{"scopes":["a","b","c","d","e","f","g","h","i","j","k"]}`} {
		if r := s.do(http.MethodPost, requestPath+"/accept", body, bearer(tokFresh)); r.Code != 400 {
			t.Errorf("%s: %d %s", body, r.Code, r.Body)
		}
	}
	if len(f.calls) != n {
		t.Errorf("bad input reached the use case: %v", f.calls[n:])
	}
}

// Clients: registering answers the secret once and never lets a cache keep
// it; the writes need a fresh token; a non-admin is refused with the
// insufficient_scope challenge.
func TestOAuthClients(t *testing.T) {
	f := &fakeProvider{secret: "s3cret-" + strings.Repeat("z", 36)}
	s := newTestServer(t, withProvider(f))
	body := `{"name":"Notes","redirectUris":["https://notes.example/cb"],"scopes":["openid","profile"],"firstParty":true}`
	r := s.do(http.MethodPost, "/admin/oauth-clients", body, bearer(tokFresh))
	if r.Code != 201 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	c := dataOf[oauthClientDTO](t, r)
	if c.ClientID != testClientID || c.ClientSecret == nil || *c.ClientSecret != f.secret || c.CreatedAt != rfc3339(testNow) {
		t.Errorf("client %+v", c)
	}
	if f.reg.Name != "Notes" || !f.reg.FirstParty || !slices.Equal(f.reg.Scopes, []string{"openid", "profile"}) {
		t.Errorf("registration %+v", f.reg)
	}
	// A public client has no secret to show.
	f.secret = ""
	r = s.do(http.MethodPost, "/admin/oauth-clients", `{"name":"SPA","redirectUris":["https://spa.example/cb"],"public":true}`, bearer(tokFresh))
	if r.Code != 201 || strings.Contains(string(r.Body), "clientSecret") || f.reg.Scopes != nil {
		t.Errorf("public: %d %s %+v", r.Code, r.Body, f.reg)
	}

	r = s.do(http.MethodGet, "/admin/oauth-clients", "", bearer(tokStale))
	list := dataOf[[]oauthClientDTO](t, r)
	if r.Code != 200 || len(list) != 1 || list[0].ClientSecret != nil || list[0].Name != "Notes" {
		t.Errorf("list: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodDelete, "/admin/oauth-clients/"+testClientID, "", bearer(tokFresh)); r.Code != 200 ||
		!slices.Contains(f.calls, "DeleteClient:"+testClientID) {
		t.Errorf("delete: %d %s", r.Code, r.Body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		tok                      string
		err                      error
		status                   int
		code, field              string
	}{
		{"create stale", http.MethodPost, "/admin/oauth-clients", body, tokStale, nil, 403, CodeFreshAuthRequired, ""},
		{"delete stale", http.MethodDelete, "/admin/oauth-clients/" + testClientID, "", tokStale, nil, 403, CodeFreshAuthRequired, ""},
		{"create without name", http.MethodPost, "/admin/oauth-clients", `{"redirectUris":["https://x.example/cb"]}`, tokFresh, nil, 400, CodeValidationFailed, "name"},
		{"create bad URI", http.MethodPost, "/admin/oauth-clients", body, tokFresh, &oauth.FieldError{Field: "redirectUris", Message: "must be absolute"}, 400, CodeValidationFailed, "redirectUris"},
		{"list as non-admin", http.MethodGet, "/admin/oauth-clients", "", tokStale, auth.ErrForbidden, 403, CodeForbidden, ""},
		{"delete unknown", http.MethodDelete, "/admin/oauth-clients/nope", "", tokFresh, oauth.ErrClientNotFound, 404, CodeNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.err = tc.err
			r := s.do(tc.method, tc.path, tc.body, bearer(tc.tok))
			if r.Code != tc.status || r.errCode() != tc.code || (tc.field != "" && !r.detail(tc.field)) {
				t.Errorf("%d %s", r.Code, r.Body)
			}
			if tc.code == CodeForbidden && r.Header.Get("WWW-Authenticate") != `Bearer realm="gatehouse", error="insufficient_scope"` {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestUserGrants(t *testing.T) {
	f := &fakeProvider{}
	s := newTestServer(t, withProvider(f))
	r := s.do(http.MethodGet, "/users/me/grants", "", bearer(tokStale))
	list := dataOf[[]grantDTO](t, r)
	if r.Code != 200 || len(list) != 1 || list[0].Client.ClientID != testClientID || list[0].CreatedAt != rfc3339(testNow) {
		t.Errorf("%d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodDelete, "/users/me/grants/"+testClientID, "", bearer(tokStale)); r.Code != 403 || r.errCode() != CodeFreshAuthRequired {
		t.Errorf("revoke stale: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodDelete, "/users/me/grants/"+testClientID, "", bearer(tokFresh)); r.Code != 200 {
		t.Errorf("revoke: %d %s", r.Code, r.Body)
	}
	f.err = oauth.ErrGrantNotFound
	if r := s.do(http.MethodDelete, "/users/me/grants/"+testClientID, "", bearer(tokFresh)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("revoke unknown: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodGet, "/users/me/grants", "", bearer(tokStale)); r.Code != 404 {
		t.Errorf("list failing: %d %s", r.Code, r.Body)
	}
}

// The session list names the OpenID client of the sessions that have one.
func TestSessionsNameTheirClient(t *testing.T) {
	f := &fakeProvider{sessions: map[string]oauth.Ref{otherSessionID: testClient().Ref()}}
	s := newTestServer(t, withProvider(f))
	s.auth.sessions = authn.SessionList{Sessions: []authn.SessionView{
		{Session: testPair("").Session, Current: true},
		{Session: testPair("").Session},
	}}
	s.auth.sessions.Sessions[1].ID = otherSessionID
	r := s.do(http.MethodGet, "/auth/sessions", "", bearer(tokStale))
	list := dataOf[[]sessionDTO](t, r)
	if r.Code != 200 || len(list) != 2 || list[0].Client != nil || list[1].Client == nil || list[1].Client.Name != "Notes" {
		t.Errorf("%d %s", r.Code, r.Body)
	}
	f.err = unavailableErr{}
	if r := s.do(http.MethodGet, "/auth/sessions", "", bearer(tokStale)); r.Code != 503 {
		t.Errorf("naming fails: %d %s", r.Code, r.Body)
	}
}

// The protocol endpoints are the library's, under the house rules: JSON
// with its charset, redirects without a body, never cached, and the client
// address as this layer sees it.
func TestProtocolEndpoints(t *testing.T) {
	f := &fakeProvider{}
	s := newTestServer(t, withProvider(f))
	rec := s.rawDo(http.MethodPost, "/oauth2/token", "", header("User-Agent", "rp/1"), func(r *http.Request) { r.RemoteAddr = "198.51.100.4:555" })
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("token: %d %v", rec.Code, rec.Header())
	}
	var oerr struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &oerr); err != nil || oerr.Error != "invalid_request" {
		t.Errorf("token body %s", rec.Body)
	}
	if f.protocolClient.IP != "198.51.100.4" || f.protocolClient.UserAgent != "rp/1" {
		t.Errorf("client %+v", f.protocolClient)
	}
	rec = s.rawDo(http.MethodGet, "/oauth2/authorize?client_id=x", "")
	if rec.Code != http.StatusFound || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" ||
		rec.Header().Get("Location") != "https://app.example/login?request=abc" {
		t.Errorf("authorize: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	if rec := s.rawDo(http.MethodDelete, "/oauth2/token", ""); rec.Code != 405 {
		t.Errorf("DELETE token: %d", rec.Code)
	}
}

// With the provider served, the discovery document is the provider's:
// its issuer, endpoints and the ID tokens' algorithms and claims.
func TestDiscoveryWithProvider(t *testing.T) {
	s := newTestServer(t, withProvider(&fakeProvider{}))
	r := s.do(http.MethodGet, "/.well-known/openid-configuration", "")
	var doc struct {
		Issuer    string   `json:"issuer"`
		Authorize string   `json:"authorization_endpoint"`
		Token     string   `json:"token_endpoint"`
		EndSess   string   `json:"end_session_endpoint"`
		Algs      []string `json:"id_token_signing_alg_values_supported"`
		Claims    []string `json:"claims_supported"`
		PKCE      []string `json:"code_challenge_methods_supported"`
		Iss       bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if doc.Issuer != "https://id.example.com" || doc.Authorize != "https://id.example.com/oauth2/authorize" ||
		doc.Token != "https://id.example.com/oauth2/token" || doc.EndSess != "https://id.example.com/oauth2/logout" ||
		!slices.Equal(doc.Algs, []string{"RS256", "EdDSA"}) || !slices.Equal(doc.PKCE, []string{"S256"}) || !doc.Iss {
		t.Errorf("doc %+v", doc)
	}
	for _, c := range []string{"roles", "nonce", "email"} {
		if !slices.Contains(doc.Claims, c) {
			t.Errorf("claim %s missing: %v", c, doc.Claims)
		}
	}
	seen := map[string]bool{}
	for _, c := range doc.Claims {
		if seen[c] {
			t.Errorf("claim %s listed twice", c)
		}
		seen[c] = true
	}
}
