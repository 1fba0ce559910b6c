package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/clients/go/gatehouse"
)

// specCheckingTransport checks every response the generated client receives
// against the spec, so the client is proven on answers the spec promises.
type specCheckingTransport struct{ t *testing.T }

func (s specCheckingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err := spectest.Shared(s.t).ValidateResponse(req, resp.StatusCode, resp.Header, b); err != nil {
		s.t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp, nil
}

func bearer(tok string) gatehouse.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}

// TestGeneratedGoClient drives the whole flow with the client oapi-codegen
// generated from the spec (clients/go/gatehouse), against a real instance:
// register, login, me, refresh, sessions, reauthenticate, email change,
// session check, logout; typed errors carry error.code and error.details.
func TestGeneratedGoClient(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Transport: specCheckingTransport{t}}
		c, err := gatehouse.NewClientWithResponses(s.base, gatehouse.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		name := "Ada"

		reg, err := c.RegisterWithResponse(ctx, gatehouse.RegisterRequest{Email: "go@example.com", Password: "go client password", Name: &name})
		if err != nil || reg.JSON201 == nil {
			t.Fatalf("register: %v %s", err, reg.Body)
		}
		if reg.JSON201.Data.User.Email != "go@example.com" || reg.JSON201.Data.RefreshToken != nil {
			t.Errorf("register data %+v", reg.JSON201.Data)
		}

		// Typed errors: the code and the field details survive.
		// (The typed request refuses a malformed email before sending; the raw
		// body variant sends what a buggy caller would.)
		bad, err := c.RegisterWithBodyWithResponse(ctx, "application/json", strings.NewReader(`{"email":"ada@example.com","password":"short","nickname":"x"}`))
		if err != nil || bad.JSON400 == nil {
			t.Fatalf("invalid register: %v %+v", err, bad)
		}
		if bad.JSON400.Error.Code != gatehouse.VALIDATIONFAILED || bad.JSON400.Error.Details == nil {
			t.Fatalf("400 error %+v", bad.JSON400.Error)
		}
		var fields []string
		for _, d := range *bad.JSON400.Error.Details {
			fields = append(fields, d.Field)
		}
		if !slices.Contains(fields, "nickname") || !slices.Contains(fields, "password") {
			t.Errorf("details name %v, want nickname and password", fields)
		}
		dup, err := c.RegisterWithResponse(ctx, gatehouse.RegisterRequest{Email: "GO@example.com", Password: "another password"})
		if err != nil || dup.JSON409 == nil || dup.JSON409.Error.Code != gatehouse.EMAILTAKEN {
			t.Fatalf("duplicate register: %v %s", err, dup.Body)
		}

		body := gatehouse.Body
		login, err := c.LoginWithResponse(ctx, gatehouse.LoginRequest{Email: "go@example.com", Password: "go client password", RefreshTokenTransport: &body})
		if err != nil || login.JSON200 == nil {
			t.Fatalf("login: %v %s", err, login.Body)
		}
		// Login answers a token pair, or a second-factor challenge (oneOf).
		pair, err := login.JSON200.Data.AsTokenPair()
		if err != nil || pair.RefreshToken == nil {
			t.Fatalf("login: %v %s", err, login.Body)
		}
		wrong, err := c.LoginWithResponse(ctx, gatehouse.LoginRequest{Email: "go@example.com", Password: "wrong password"})
		if err != nil || wrong.JSON401 == nil || wrong.JSON401.Error.Code != gatehouse.INVALIDCREDENTIALS {
			t.Fatalf("wrong password: %v %s", err, wrong.Body)
		}
		access := pair.AccessToken

		me, err := c.GetMeWithResponse(ctx, bearer(access))
		if err != nil || me.JSON200 == nil || me.JSON200.Data.Name != "Ada" {
			t.Fatalf("me: %v %s", err, me.Body)
		}
		anon, err := c.GetMeWithResponse(ctx)
		if err != nil || anon.JSON401 == nil || anon.JSON401.Error.Code != gatehouse.UNAUTHENTICATED {
			t.Fatalf("me without a token: %v %s", err, anon.Body)
		}

		// Refresh by the cookie the jar kept from register, and by the body token.
		byCookie, err := c.RefreshWithResponse(ctx, gatehouse.RefreshRequest{})
		if err != nil || byCookie.JSON200 == nil || byCookie.JSON200.Data.RefreshToken != nil {
			t.Fatalf("refresh by cookie: %v %s", err, byCookie.Body)
		}
		byBody, err := c.RefreshWithResponse(ctx, gatehouse.RefreshRequest{RefreshToken: pair.RefreshToken})
		if err != nil || byBody.JSON200 == nil || byBody.JSON200.Data.RefreshToken == nil {
			t.Fatalf("refresh by body: %v %s", err, byBody.Body)
		}
		access = byBody.JSON200.Data.AccessToken
		junk := "not-a-refresh-token"
		rej, err := c.RefreshWithResponse(ctx, gatehouse.RefreshRequest{RefreshToken: &junk})
		if err != nil || rej.JSON401 == nil || rej.JSON401.Error.Code != gatehouse.REFRESHTOKENINVALID {
			t.Fatalf("refresh with junk: %v %s", err, rej.Body)
		}

		sessions, err := c.ListSessionsWithResponse(ctx, &gatehouse.ListSessionsParams{}, bearer(access))
		if err != nil || sessions.JSON200 == nil || len(sessions.JSON200.Data) != 2 {
			t.Fatalf("sessions: %v %s", err, sessions.Body)
		}

		// A refreshed token is not fresh: the email change asks for step-up.
		email := gatehouse.ChangeEmailRequest{Email: "ada@example.org"}
		stale, err := c.ChangeEmailWithResponse(ctx, email, bearer(access))
		if err != nil || stale.JSON403 == nil || stale.JSON403.Error.Code != gatehouse.FRESHAUTHREQUIRED {
			t.Fatalf("email change with a refreshed token: %v %s", err, stale.Body)
		}
		if stale.HTTPResponse.Header.Get("WWW-Authenticate") == "" {
			t.Error("step-up refusal without its challenge")
		}
		re, err := c.ReauthenticateWithResponse(ctx, gatehouse.ReauthenticateRequest{Password: "go client password"}, bearer(access))
		if err != nil || re.JSON200 == nil {
			t.Fatalf("reauthenticate: %v %s", err, re.Body)
		}
		access = re.JSON200.Data.AccessToken
		changed, err := c.ChangeEmailWithResponse(ctx, email, bearer(access))
		if err != nil || changed.JSON200 == nil || changed.JSON200.Data.Email != "ada@example.org" {
			t.Fatalf("email change: %v %s", err, changed.Body)
		}

		st, err := c.GetSessionWithResponse(ctx, bearer(access))
		if err != nil || st.JSON200 == nil || !st.JSON200.Data.Fresh || st.JSON200.Data.Id.String() != pair.Session.Id.String() {
			t.Fatalf("session check: %v %s", err, st.Body)
		}

		// The body's refresh token names the session (the jar's cookie belongs
		// to the register session).
		out, err := c.LogoutWithResponse(ctx, gatehouse.LogoutRequest{RefreshToken: byBody.JSON200.Data.RefreshToken}, bearer(access))
		if err != nil || out.JSON200 == nil || out.JSON200.Data != nil {
			t.Fatalf("logout: %v %s", err, out.Body)
		}
		gone, err := c.GetSessionWithResponse(ctx, bearer(access))
		if err != nil || gone.JSON401 == nil || gone.JSON401.Error.Code != gatehouse.SESSIONREVOKED {
			t.Fatalf("session check after logout: %v %s", err, gone.Body)
		}
	})
}
