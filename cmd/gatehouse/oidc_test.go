package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/api/spectest"
)

// The OpenID provider, proven with real relying-party libraries
// (coreos/go-oidc and golang.org/x/oauth2) on both engines and across two
// instances: the browser's request begins on one and the login page accepts
// it on the other.

// specTransport checks every protocol answer against the spec, as the
// harness client does for the envelope routes.
type specTransport struct{ t testing.TB }

func (s specTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(req.URL.Path, "/oauth2/") || strings.HasPrefix(req.URL.Path, "/.well-known/") {
		if err := spectest.Shared(s.t).ValidateResponse(req, resp.StatusCode, resp.Header, body); err != nil {
			s.t.Errorf("%s %s: response does not match the spec: %v", req.Method, req.URL.Path, err)
		}
	}
	if resp.StatusCode >= 500 {
		s.t.Errorf("%s %s: server error %d: %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return resp, nil
}

// browser follows no redirects, so each hop can be read.
func browser(t testing.TB) *http.Client {
	return &http.Client{Transport: specTransport{t}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// rp is a relying party registered with Gatehouse.
type rp struct {
	t        *testing.T
	ctx      context.Context
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	clientID string
}

func newRP(t *testing.T, issuer, clientID, secret, redirect string, algs ...string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: specTransport{t}, Timeout: 30 * time.Second})
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{
		t: t, ctx: ctx, provider: p, clientID: clientID,
		conf: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: algs}),
	}
}

// flow is one authorization in progress.
type flow struct {
	state, nonce, verifier string
	requestID              string
}

// begin sends the browser to the authorization endpoint and returns where
// it was sent.
func (r *rp) begin(base string, extra ...oauth2.AuthCodeOption) (*flow, *http.Response) {
	r.t.Helper()
	f := &flow{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}, extra...)
	u := r.conf.AuthCodeURL(f.state, opts...)
	// The browser reaches whichever instance the balancer picks.
	u = base + strings.TrimPrefix(u, strings.TrimSuffix(r.conf.Endpoint.AuthURL, "/oauth2/authorize"))
	resp, err := browser(r.t).Get(u)
	if err != nil {
		r.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusFound {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if q, err := url.ParseQuery(strings.TrimPrefix(loc.Fragment, "/authorize?")); err == nil {
			f.requestID = q.Get("request")
		}
	}
	return f, resp
}

// redirectParams reads the parameters of a redirect to the client.
func redirectParams(t testing.TB, to string) url.Values {
	t.Helper()
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// accept has the login page accept f's request with the user's client c.
func accept(t *testing.T, c *client, f *flow, body any) url.Values {
	t.Helper()
	r := c.do("POST", "/oauth2/requests/"+f.requestID+"/accept", body)
	expect(t, r, 200, "")
	var out struct {
		RedirectTo string `json:"redirectTo"`
	}
	r.data(t, &out)
	return redirectParams(t, out.RedirectTo)
}

// exchange trades a code at the token endpoint of base (an instance).
func (r *rp) exchange(base, code, verifier string) (*oauth2.Token, error) {
	conf := r.conf
	conf.Endpoint.TokenURL = base + "/oauth2/token"
	return conf.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// userinfo asks base's userinfo endpoint with an access token.
func userinfo(t *testing.T, base, access string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := (&http.Client{Transport: specTransport{t}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// jwtPart decodes the header (0) or payload (1) of a compact JWT.
func jwtPart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type registeredClient struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// intraRPFor is the relying party of a first-party EdDSA client.
func intraRPFor(t *testing.T, issuer string, c registeredClient, redirect string) *rp {
	return newRP(t, issuer, c.ClientID, c.ClientSecret, redirect, "EdDSA")
}

func TestOpenIDProvider(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		addrA := freeAddr(t)
		issuer := "http://" + addrA
		env := testEnv(dbURL(t))
		env["PUBLIC_URL"] = issuer
		env["REFRESH_REUSE_GRACE"] = "0s"
		envA := map[string]string{}
		for k, v := range env {
			envA[k] = v
		}
		envA["HTTP_ADDR"] = addrA

		// The first admin and the confidential client come from the
		// command line, before any instance serves.
		const pw = "correct horse battery staple"
		if code, _, errOut := cli(t, env, pw+"\n", "users", "create", "--email", "root@example.com", "--role", "admin", "--role", "user"); code != 0 {
			t.Fatalf("users create: %s", errOut)
		}
		const redirect = "http://127.0.0.1:9/callback"
		code, out, errOut := cli(t, env, "", "clients", "create", "--name", "Wiki", "--redirect-uri", redirect,
			"--post-logout-redirect-uri", "http://127.0.0.1:9/bye")
		if code != 0 {
			t.Fatalf("clients create: %d %s", code, errOut)
		}
		var wiki registeredClient
		if err := json.Unmarshal([]byte(out), &wiki); err != nil || wiki.ClientID == "" || wiki.ClientSecret == "" {
			t.Fatalf("clients create printed %q", out)
		}
		if code, _, _ := cli(t, env, "", "clients", "create", "--name", "Bad", "--redirect-uri", "http://evil.example/cb"); code != exitInvalid {
			t.Errorf("an http redirect URI off loopback was registered (exit %d)", code)
		}

		a, b := startServer(t, envA), startServer(t, env)
		root := b.client()
		if _, r := root.login("root@example.com", pw, "body"); r.Status != 200 {
			t.Fatalf("root login: %s", r.Body)
		}
		// Clients registered through the admin API: public, first-party, EdDSA.
		register := func(body map[string]any) registeredClient {
			r := root.do("POST", "/admin/oauth-clients", body)
			expect(t, r, 201, "")
			var c registeredClient
			r.data(t, &c)
			return c
		}
		spa := register(map[string]any{"name": "Dashboard", "redirectUris": []string{redirect}, "public": true})
		if spa.ClientSecret != "" {
			t.Error("a public client got a secret")
		}
		intranet := register(map[string]any{"name": "Intranet", "redirectUris": []string{redirect}, "firstParty": true,
			"idTokenSignedResponseAlg": "EdDSA", "postLogoutRedirectUris": []string{"http://127.0.0.1:9/bye"}})
		expect(t, root.do("POST", "/admin/oauth-clients", map[string]any{"name": "X", "redirectUris": []string{"https://a.example/cb#f"}}), 400, "VALIDATION_FAILED")
		r := root.do("GET", "/admin/oauth-clients", nil)
		expect(t, r, 200, "")
		if bytes.Contains(r.Body, []byte(wiki.ClientSecret)) || bytes.Contains(r.Body, []byte("clientSecret")) {
			t.Error("the client list shows a secret")
		}

		ada := a.client()
		ada.register("ada@example.com", pw)
		if r := ada.do("GET", "/admin/oauth-clients", nil); r.Status != 403 {
			t.Errorf("a non-admin listed clients: %d", r.Status)
		}
		adaB := b.client()
		adaB.bearer = ada.bearer

		// Discovery names the endpoints, all below the issuer; the JWKS has
		// the RSA key beside the EdDSA one.
		wikiRP := newRP(t, issuer, wiki.ClientID, wiki.ClientSecret, redirect)
		var md struct {
			Algs    []string `json:"id_token_signing_alg_values_supported"`
			Methods []string `json:"code_challenge_methods_supported"`
			Revoke  string   `json:"revocation_endpoint"`
			EndSess string   `json:"end_session_endpoint"`
		}
		if err := wikiRP.provider.Claims(&md); err != nil || !slices.Equal(md.Algs, []string{"RS256", "EdDSA"}) ||
			!slices.Equal(md.Methods, []string{"S256"}) || md.Revoke != issuer+"/oauth2/revoke" || md.EndSess != issuer+"/oauth2/logout" {
			t.Errorf("discovery: %+v %v", md, err)
		}
		jwks := a.client().do("GET", "/.well-known/jwks.json", nil)
		if !bytes.Contains(jwks.Body, []byte(`"kty":"RSA"`)) || !bytes.Contains(jwks.Body, []byte(`"kty":"OKP"`)) {
			t.Errorf("JWKS lacks the RSA or the EdDSA key: %s", jwks.Body)
		}

		var wikiTok *oauth2.Token
		t.Run("confidential client across instances", func(t *testing.T) {
			f, resp := wikiRP.begin(a.base)
			if resp.StatusCode != 302 || f.requestID == "" || !strings.HasPrefix(resp.Header.Get("Location"), issuer+"/example/#/authorize?request=") {
				t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			// The login page reads and accepts it on the other instance.
			r := adaB.do("GET", "/oauth2/requests/"+f.requestID, nil)
			expect(t, r, 200, "")
			var view struct {
				Client          struct{ Name string } `json:"client"`
				Scopes          []string              `json:"scopes"`
				ConsentRequired bool                  `json:"consentRequired"`
			}
			r.data(t, &view)
			if view.Client.Name != "Wiki" || !view.ConsentRequired || !slices.Contains(view.Scopes, "offline_access") {
				t.Errorf("request view %+v", view)
			}
			q := accept(t, adaB, f, nil)
			if q.Get("state") != f.state || q.Get("iss") != issuer || q.Get("code") == "" {
				t.Fatalf("redirect %v", q)
			}
			// The request is single use.
			expect(t, adaB.do("GET", "/oauth2/requests/"+f.requestID, nil), 404, "NOT_FOUND")
			expect(t, ada.do("POST", "/oauth2/requests/"+f.requestID+"/accept", nil), 404, "NOT_FOUND")

			tok, err := wikiRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			wikiTok = tok
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := wikiRP.verifier.Verify(wikiRP.ctx, rawID)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var claims struct {
				Email    string   `json:"email"`
				Verified *bool    `json:"email_verified"`
				Name     string   `json:"name"`
				SID      string   `json:"sid"`
				AMR      []string `json:"amr"`
				ACR      string   `json:"acr"`
				AuthTime int64    `json:"auth_time"`
			}
			_ = idt.Claims(&claims)
			if idt.Nonce != f.nonce || idt.Subject == "" || claims.Email != "ada@example.com" || claims.Name != "Ada" ||
				claims.Verified == nil || claims.SID == "" || !slices.Equal(claims.AMR, []string{"pwd"}) || claims.ACR != "aal1" || claims.AuthTime == 0 {
				t.Errorf("ID token claims %+v nonce %q", claims, idt.Nonce)
			}
			if h := jwtPart(t, rawID, 0); h["alg"] != "RS256" {
				t.Errorf("ID token header %v", h)
			}
			// RFC 9068 access token, refused by Gatehouse's own routes.
			h, p := jwtPart(t, tok.AccessToken, 0), jwtPart(t, tok.AccessToken, 1)
			if h["typ"] != "at+jwt" || p["aud"] != wiki.ClientID || p["client_id"] != wiki.ClientID || p["sid"] != claims.SID ||
				!strings.Contains(p["scope"].(string), "email") {
				t.Errorf("access token %v %v", h, p)
			}
			intruder := a.client()
			intruder.bearer = tok.AccessToken
			expect(t, intruder.do("GET", "/users/me", nil), 401, "TOKEN_INVALID")
			// An ID token is no access token, at userinfo or anywhere.
			if st, _ := userinfo(t, a.base, rawID); st != 401 {
				t.Errorf("userinfo took an ID token: %d", st)
			}
			intruder.bearer = rawID
			expect(t, intruder.do("GET", "/users/me", nil), 401, "TOKEN_INVALID")
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token with offline_access")
			}
			// The client's refresh token is refused by the app's refresh.
			expect(t, a.client().do("POST", "/auth/refresh", map[string]any{"refreshToken": tok.RefreshToken}), 401, "REFRESH_TOKEN_INVALID")

			info, err := wikiRP.provider.UserInfo(wikiRP.ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Email != "ada@example.com" || info.Subject != idt.Subject {
				t.Fatalf("userinfo %+v %v", info, err)
			}
			// Userinfo on the other instance, which learns of the RSA key.
			if st, ui := userinfo(t, b.base, tok.AccessToken); st != 200 || ui["name"] != "Ada" {
				t.Errorf("userinfo on b: %d %v", st, ui)
			}
			// The session is listed, with the client.
			r = ada.do("GET", "/auth/sessions", nil)
			if !bytes.Contains(r.Body, []byte(`"client":{"clientId":"`+wiki.ClientID+`","name":"Wiki"}`)) {
				t.Errorf("sessions do not list the client's: %s", r.Body)
			}
			// The consent is remembered: the next request asks no more.
			f2, _ := wikiRP.begin(b.base)
			r = ada.do("GET", "/oauth2/requests/"+f2.requestID, nil)
			r.data(t, &view)
			if view.ConsentRequired {
				t.Error("consent asked again")
			}
			r = ada.do("GET", "/users/me/grants", nil)
			if !bytes.Contains(r.Body, []byte(`"name":"Wiki"`)) {
				t.Errorf("grants %s", r.Body)
			}

			// A code goes once: its reuse is invalid_grant and revokes what
			// it issued.
			q = accept(t, ada, f2, nil)
			tok2, err := wikiRP.exchange(b.base, q.Get("code"), f2.verifier)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wikiRP.exchange(a.base, q.Get("code"), f2.verifier); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("code reuse: %v", err)
			}
			if st, _ := userinfo(t, a.base, tok2.AccessToken); st != 401 && st != 403 {
				t.Errorf("the reused code's token still works: %d", st)
			}
		})

		t.Run("refresh rotation and reuse", func(t *testing.T) {
			if wikiTok == nil {
				t.Skip("needs the first flow")
			}
			conf := wikiRP.conf
			conf.Endpoint.TokenURL = b.base + "/oauth2/token"
			next, err := conf.TokenSource(wikiRP.ctx, &oauth2.Token{RefreshToken: wikiTok.RefreshToken}).Token()
			if err != nil || next.RefreshToken == "" || next.RefreshToken == wikiTok.RefreshToken {
				t.Fatalf("refresh: %v", err)
			}
			if _, ok := next.Extra("id_token").(string); !ok {
				t.Error("refresh gave no ID token")
			}
			time.Sleep(5 * time.Millisecond) // past REFRESH_REUSE_GRACE=0s
			_, err = conf.TokenSource(wikiRP.ctx, &oauth2.Token{RefreshToken: wikiTok.RefreshToken}).Token()
			if oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("reused refresh token: %v", err)
			}
			// Reuse revoked the session: the newest tokens are dead too.
			if _, err := conf.TokenSource(wikiRP.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("successor after reuse: %v", err)
			}
			if st, _ := userinfo(t, a.base, next.AccessToken); st == 200 {
				t.Error("access token of a session revoked for reuse still works")
			}
		})

		t.Run("public client, EdDSA, revocation, logout, grants", func(t *testing.T) {
			spaRP := newRP(t, issuer, spa.ClientID, "", redirect)
			// Without PKCE a public client is refused at the redirect URI.
			u := spaRP.conf.AuthCodeURL("s1", oidc.Nonce("n"))
			resp, err := browser(t).Get(u)
			if err != nil {
				t.Fatal(err)
			}
			q := redirectParams(t, resp.Header.Get("Location"))
			if resp.StatusCode != 302 || q.Get("error") != "invalid_request" || q.Get("state") != "s1" {
				t.Errorf("public client without PKCE: %d %v", resp.StatusCode, q)
			}
			f, _ := spaRP.begin(a.base)
			q = accept(t, ada, f, map[string]any{"scopes": []string{"email", "offline_access"}})
			// A wrong verifier spends the code.
			if _, err := spaRP.exchange(a.base, q.Get("code"), oauth2.GenerateVerifier()); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("wrong verifier: %v", err)
			}
			if _, err := spaRP.exchange(a.base, q.Get("code"), f.verifier); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("the code survived a wrong verifier: %v", err)
			}
			f, _ = spaRP.begin(a.base)
			q = accept(t, ada, f, map[string]any{"scopes": []string{"email", "offline_access"}})
			tok, err := spaRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			if st, ui := userinfo(t, a.base, tok.AccessToken); st != 200 || ui["email"] != "ada@example.com" || ui["name"] != nil {
				t.Errorf("userinfo for scopes email: %d %v", st, ui)
			}
			// RFC 7009: revoking the refresh token ends the session.
			form := url.Values{"token": {tok.RefreshToken}, "client_id": {spa.ClientID}}
			resp, err = (&http.Client{Transport: specTransport{t}}).PostForm(a.base+"/oauth2/revoke", form)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("revoke: %v %v", resp, err)
			}
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("revoked session's access token still works")
			}

			// EdDSA ID tokens for the first-party client, which asks no consent.
			intraRP := newRP(t, issuer, intranet.ClientID, intranet.ClientSecret, redirect, "EdDSA")
			f, _ = intraRP.begin(b.base)
			r := ada.do("GET", "/oauth2/requests/"+f.requestID, nil)
			if !bytes.Contains(r.Body, []byte(`"consentRequired":false`)) {
				t.Errorf("first-party client asks consent: %s", r.Body)
			}
			q = accept(t, ada, f, nil)
			tok, err = intraRP.exchange(b.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			rawID := tok.Extra("id_token").(string)
			if h := jwtPart(t, rawID, 0); h["alg"] != "EdDSA" {
				t.Errorf("EdDSA client got %v", h)
			}
			if _, err := intraRP.verifier.Verify(intraRP.ctx, rawID); err != nil {
				t.Errorf("EdDSA ID token: %v", err)
			}
			// RP-initiated logout ends that session and goes back.
			lu := b.base + "/oauth2/logout?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"x"}}.Encode()
			resp, err = browser(t).Get(lu)
			if err != nil || resp.StatusCode != 302 {
				t.Fatalf("logout: %v %v", resp, err)
			}
			if resp.Header.Get("Location") != "http://127.0.0.1:9/bye?state=x" {
				t.Errorf("logout went to %q", resp.Header.Get("Location"))
			}
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("logged-out session's access token still works")
			}

			// Withdrawing a grant ends the client's sessions.
			f, _ = wikiRP.begin(a.base)
			q = accept(t, ada, f, nil)
			tok, err = wikiRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, ada.do("DELETE", "/users/me/grants/"+wiki.ClientID, nil), 200, "")
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("token survived the withdrawn grant")
			}
			expect(t, ada.do("DELETE", "/users/me/grants/"+wiki.ClientID, nil), 404, "NOT_FOUND")
			r = ada.do("GET", "/users/me/security-events", nil)
			if !bytes.Contains(r.Body, []byte("oauth_grant_revoked")) || !bytes.Contains(r.Body, []byte("oauth_consent_granted")) {
				t.Errorf("events %s", r.Body)
			}
		})

		t.Run("error paths", func(t *testing.T) {
			get := func(u string) *http.Response {
				resp, err := browser(t).Get(u)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				return resp
			}
			base := a.base + "/oauth2/authorize?response_type=code&scope=openid&state=st&"
			// Unknown client and unregistered redirect: 400, never a redirect.
			for _, q := range []string{
				"client_id=00000000-0000-4000-8000-000000000000&redirect_uri=" + url.QueryEscape(redirect),
				"client_id=" + wiki.ClientID + "&redirect_uri=" + url.QueryEscape(redirect+"/"),
				"client_id=" + wiki.ClientID + "&redirect_uri=" + url.QueryEscape("http://evil.example/cb"),
			} {
				if resp := get(base + q); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
					t.Errorf("%s: %d %s", q, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
			// prompt=none is login_required at the redirect URI.
			f, resp := wikiRP.begin(a.base, oauth2.SetAuthURLParam("prompt", "none"))
			q := redirectParams(t, resp.Header.Get("Location"))
			if q.Get("error") != "login_required" || q.Get("state") != f.state {
				t.Errorf("prompt=none: %v", q)
			}
			// Reject: access_denied with the state.
			f, _ = wikiRP.begin(a.base)
			r := ada.do("POST", "/oauth2/requests/"+f.requestID+"/reject", nil)
			expect(t, r, 200, "")
			var out struct {
				RedirectTo string `json:"redirectTo"`
			}
			r.data(t, &out)
			if q := redirectParams(t, out.RedirectTo); q.Get("error") != "access_denied" || q.Get("state") != f.state {
				t.Errorf("reject: %v", q)
			}
			expect(t, ada.do("POST", "/oauth2/requests/"+f.requestID+"/accept", nil), 404, "NOT_FOUND")
			expect(t, ada.do("GET", "/oauth2/requests/nope", nil), 404, "NOT_FOUND")
			// max_age=0 and prompt=login need a sign-in after the request.
			for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login")} {
				f, _ = wikiRP.begin(a.base, opt)
				r = ada.do("GET", "/oauth2/requests/"+f.requestID, nil)
				expect(t, r, 200, "")
				if !bytes.Contains(r.Body, []byte(`"maxAge":0`)) && !bytes.Contains(r.Body, []byte(`"prompt":["login"]`)) {
					t.Errorf("request view %s", r.Body)
				}
				r = ada.do("POST", "/oauth2/requests/"+f.requestID+"/accept", nil)
				expect(t, r, 403, "FRESH_AUTH_REQUIRED")
				if !strings.Contains(r.Header.Get("WWW-Authenticate"), "max_age=0") {
					t.Errorf("challenge %q", r.Header.Get("WWW-Authenticate"))
				}
				if _, r := ada.login("ada@example.com", pw, "body"); r.Status != 200 {
					t.Fatal(r.Body)
				}
				q := accept(t, ada, f, nil)
				if q.Get("code") == "" {
					t.Errorf("accept after signing in again: %v", q)
				}
			}
			// A missing verifier for a code issued with a challenge.
			f, _ = wikiRP.begin(a.base)
			q = accept(t, ada, f, nil)
			conf := wikiRP.conf
			if _, err := conf.Exchange(wikiRP.ctx, q.Get("code")); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("exchange without verifier: %v", err)
			}
			// A wrong client secret.
			conf.ClientSecret = "wrong"
			if _, err := conf.Exchange(wikiRP.ctx, q.Get("code"), oauth2.VerifierOption(f.verifier)); err == nil {
				t.Error("a wrong client secret exchanged a code")
			}
		})

		t.Run("account changes end client tokens", func(t *testing.T) {
			f, _ := wikiRP.begin(a.base)
			accept(t, ada, f, nil) // consent again after the withdrawn grant
			f, _ = wikiRP.begin(a.base)
			q := accept(t, ada, f, nil)
			tok, err := wikiRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, ada.do("PUT", "/users/me/password", map[string]any{"currentPassword": pw, "newPassword": pw + " 2"}), 200, "")
			if st, _ := userinfo(t, b.base, tok.AccessToken); st == 200 {
				t.Error("client token survived a password change")
			}
			if _, err := wikiRP.conf.TokenSource(wikiRP.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("client refresh after a password change: %v", err)
			}
			// Logging out everywhere ends the clients' sessions too.
			if _, r := ada.login("ada@example.com", pw+" 2", "body"); r.Status != 200 {
				t.Fatal(r.Body)
			}
			f, _ = wikiRP.begin(a.base)
			q = accept(t, ada, f, nil)
			tok, err = wikiRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, ada.do("POST", "/auth/logout-all", nil), 200, "")
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("client token survived logout everywhere")
			}
			if _, r := ada.login("ada@example.com", pw+" 2", "body"); r.Status != 200 {
				t.Fatal(r.Body)
			}
			// Deleting the client ends what it holds.
			f, _ = wikiRP.begin(a.base)
			q = accept(t, ada, f, nil)
			tok, err = wikiRP.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, root.do("DELETE", "/admin/oauth-clients/"+wiki.ClientID, nil), 200, "")
			expect(t, root.do("DELETE", "/admin/oauth-clients/"+wiki.ClientID, nil), 404, "NOT_FOUND")
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("client token survived the client's deletion")
			}
			// Disabling the account ends the other clients' sessions.
			intra := intraRPFor(t, issuer, intranet, redirect)
			f, _ = intra.begin(a.base)
			q = accept(t, ada, f, nil)
			tok, err = intra.exchange(a.base, q.Get("code"), f.verifier)
			if err != nil {
				t.Fatal(err)
			}
			r := root.do("GET", "/admin/users?q=ada", nil)
			var page struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			r.data(t, &page)
			expect(t, root.do("PATCH", "/admin/users/"+page.Items[0].ID, map[string]any{"disabled": true}), 200, "")
			if st, _ := userinfo(t, a.base, tok.AccessToken); st == 200 {
				t.Error("client token survived disabling the account")
			}
		})
	})
}
