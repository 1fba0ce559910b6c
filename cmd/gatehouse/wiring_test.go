package main

import (
	"strings"
	"testing"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/smtptest"
	"github.com/gatehouse/gatehouse/internal/webhooktest"
)

// TestWebhooksFromProvidersAndEmailCodes: a provider's first sign-in is
// user.created (method oauth) and identity.linked (its provider), linking
// and unlinking from settings are identity.linked and identity.unlinked,
// and an emailed code's sign-up is user.created (method email_code), all at
// a receiver that checks every signature itself, with no token, code or
// link of the flows in any body. Both engines.
func TestWebhooksFromProvidersAndEmailCodes(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		url := dbURL(t)
		recv := webhooktest.New(t, webhooktest.Secret, webhooktest.NextSecret)
		mail := smtptest.Start(t, smtptest.Options{})
		w := newFedWorld(t, url)
		env := codeEnv(url, mail)
		for k, v := range webhookEnv(url, recv) {
			env[k] = v
		}
		for k, v := range w.env {
			env[k] = v
		}
		env["EMAIL_CODE_SIGNUP"] = "true"
		s := startServer(t, env)
		c := noRedirects(s.client())
		var secrets []string

		// A first sign-in through the corp provider creates the account.
		f := w.corpSignIn(t, c, "new-verified")
		secrets = append(secrets, f.fragment().Get("code"))
		p := fedTokens(t, c, f)
		secrets = append(secrets, p.AccessToken, p.RefreshToken)
		c.bearer = p.AccessToken
		got := recv.WaitFor(t, p.User.ID, "user.created", "identity.linked")
		created, linked := byType(got, "user.created"), byType(got, "identity.linked")
		if len(created) != 1 || created[0].Data["method"] != "oauth" {
			t.Fatalf("user.created %+v", created)
		}
		if u, _ := created[0].Data["user"].(map[string]any); u["email"] != "new.verified@example.com" {
			t.Fatalf("user.created's user %v", created[0].Data["user"])
		}
		if len(linked) != 1 || linked[0].Data["provider"] != "corp" {
			t.Fatalf("identity.linked %+v", linked)
		}

		// Linking GitHub from settings, then unlinking corp.
		r := c.do("POST", "/auth/identities/github", map[string]any{"redirectTo": fedAppURL})
		expect(t, r, 200, "")
		var link struct {
			AuthorizationURL string `json:"authorizationUrl"`
		}
		r.data(t, &link)
		if lf := follow(t, c, fedFlow{}, link.AuthorizationURL); lf.fragment().Get("linked") != "github" {
			t.Fatalf("link: %s", lf.appLocation)
		}
		r = c.do("GET", "/auth/identities", nil)
		expect(t, r, 200, "")
		var ids []struct{ ID, Provider string }
		r.data(t, &ids)
		if len(ids) != 2 || ids[0].Provider != "corp" {
			t.Fatalf("identities %+v", ids)
		}
		expect(t, c.do("DELETE", "/auth/identities/"+ids[0].ID, nil), 200, "")
		got = recv.WaitFor(t, p.User.ID, "user.created", "identity.linked", "identity.linked", "identity.unlinked")
		linked, unlinked := byType(got, "identity.linked"), byType(got, "identity.unlinked")
		if len(linked) != 2 || linked[1].Data["provider"] != "github" {
			t.Fatalf("identity.linked %+v", linked)
		}
		if len(unlinked) != 1 || unlinked[0].Data["provider"] != "corp" || unlinked[0].Data["userId"] != p.User.ID {
			t.Fatalf("identity.unlinked %+v", unlinked)
		}
		// A refused unlink (the last way in) reports nothing.
		expect(t, c.do("DELETE", "/auth/identities/"+ids[1].ID, nil), 409, "LAST_SIGN_IN_METHOD")

		// An emailed code's sign-up.
		const addr = "coded@example.com"
		m := requestCode(t, s, mail, addr)
		secrets = append(secrets, m.Code, m.Token)
		r = s.client().do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code})
		expect(t, r, 200, "")
		var cp tokenPair
		r.data(t, &cp)
		secrets = append(secrets, cp.AccessToken)
		got = recv.WaitFor(t, cp.User.ID, "user.created")
		if created := byType(got, "user.created"); len(created) != 1 || created[0].Data["method"] != "email_code" {
			t.Fatalf("user.created %+v", created)
		}
		// A second code signs in to that account: no second user.created.
		m = requestCode(t, s, mail, addr)
		secrets = append(secrets, m.Code, m.Token)
		expect(t, s.client().do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 200, "")

		// Wait for the session of the last sign-in (delivery is in order
		// per user), then look at everything received. Sessions name
		// their first step.
		for _, e := range byType(recv.WaitFor(t, cp.User.ID, "user.created", "session.created", "session.created"), "session.created") {
			if e.Data["method"] != "email_code" {
				t.Fatalf("an emailed code's session.created: %s", e.Body)
			}
		}
		for _, e := range byType(recv.WaitFor(t, p.User.ID, "session.created"), "session.created") {
			if e.Data["method"] != "oauth" {
				t.Fatalf("a provider's session.created: %s", e.Body)
			}
		}
		if n := len(byType(recv.WaitFor(t, cp.User.ID, "user.created"), "user.created")); n != 1 {
			t.Fatalf("%d user.created for one account", n)
		}
		// The unlinked identity never comes back for that user either.
		if n := len(byType(recv.WaitFor(t, p.User.ID), "identity.unlinked")); n != 1 {
			t.Fatalf("%d identity.unlinked (a refused unlink reported?)", n)
		}
		for _, e := range recv.Events() {
			for _, sec := range secrets {
				if sec != "" && strings.Contains(e.Body, sec) {
					t.Fatalf("event %s carries a secret of the flow: %s", e.Type, e.Body)
				}
			}
			for _, k := range fieldNames(e.Data) {
				for _, word := range []string{"password", "token", "secret", "hash", "subject", "code"} {
					if strings.Contains(strings.ToLower(k), word) {
						t.Fatalf("event %s has a field %s: %s", e.Type, k, e.Body)
					}
				}
			}
		}
		if bad := recv.Stats().BadSignatures; bad != 0 {
			t.Fatalf("%d posts failed the receiver's signature check", bad)
		}
	})
}

// fieldNames lists the keys of m and of the objects within it.
func fieldNames(m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, k)
		if sub, ok := v.(map[string]any); ok {
			out = append(out, fieldNames(sub)...)
		}
	}
	return out
}

// byType keeps the events of type typ.
func byType(events []webhooktest.Event, typ string) []webhooktest.Event {
	var out []webhooktest.Event
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestFederatedSignupHook: a first sign-in through a provider asks the
// before-signup hook (method oauth, the provider); a refusal comes back as
// #error=SIGNUP_REJECTED, a slow or broken hook as
// #error=SERVICE_UNAVAILABLE, and neither creates an account, an identity
// or an app code. Both engines.
func TestFederatedSignupHook(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		hook := newSignupHookServer(t, webhooktest.Secret)
		w := newFedWorld(t, dbURL(t))
		w.env["HOOK_BEFORE_SIGNUP_URL"] = hook.srv.URL
		w.env["HOOK_SECRET"] = webhooktest.Secret
		w.env["HOOK_TIMEOUT"] = "1s"
		var db *gorm.DB
		_, c := w.start(t, fx.Populate(&db))

		githubAs := func(id int64, login, email string) fedFlow {
			t.Helper()
			w.gh.SetUser(oidctest.GitHubUser{ID: id, Login: login, Name: login,
				Emails: []oidctest.GitHubEmail{{Email: email, Primary: true, Verified: true}}})
			f, loc := begin(t, c, "github", login)
			return follow(t, c, f, loc)
		}
		for _, tc := range []struct {
			id          int64
			login, addr string
			want        string
		}{
			{901, "eve", "eve@blocked.example", "SIGNUP_REJECTED"},
			{902, "sam", "sam@slow.example", "SERVICE_UNAVAILABLE"},
			{903, "bo", "bo@broken.example", "SERVICE_UNAVAILABLE"},
		} {
			f := githubAs(tc.id, tc.login, tc.addr)
			if got := f.fragment(); got.Get("error") != tc.want || got.Get("code") != "" {
				t.Fatalf("%s: sent back to %s, want #error=%s", tc.addr, f.appLocation, tc.want)
			}
			var users, identities int64
			db.Table("users").Where("email = ?", tc.addr).Count(&users)
			db.Table("federated_identities").Where("email = ?", tc.addr).Count(&identities)
			if users != 0 || identities != 0 {
				t.Fatalf("%s: %d accounts, %d identities after the hook said no", tc.addr, users, identities)
			}
		}

		// Allowed: the account exists and signs in.
		if p := fedTokens(t, c, githubAs(904, "ok", "ok@example.com")); p.User.Email != "ok@example.com" {
			t.Fatalf("allowed sign-up: %+v", p.User)
		}
		// A known identity signs in without asking again.
		hook.mu.Lock()
		asked := len(hook.asked)
		hook.mu.Unlock()
		expect(t, exchange(t, c, githubAs(904, "ok", "ok@example.com")), 200, "")

		hook.mu.Lock()
		defer hook.mu.Unlock()
		if len(hook.asked) != asked || asked != 4 {
			t.Fatalf("hook asked %d times, then %d (want 4 and no more)", asked, len(hook.asked))
		}
		for _, a := range hook.asked {
			if a["method"] != "oauth" || a["provider"] != "github" || a["ip"] == nil {
				t.Errorf("hook asked %v", a)
			}
		}
	})
}
