package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/clients/go/gatehouse"
	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// TestExampleAppSignInWithProviders: in the example app, "Sign in with
// Corp SSO" leaves for a real OpenID provider (zitadel/oidc op), whose login
// form the browser fills; back in the app the user is signed in; then the
// settings link GitHub (a fake GitHub) to the account, and an
// administrator's console page of the account lists both. On both engines.
func TestExampleAppSignInWithProviders(t *testing.T) {
	requireBrowser(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			db := "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			port := freePort(t)
			origin := fmt.Sprintf("http://127.0.0.1:%d", port)
			adaEmail, ghEmail := uniqueEmail("corp"), uniqueEmail("gh")
			op := oidctest.StartOP(t, "gatehouse-e2e-"+engine, []string{origin + "/auth/oauth/corp/callback"}, oidctest.User{
				ID: "e2e-ada", Username: "ada", Password: "provider password", Email: adaEmail,
				EmailVerified: true, FirstName: "Ada", LastName: "Lovelace",
			})
			gh := oidctest.StartGitHub(t, "gh-e2e", "gh-e2e-secret", oidctest.GitHubUser{
				ID: 9001, Login: "ada-gh", Name: "Ada GH",
				Emails: []oidctest.GitHubEmail{{Email: ghEmail, Primary: true, Verified: true}},
			})
			srv := startServer(t, port, map[string]string{
				"PUBLIC_URL": origin, "ACCESS_TOKEN_TTL": "10m", "DATABASE_URL": db,
				"OAUTH_PROVIDERS":   "corp,github",
				"OAUTH_CORP_ISSUER": op.Issuer, "OAUTH_CORP_CLIENT_ID": op.ClientID, "OAUTH_CORP_CLIENT_SECRET": op.ClientSecret,
				"OAUTH_CORP_NAME":        "Corp SSO",
				"OAUTH_GITHUB_CLIENT_ID": gh.ClientID, "OAUTH_GITHUB_CLIENT_SECRET": gh.ClientSecret,
				"OAUTH_GITHUB_URL": gh.URL, "OAUTH_GITHUB_API_URL": gh.APIURL,
				"OAUTH_GITHUB_NAME": "GitHub",
			})

			b := newBrowser(t)
			app := newTab(t, b, "providers-"+engine)
			app.navigate(origin + spa.Prefix)
			app.waitJS(`document.body.dataset.state === "logged-out" && document.querySelector('[data-testid="provider-corp"]') !== null`)
			if got := eval[string](app, `document.querySelector('[data-testid="provider-corp"]').textContent`); got != "Sign in with Corp SSO" {
				t.Fatalf("button %q", got)
			}
			app.do(chromedp.Click(chromedp.CSS(`[data-testid="provider-corp"]`)))

			// The provider's own login form.
			app.do(chromedp.WaitVisible(chromedp.CSS(`#username`)))
			if got := eval[string](app, `location.origin`); got != op.Issuer {
				t.Fatalf("the browser is at %s, not the provider", got)
			}
			app.screenshot("provider-login")
			app.do(
				chromedp.SendKeys(chromedp.CSS(`#username`), "ada"),
				chromedp.SendKeys(chromedp.CSS(`#password`), "provider password"),
				chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			)

			// Back in the app, signed in, the code gone from the address bar.
			app.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="app-view"]`)))
			app.waitJS(`window.gatehouseExample && window.gatehouseExample.isSignedIn()` + idle)
			if h := eval[string](app, `location.hash`); h != "" {
				t.Errorf("the fragment stayed: %q", h)
			}
			if got := eval[string](app, `document.getElementById("user-name").textContent`); !strings.Contains(got, "Ada Lovelace") {
				t.Errorf("signed in as %q", got)
			}
			app.waitJS(`document.getElementById("identities-list").dataset.count === "1"` + idle)
			app.screenshot("signed-in")

			// Link GitHub from the settings.
			// The page leaves and comes back: a marker on this one tells them apart.
			eval[bool](app, `window.beforeLinking = true`)
			app.do(chromedp.Click(chromedp.CSS(`[data-testid="link-github"]`)))
			waitAcrossNavigation(app, `!window.beforeLinking && window.gatehouseExample && window.gatehouseExample.isSignedIn() && document.getElementById("identities-list").dataset.count === "2"`+idle)
			providers := eval[string](app, `[...document.querySelectorAll('[data-testid="identity"]')].map((li) => li.dataset.provider).join(",")`)
			if providers != "corp,github" {
				t.Fatalf("linked identities %q", providers)
			}
			if n := eval[int](app, `document.querySelectorAll('#identity-link button').length`); n != 0 {
				t.Errorf("%d link buttons left after linking every provider", n)
			}
			app.screenshot("linked")

			// The admin console's page of the account lists both identities.
			rootEmail := uniqueEmail("root")
			srv.cli(t, password+"\n", "users", "create", "--email", rootEmail, "--role", "admin", "--role", "user")
			root := goClient{t: t, srv: srv, token: srv.login(t, rootEmail, password).AccessToken}
			status, env := root.do(http.MethodGet, "/admin/users?q="+url.QueryEscape(adaEmail), nil)
			var found struct{ Items []gatehouse.AdminUser }
			if status != http.StatusOK || json.Unmarshal(env.Data, &found) != nil || len(found.Items) != 1 {
				t.Fatalf("search for ada: %d %s", status, env.Data)
			}
			app.do(chromedp.Click(chromedp.ID("logout")))
			app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
			app.submitCredentials("login-submit", rootEmail, password)
			app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
			eval[string](app, `location.hash = "#/admin/users/`+found.Items[0].Id.String()+`"`)
			app.waitJS(`document.querySelector('[data-testid="admin-identities"]')?.dataset.count === "2"` + idle)
			shown := eval[string](app, `[...document.querySelectorAll('[data-testid="admin-identity"]')].map((r) => r.dataset.provider + " " + r.cells[1].textContent).join(",")`)
			if shown != "corp "+adaEmail+",github "+ghEmail {
				t.Fatalf("the console lists identities %q", shown)
			}
			if eval[bool](app, `document.querySelector('[data-testid="admin-identities"]').hidden`) {
				t.Fatal("the console hides the linked identities")
			}
			app.screenshot("admin-identities")
		})
	}
}

// waitAcrossNavigation polls expr until it is true, through navigations
// (which cut off waitJS's in-page polling).
func waitAcrossNavigation(tb *tab, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		if ok, err := evalE[bool](tb.ctx, "Boolean("+expr+")"); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.t.Fatalf("tab %s: waiting for %s across a navigation", tb.name, expr)
}
