package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/clients/go/gatehouse"
	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/webhooktest"
)

// members is how many accounts the console test makes to page through: more than
// one page (20) of the console's list.
const members = 23

// TestAdminConsole drives every action of the admin console in Chromium against a
// real instance, on SQLite and on PostgreSQL: the link only for administrators,
// search and keyset paging forward and back, a user's page, marking the address
// verified (through a step-up that asks for the password), disabling and enabling,
// roles, the sessions and factors listed, revoking one session from its row (its
// refresh dies, the other session lives) and then every session, the security
// events of all that, the signing keys and a rotation, OpenID clients (the secret shown once and working, deletion
// after a typed confirmation), a webhook delivery the receiver refused (listed with its error, delivered again
// from the page, then shown delivered), and deleting an account (cancelled once, then done
// through a step-up that asks for the authenticator code, the administrator
// having turned TOTP on meanwhile). What the page shows is checked against what
// the API answers and against what the affected user sees.
func TestAdminConsole(t *testing.T) {
	requireBrowser(t)
	t.Run("sqlite", func(t *testing.T) { runAdminConsole(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		runAdminConsole(t, map[string]string{"DATABASE_URL": pgtest.URL(t)})
	})
}

// goClient is a non-browser caller with a bearer token, for checking what the
// console did.
type goClient struct {
	t     *testing.T
	srv   *server
	token string
}

func (c goClient) do(method, path string, body any) (int, envelope) {
	c.t.Helper()
	return c.srv.call(c.t, method, path, body, c.token)
}

// user reads an account as administrators see it, in the generated
// client's type (the contract's AdminUser).
func (c goClient) user(id string) gatehouse.AdminUser {
	c.t.Helper()
	status, env := c.do(http.MethodGet, "/admin/users/"+id, nil)
	if status != http.StatusOK {
		c.t.Fatalf("GET /admin/users/%s: %d %s", id, status, env.Code())
	}
	var u gatehouse.AdminUser
	if err := json.Unmarshal(env.Data, &u); err != nil {
		c.t.Fatal(err)
	}
	return u
}

func runAdminConsole(t *testing.T, env map[string]string) {
	port := freePort(t)
	settings := map[string]string{
		// Tokens outlive the test: the step-ups here are the ones the console's
		// writes call for, not expired tokens.
		"ACCESS_TOKEN_TTL":  "10m",
		"RATE_LIMIT_PER_IP": "0", // the accounts below are made in a burst
	}
	for k, v := range env {
		settings[k] = v
	}
	// Only user.created goes to the receiver, which takes every well-signed
	// post until the deliveries step refuses one.
	hooks := webhooktest.New(t, webhooktest.Secret)
	settings["WEBHOOK_URL"] = hooks.URL
	settings["WEBHOOK_SECRET"] = webhooktest.Secret
	settings["WEBHOOK_EVENTS"] = "user.created"
	settings["WEBHOOK_POLL_INTERVAL"] = "50ms"
	srv := startServer(t, port, settings)
	appURL := srv.URL + spa.Prefix

	// The first administrator comes from the command line, as in production.
	const rootEmail = "root@example.com"
	srv.cli(t, password+"\n", "users", "create", "--email", rootEmail, "--name", "Root", "--role", "admin", "--role", "user")
	root := goClient{t: t, srv: srv, token: srv.login(t, rootEmail, password).AccessToken}

	tag := strings.TrimSuffix(strings.TrimPrefix(uniqueEmail("m"), "m-"), "@example.com")
	for i := range members {
		srv.register(t, fmt.Sprintf("member-%s-%02d@example.com", tag, i), password)
	}
	targetEmail := uniqueEmail("grace")
	target := srv.register(t, targetEmail, password)

	b := newBrowser(t)

	// A user who is not an administrator sees no link, and the console's list
	// says the service refused.
	other := newTab(t, b, "member")
	other.signIn(appURL, "login-submit", fmt.Sprintf("member-%s-00@example.com", tag), password)
	if eval[bool](other, `!document.getElementById("admin-link").hidden`) {
		t.Fatal("the console link is shown to a user without the admin role")
	}
	eval[string](other, `location.hash = "#/admin/users"`)
	other.waitJS(`!document.getElementById("admin-status").hidden` + idle)
	if got := eval[string](other, `document.getElementById("admin-status").textContent`); !strings.HasPrefix(got, "Refused") {
		t.Fatalf("a non-admin's console says %q, want the refusal", got)
	}
	if n := eval[int](other, `document.querySelectorAll('[data-testid="admin-user-row"]').length`); n != 0 {
		t.Fatalf("a non-admin's console lists %d users", n)
	}
	// Signed out, so the shared cookie jar holds no session for the next tab.
	eval[string](other, `location.hash = "#/"`)
	other.do(chromedp.Click(chromedp.ID("logout")))
	other.waitJS(`document.body.dataset.state === "logged-out"` + idle)

	app := newTab(t, b, "console")
	app.signIn(appURL, "login-submit", rootEmail, password)
	// A reload restores the session from the refresh cookie: that token is not
	// fresh, so the first write below has to step up.
	app.navigate(appURL)
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
	app.waitJS(`!document.getElementById("admin-link").hidden`)
	app.do(chromedp.Click(chromedp.ID("admin-link")))
	rows := `document.querySelectorAll('[data-testid="admin-user-row"]')`
	app.waitJS(`document.body.dataset.console === "true" && document.getElementById("app-view").hidden && ` + rows + `.length === 20 && !document.getElementById("admin-main").dataset.loading` + idle)
	if got := eval[string](app, rows+`[0].dataset.email`); got != targetEmail {
		t.Errorf("first user listed %q, want the newest account %q", got, targetEmail)
	}
	shot(app, "user-list")

	// Search and page: the members are 23, newest first; 20 then 3, and back.
	search := func(q string) {
		t.Helper()
		eval[string](app, `document.getElementById("admin-q").value = `+jsString(q))
		app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-search-submit"]`)))
	}
	loaded := ` && !document.getElementById("admin-main").dataset.loading` + idle
	search("member-" + tag)
	app.waitJS(`document.querySelector('[data-testid="admin-page"]')?.textContent === "Page 1" && ` + rows + `.length === 20` + loaded)
	first := eval[[]string](app, `[...`+rows+`].map((r) => r.dataset.email)`)
	if first[0] != fmt.Sprintf("member-%s-%02d@example.com", tag, members-1) {
		t.Errorf("page 1 starts with %s, want the newest member", first[0])
	}
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-next"]`)))
	app.waitJS(`document.querySelector('[data-testid="admin-page"]')?.textContent === "Page 2"` + loaded)
	second := eval[[]string](app, `[...`+rows+`].map((r) => r.dataset.email)`)
	if len(second) != members-20 || second[len(second)-1] != fmt.Sprintf("member-%s-00@example.com", tag) {
		t.Errorf("page 2 is %v, want the %d oldest members", second, members-20)
	}
	if eval[bool](app, `document.querySelector('[data-testid="admin-next"]').disabled`) != true {
		t.Error("the last page offers a next page")
	}
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-prev"]`)))
	app.waitJS(`document.querySelector('[data-testid="admin-page"]')?.textContent === "Page 1"` + loaded)
	if again := eval[[]string](app, `[...`+rows+`].map((r) => r.dataset.email)`); strings.Join(again, ",") != strings.Join(first, ",") {
		t.Errorf("back on page 1: %v, want %v", again, first)
	}

	// Open the target's page.
	search(strings.ToUpper(targetEmail[:12])) // any case
	app.waitJS(rows + `.length === 1` + loaded)
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-user-link"]`)))
	page := `document.querySelector('[data-testid="admin-screen-user"]')`
	fact := func(name string) string {
		return eval[string](app, `document.querySelector('[data-testid="admin-user-`+name+`"]')?.textContent`)
	}
	// The page lists the sessions (the count is the number of rows).
	sessionRows := `document.querySelector('[data-testid="admin-sessions"]')?.dataset.count`
	sessions := func() string { return eval[string](app, sessionRows) }
	app.waitJS(page + ` && ` + page + `.dataset.userId === "` + target.User.ID + `"` + loaded)
	if fact("email") != targetEmail || fact("verified") != "not verified" || sessions() != "1" || fact("status") != "enabled" {
		t.Fatalf("user page: email %q, address %q, sessions %q, status %q", fact("email"), fact("verified"), sessions(), fact("status"))
	}
	if got := eval[string](app, `document.querySelector('[data-testid="admin-session"]')?.dataset.sessionId`); got != target.Session.ID {
		t.Errorf("the session listed is %q, want the registration's %q", got, target.Session.ID)
	}
	if got := eval[string](app, `document.querySelector('[data-testid="admin-totp"]')?.textContent`); got != "Authenticator app (TOTP): off" {
		t.Errorf("factors say %q", got)
	}
	// No provider is linked: the section of linked identities stays hidden
	// (e2e/providers_test.go shows it listing two).
	if !eval[bool](app, `document.querySelector('[data-testid="admin-identities"]')?.dataset.count === "0" && document.querySelector('[data-testid="admin-identities"]').hidden`) {
		t.Error("the page shows a section of linked identities for an account without any")
	}

	// Mark the address verified: the token is not fresh, so the page asks for
	// the password (no code: root has no second factor yet) and retries.
	// Cancelled first: nothing changes, and the page says so.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-verify"]`)))
	app.do(chromedp.WaitVisible(chromedp.ID("reauth-password")), chromedp.Click(chromedp.ID("reauth-cancel")))
	app.waitJS(`document.getElementById("admin-status").textContent === "Cancelled: nothing was changed."` + idle)
	if root.user(target.User.ID).EmailVerified {
		t.Fatal("a cancelled step-up verified the address")
	}
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-verify"]`)))
	app.do(chromedp.WaitVisible(chromedp.ID("reauth-password")))
	if eval[string](app, `document.getElementById("reauth-dialog").dataset.aal2`) != "false" {
		t.Error("the step-up dialog asks for a code although the challenge did not")
	}
	app.do(
		chromedp.SendKeys(chromedp.ID("reauth-password"), password),
		chromedp.Click(chromedp.ID("reauth-submit")),
	)
	app.waitJS(page + ` && ` + page + `.dataset.emailVerified === "true"` + loaded)
	if !root.user(target.User.ID).EmailVerified {
		t.Fatal("the console shows the address verified, the API does not")
	}
	if n := eval[int](app, `document.querySelectorAll('[data-testid="admin-verify"]').length`); n != 0 {
		t.Error("a verified address still offers to verify it")
	}

	// Disable: the user's sessions end and their login is refused.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-disable"]`)))
	app.waitJS(page + ` && ` + page + `.dataset.disabled === "true"` + loaded)
	if fact("status") != "disabled: cannot sign in" || sessions() != "0" {
		t.Errorf("disabled user page: status %q, sessions %q", fact("status"), sessions())
	}
	if code := srv.refreshCode(t, target.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("refresh of a disabled user: %q", code)
	}
	if status, env := srv.call(t, http.MethodPost, "/auth/login", map[string]any{"email": targetEmail, "password": password, "refreshTokenTransport": "body"}, ""); status != http.StatusForbidden || env.Code() != "USER_DISABLED" {
		t.Errorf("login of a disabled user: %d %s", status, env.Code())
	}

	// Enable: the user signs in again.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-enable"]`)))
	app.waitJS(page + ` && ` + page + `.dataset.disabled === "false"` + loaded)
	again := srv.login(t, targetEmail, password)
	spare := srv.login(t, targetEmail, password)

	// Roles.
	eval[string](app, `document.getElementById("admin-roles").value = "user, support"`)
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-roles-save"]`)))
	app.waitJS(`document.querySelector('[data-testid="admin-user-roles"]') && document.querySelector('[data-testid="admin-user-roles"]')?.textContent === "user, support"` + loaded)
	if got := root.user(target.User.ID).Roles; strings.Join(got, ",") != "user,support" {
		t.Errorf("roles after the console set them: %v", got)
	}
	// A bad role is refused with the API's reason, and nothing changes.
	eval[string](app, `document.getElementById("admin-roles").value = "Not A Role"`)
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-roles-save"]`)))
	app.waitJS(`document.getElementById("admin-status").dataset.kind === "error" && !document.getElementById("admin-status").hidden` + idle)
	if got := eval[string](app, `document.getElementById("admin-status").textContent`); !strings.Contains(got, "roles") {
		t.Errorf("a bad role says %q, want the field named", got)
	}
	if got := root.user(target.User.ID).Roles; strings.Join(got, ",") != "user,support" {
		t.Errorf("roles after a refused change: %v", got)
	}

	// Revoke one session from its row: its refresh token dies, the other
	// session lives.
	app.waitJS(sessionRows + ` === "2"` + loaded)
	shot(app, "user-sessions")
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-session"][data-session-id="` + again.Session.ID + `"] [data-testid="admin-session-revoke"]`)))
	app.waitJS(`document.getElementById("admin-status").dataset.kind === "ok" && ` + sessionRows + ` === "1"` + loaded)
	if got := eval[string](app, `document.querySelector('[data-testid="admin-session"]')?.dataset.sessionId`); got != spare.Session.ID {
		t.Errorf("after revoking one session the page lists %q, want the other one %q", got, spare.Session.ID)
	}
	if code := srv.refreshCode(t, again.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("refresh of the session the console revoked: %q", code)
	}
	spare = srv.pair(t, "/auth/refresh", map[string]any{"refreshToken": spare.RefreshToken}, http.StatusOK)

	// Revoke every session: the one left ends.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-revoke"]`)))
	app.waitJS(`document.getElementById("admin-status").dataset.kind === "ok" && ` + sessionRows + ` === "0"` + loaded)
	if code := srv.refreshCode(t, spare.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("refresh after the console revoked every session: %q", code)
	}

	// The security events show all of it, newest first.
	app.waitJS(`document.querySelector('[data-testid="admin-events"]') && Number(document.querySelector('[data-testid="admin-events"]')?.dataset.count) > 0` + loaded)
	events := eval[[]string](app, `[...document.querySelectorAll('[data-testid="admin-event"]')].map((r) => r.dataset.type)`)
	for _, want := range []string{"admin_email_verified_changed", "admin_user_disabled", "admin_user_enabled", "admin_roles_changed", "admin_session_revoked", "admin_sessions_revoked"} {
		if !strings.Contains(strings.Join(events, " "), want) {
			t.Errorf("security events %v lack %s", events, want)
		}
	}
	if events[0] != "admin_sessions_revoked" {
		t.Errorf("newest event %s, want admin_sessions_revoked", events[0])
	}
	shot(app, "user-page")

	// Signing keys: list and rotate.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-nav-keys"]`)))
	keyRows := `document.querySelectorAll('[data-testid="admin-key"]')`
	app.waitJS(`document.querySelector('[data-testid="admin-keys"]') && document.querySelector('[data-testid="admin-keys"]')?.dataset.count` + loaded)
	before := eval[int](app, keyRows+`.length`)
	if before < 1 || eval[int](app, `document.querySelectorAll('[data-testid="admin-key"][data-state="active"]').length`) != 1 {
		t.Fatalf("keys before rotation: %d rows, want one active", before)
	}
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-rotate"]`)))
	app.waitJS(`document.getElementById("admin-status").dataset.kind === "ok" && ` + keyRows + `.length === ` + fmt.Sprint(before+1) + loaded)
	shot(app, "keys")
	next := eval[string](app, `document.querySelector('[data-testid="admin-key"][data-state="next"]')?.dataset.kid`)
	if !jwksHas(t, srv, next) {
		t.Errorf("the new key %s is not published in the JWKS", next)
	}

	// OpenID clients: register one, its secret shown once and working.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-nav-clients"]`)))
	app.waitJS(`document.querySelector('[data-testid="admin-clients"]') && document.querySelector('[data-testid="admin-clients"]')?.dataset.count === "0"` + loaded)
	app.do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-name"]`), "Grafana"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="client-redirects"]`), "https://grafana.example.com/login/generic_oauth"),
		chromedp.Click(chromedp.CSS(`[data-testid="client-create"]`)),
	)
	app.waitJS(`document.querySelector('[data-testid="admin-secret"]') && document.querySelector('[data-testid="admin-clients"]')?.dataset.count === "1"` + idle)
	shot(app, "client-secret")
	secret := eval[string](app, `document.querySelector('[data-testid="admin-secret"]')?.textContent`)
	clientID := eval[string](app, `document.querySelector('[data-testid="admin-new-client-id"]')?.textContent`)
	if len(secret) < 32 || eval[string](app, `document.querySelector('[data-testid="admin-client"]')?.dataset.clientId`) != clientID {
		t.Fatalf("client %q shown with secret of %d characters", clientID, len(secret))
	}
	if got, want := tokenEndpointError(t, srv, clientID, secret), "invalid_grant"; got != want {
		t.Errorf("the shown secret at the token endpoint: %s, want %s (the client authenticated)", got, want)
	}
	if got := tokenEndpointError(t, srv, clientID, secret+"x"); got != "invalid_client" {
		t.Errorf("a wrong secret at the token endpoint: %s, want invalid_client", got)
	}
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-secret-done"]`)))
	if strings.Contains(eval[string](app, `document.body.innerHTML`), secret) {
		t.Error("the client secret stays in the page after Done")
	}
	// Delete it: the typed name is required, then it is gone.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="client-delete"]`)))
	app.do(chromedp.WaitVisible(chromedp.ID("confirm-input")))
	if !eval[bool](app, `document.getElementById("confirm-submit").disabled`) {
		t.Error("deletion can be confirmed without typing the name")
	}
	app.do(chromedp.SendKeys(chromedp.ID("confirm-input"), "Grafana"), chromedp.Click(chromedp.ID("confirm-submit")))
	app.waitJS(`document.querySelector('[data-testid="admin-clients"]')?.dataset.count === "0"` + idle)
	if status, env := root.do(http.MethodGet, "/admin/oauth-clients", nil); status != http.StatusOK || string(env.Data) != "[]" {
		t.Errorf("clients after the console deleted the only one: %d %s", status, env.Data)
	}

	// Webhook deliveries: a user.created the receiver refused is listed as
	// pending with its error, delivered again from the page, then shown as
	// delivered and received.
	hooks.SetDown(true)
	srv.register(t, uniqueEmail("hooked"), password)
	var deliveryID string
	waitUntil(t, "a refused delivery", func() bool {
		status, env := root.do(http.MethodGet, "/admin/webhooks/deliveries?status=pending", nil)
		var page struct {
			Items []struct {
				ID        string  `json:"id"`
				Attempts  int     `json:"attempts"`
				LastError *string `json:"lastError"`
			} `json:"items"`
		}
		if status != http.StatusOK || json.Unmarshal(env.Data, &page) != nil || len(page.Items) != 1 {
			return false
		}
		deliveryID = page.Items[0].ID
		return page.Items[0].Attempts >= 1 && page.Items[0].LastError != nil
	})
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-nav-webhooks"]`)))
	deliveries := `document.querySelector('[data-testid="admin-deliveries"]')`
	app.do(chromedp.SetValue(chromedp.CSS(`[data-testid="admin-delivery-status"]`), "pending"))
	eval[bool](app, `document.querySelector('[data-testid="admin-delivery-status"]').dispatchEvent(new Event("change")) || true`)
	app.waitJS(deliveries + ` && ` + deliveries + `.dataset.count === "1"` + loaded)
	row := `document.querySelector('[data-testid="admin-delivery"]')`
	if got := eval[string](app, row+`.dataset.id`); got != deliveryID {
		t.Fatalf("the console lists delivery %q, the API %q", got, deliveryID)
	}
	if got := eval[string](app, row+`.textContent`); !strings.Contains(got, "user.created") || !strings.Contains(got, "503") {
		t.Errorf("the pending delivery's row: %q", got)
	}
	shot(app, "webhook-deliveries")
	hooks.SetDown(false)
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-delivery-retry"]`)))
	app.waitJS(`document.getElementById("admin-status").dataset.kind === "ok"` + idle)
	waitUntil(t, "the retried delivery", func() bool { return hooks.Posts(deliveryID) > 0 })
	if bad := hooks.Stats().BadSignatures; bad != 0 {
		t.Errorf("%d webhook posts failed the receiver's signature check", bad)
	}
	app.do(chromedp.SetValue(chromedp.CSS(`[data-testid="admin-delivery-status"]`), "delivered"))
	eval[bool](app, `document.querySelector('[data-testid="admin-delivery-status"]').dispatchEvent(new Event("change")) || true`)
	app.waitJS(deliveries + ` && [...document.querySelectorAll('[data-testid="admin-delivery"]')].some((r) => r.dataset.id === ` + jsString(deliveryID) + ` && r.dataset.status === "delivered")` + loaded)

	// Root turns TOTP on (from another device); the console's token is still
	// fresh but aal1, so deleting asks for the code too.
	totpSecret := enableTOTP(t, root)
	eval[string](app, `location.hash = "#/admin/users/`+target.User.ID+`"`)
	app.waitJS(page + ` && ` + page + `.dataset.userId === "` + target.User.ID + `"` + loaded)
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-delete"]`)))
	app.do(chromedp.WaitVisible(chromedp.ID("confirm-input")))
	app.do(chromedp.Click(chromedp.ID("confirm-cancel")))
	app.waitJS(`document.getElementById("admin-status").textContent === "Not deleted."`)
	root.user(target.User.ID) // still there

	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-delete"]`)))
	app.do(chromedp.WaitVisible(chromedp.ID("confirm-input")))
	app.do(chromedp.SendKeys(chromedp.ID("confirm-input"), targetEmail), chromedp.Click(chromedp.ID("confirm-submit")))
	app.do(chromedp.WaitVisible(chromedp.ID("reauth-password")))
	app.waitJS(`document.getElementById("reauth-dialog").dataset.aal2 === "true"`)
	if got := eval[string](app, `document.getElementById("reauth-text").textContent`); !strings.Contains(got, "authenticator") {
		t.Errorf("the aal2 step-up says %q", got)
	}
	app.do(
		chromedp.SendKeys(chromedp.ID("reauth-password"), password),
		chromedp.SendKeys(chromedp.ID("reauth-code"), totpAt(t, totpSecret, 0)),
		chromedp.Click(chromedp.ID("reauth-submit")),
	)
	app.waitJS(`document.getElementById("admin-view").dataset.view === "users" && document.getElementById("admin-status").textContent === ` + jsString(targetEmail+" was deleted") + loaded)
	if status, env := root.do(http.MethodGet, "/admin/users/"+target.User.ID, nil); status != http.StatusNotFound {
		t.Errorf("the deleted user: %d %s", status, env.Code())
	}
	if n := eval[int](app, `[...`+rows+`].filter((r) => r.dataset.email === `+jsString(targetEmail)+`).length`); n != 0 {
		t.Error("the deleted user is still listed")
	}

	// Back to the account page.
	app.do(chromedp.Click(chromedp.CSS(`[data-testid="admin-leave"]`)))
	app.waitJS(`document.body.dataset.console === "false" && !document.getElementById("app-view").hidden && document.getElementById("admin-view").hidden`)
}

// waitUntil polls cond for up to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// shot saves a viewport screenshot of the console under CONSOLE_SHOTS (a
// directory) when set, for people to look at, and as E2E_SCREENSHOTS does.
func shot(tb *tab, name string) {
	tb.t.Helper()
	tb.screenshot(name)
	dir := os.Getenv("CONSOLE_SHOTS")
	if dir == "" {
		return
	}
	png, err := evalShot(tb)
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	engine := filepath.Base(tb.t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, engine+"-"+name+".png"), png, 0o644); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
	}
}

func evalShot(tb *tab) ([]byte, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// jwksHas reports whether the service publishes the key kid.
func jwksHas(t *testing.T, srv *server, kid string) bool {
	t.Helper()
	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			return true
		}
	}
	return false
}

// tokenEndpointError presents the client's credentials at the token endpoint
// with a code that was never issued: a client that authenticated gets
// invalid_grant, a wrong secret invalid_client.
func tokenEndpointError(t *testing.T, srv *server, clientID, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"never-issued"}, "redirect_uri": {"https://grafana.example.com/login/generic_oauth"}}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Error
}

// enableTOTP turns on TOTP for the caller and returns its secret.
func enableTOTP(t *testing.T, c goClient) string {
	t.Helper()
	status, env := c.do(http.MethodPost, "/auth/mfa/totp", nil)
	if status != http.StatusOK {
		t.Fatalf("POST /auth/mfa/totp: %d %s", status, env.Code())
	}
	var e struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(env.Data, &e); err != nil {
		t.Fatal(err)
	}
	// The code of the previous period: the step-up later uses the current one,
	// and a code is accepted once.
	if status, env := c.do(http.MethodPost, "/auth/mfa/totp/confirm", map[string]any{"code": totpAt(t, e.Secret, -30*time.Second)}); status != http.StatusOK {
		t.Fatalf("POST /auth/mfa/totp/confirm: %d %s", status, env.Code())
	}
	return e.Secret
}
