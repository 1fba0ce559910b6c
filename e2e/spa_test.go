package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/examples/spa"
)

// idle, appended to a condition of waitJS, also waits until the example app has no
// request on the way, so that the page no longer changes under the test's clicks.
const idle = ` && window.gatehouseExample.pending() === 0`

const (
	password    = "correct horse battery staple"
	newPassword = "a brand new passphrase, longer"
)

// TestExampleAppSameOrigin runs the whole flow of the example app as the service
// itself serves it at /example/.
func TestExampleAppSameOrigin(t *testing.T) {
	requireBrowser(t)
	srv := startServer(t, freePort(t), nil)
	requireExampleServed(t, srv)
	runAppFlow(t, newBrowser(t), srv, srv.URL+spa.Prefix)
}

// requireExampleServed fails the test at once when the service does not serve the
// example app, rather than after a browser timeout.
func requireExampleServed(t *testing.T, srv *server) {
	t.Helper()
	if got := getStatus(t, srv.URL+spa.Prefix); got != http.StatusOK {
		t.Fatalf("GET %s with EXAMPLE_APP_ENABLED=true: %d, want 200 (is spa.Handler() mounted in cmd/gatehouse?)", spa.Prefix, got)
	}
}

// TestExampleAppCrossOrigin runs the same flow with the app on another origin
// (another port of 127.0.0.1) calling the API with CORS and credentials, and checks
// that EXAMPLE_APP_ENABLED=false takes /example/ off the service.
//
// Two ports of 127.0.0.1 are two origins but one site: "site" is the scheme and the
// registrable domain (for an IP address, the address itself), never the port. So the
// SameSite=Strict refresh cookie is still sent on the app's cross-origin fetches.
func TestExampleAppCrossOrigin(t *testing.T) {
	requireBrowser(t)
	apiPort := freePort(t)
	apiOrigin := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	h, err := spa.HandlerWithAPIOrigins(apiOrigin)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(h)
	t.Cleanup(app.Close)

	srv := startServer(t, apiPort, map[string]string{
		"CORS_ALLOWED_ORIGINS": app.URL,
		"EXAMPLE_APP_ENABLED":  "false",
	})
	if got := getStatus(t, srv.URL+spa.Prefix); got != http.StatusNotFound {
		t.Errorf("GET %s with EXAMPLE_APP_ENABLED=false: %d, want 404", spa.Prefix, got)
	}
	runAppFlow(t, newBrowser(t), srv, app.URL+spa.Prefix+"?api="+srv.URL)
}

// runAppFlow signs in, lets the access token expire, reloads, manages sessions,
// changes the password through a step-up and signs out, checking along the way
// that the refresh token never reaches page JavaScript.
func runAppFlow(t *testing.T, b context.Context, srv *server, appURL string) {
	email := uniqueEmail("ada")
	// Registered by another client: that session stands for "another device".
	other := srv.register(t, email, password)

	app := newTab(t, b, "app")
	app.navigate(appURL)
	// No cookie yet: the silent refresh fails and the sign-in form shows.
	app.waitJS(`document.body.dataset.state === "logged-out"`)
	if got := eval[string](app, `document.getElementById("api-base").textContent`); got != srv.URL {
		t.Errorf("the app shows API %q, want %q", got, srv.URL)
	}

	// Sign in with cookie transport.
	app.submitCredentials("login-submit", email, password)
	app.waitJS(`document.body.dataset.state === "logged-in"`)
	signedIn := time.Now()
	if got := eval[string](app, `document.getElementById("user-email").textContent`); got != email {
		t.Fatalf("signed in as %q, want %q", got, email)
	}
	app.waitJS(`document.getElementById("sessions-list").dataset.count === "2"` + idle)

	checkRefreshCookieHidden(t, b, app, srv)

	// The access token lives in memory only.
	storage := eval[string](app, `JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})`)
	if containsAny(storage, "eyJ", "refresh") {
		t.Errorf("web storage holds a token: %s", storage)
	}

	// Let the access token expire. Three calls at once all get TOKEN_EXPIRED; they
	// share one refresh (single flight) and are retried.
	sleepUntil(t, signedIn.Add(accessTTL+500*time.Millisecond), "the access token expires")
	since := time.Now()
	n := eval[int](app, `Promise.all([
		window.gatehouseExample.loadMe(),
		window.gatehouseExample.loadSessions(),
		window.gatehouseExample.api("GET", "/users/me"),
	]).then((results) => results.length)`)
	if n != 3 {
		t.Fatalf("%d of 3 calls answered after the expiry", n)
	}
	if sent := len(app.rec.refreshCookiesSince(since)); sent != 1 {
		t.Errorf("3 calls with an expired token sent %d refreshes, want 1", sent)
	}
	if stats := appStats(app); stats["token-expired"] < 1 || stats["refreshed"] < 1 {
		t.Errorf("after expiry: stats %v, want token-expired and refreshed", stats)
	}
	// And through the button, as a user would.
	app.do(chromedp.Click(chromedp.ID("reload-me")))
	app.waitJS(`window.gatehouseExample.stats.profile === 2`)
	if got := eval[string](app, `document.getElementById("user-email").textContent`); got != email {
		t.Errorf("after the refresh the app shows %q, want %q", got, email)
	}

	// A reload loses the in-memory token; the cookie restores the session.
	app.navigate(appURL)
	app.waitJS(`document.body.dataset.state === "logged-in" && window.gatehouseExample.stats.restored === 1` + idle)
	app.screenshot("signed-in")

	// Sessions: the list shows this one and the other device's; revoke the other.
	app.do(chromedp.Click(chromedp.ID("sessions-load")))
	app.waitJS(`document.getElementById("sessions-list").dataset.count === "2"` + idle)
	if n := eval[int](app, `document.querySelectorAll('[data-testid="session-row"][data-current="true"]').length`); n != 1 {
		t.Errorf("%d sessions marked current, want 1", n)
	}
	app.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-session-id=%q] [data-testid="revoke-session"]`, other.Session.ID))))
	app.waitJS(`document.getElementById("sessions-list").dataset.count === "1"` + idle)
	if code := srv.refreshCode(t, other.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("refresh of the revoked session: %q, want REFRESH_TOKEN_INVALID", code)
	}

	// Change the password. The token came from a refresh, so it is not fresh: the
	// service answers FRESH_AUTH_REQUIRED, the app asks for the password,
	// reauthenticates and retries.
	third := srv.login(t, email, password)
	app.do(
		chromedp.SendKeys(chromedp.ID("current-password"), password),
		chromedp.SendKeys(chromedp.ID("new-password"), newPassword),
		chromedp.Click(chromedp.ID("password-submit")),
		chromedp.WaitVisible(chromedp.ID("reauth-password")),
	)
	app.screenshotOf("password-prompt", chromedp.CaptureScreenshot())
	app.do(
		chromedp.SendKeys(chromedp.ID("reauth-password"), password),
		chromedp.Click(chromedp.ID("reauth-submit")),
	)
	app.waitJS(`document.getElementById("password-status").dataset.kind === "ok"`)
	stats := appStats(app)
	if stats["fresh-auth-required"] != 1 || stats["reauthenticated"] != 1 || stats["password-changed"] != 1 {
		t.Errorf("after the password change: stats %v, want one each of fresh-auth-required, reauthenticated, password-changed", stats)
	}
	if open := eval[bool](app, `document.getElementById("reauth-dialog").open`); open {
		t.Error("the password dialog is still open")
	}
	// Every other session is gone; this one lives on.
	if code := srv.refreshCode(t, third.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("refresh of another session after the password change: %q, want REFRESH_TOKEN_INVALID", code)
	}
	app.waitJS(`document.getElementById("sessions-list").dataset.count === "1"` + idle)
	app.screenshot("password-changed")
	app.do(chromedp.Click(chromedp.ID("reload-me")))
	app.waitJS(`window.gatehouseExample.stats.profile === 1`) // counted since the reload

	// Sign out: the cookie is cleared, a reload stays signed out.
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"`)
	if c := findCookie(app.cookies(srv.URL+"/auth/refresh"), "refresh_token"); c != nil {
		t.Errorf("refresh cookie still set after sign-out: %+v", c)
	}
	app.navigate(appURL)
	app.waitJS(`document.body.dataset.state === "logged-out"`)

	// The new password works.
	app.submitCredentials("login-submit", email, newPassword)
	app.waitJS(`document.body.dataset.state === "logged-in"`)
	if got := eval[string](app, `document.body.innerText`); strings.Contains(got, "eyJ") {
		t.Error("the page shows a token")
	}
}

// checkRefreshCookieHidden checks that the browser holds the refresh cookie with the
// contract's attributes, and that page JavaScript cannot read it, also on a page
// under /auth of the API's origin, whose path the cookie matches.
func checkRefreshCookieHidden(t *testing.T, b context.Context, app *tab, srv *server) {
	t.Helper()
	c := findCookie(app.cookies(srv.URL+"/auth/refresh"), "refresh_token")
	if c == nil {
		t.Fatal("the browser has no refresh_token cookie for /auth after sign-in")
	}
	if !c.HTTPOnly || c.Path != "/auth" || c.SameSite != network.CookieSameSiteStrict {
		t.Errorf("refresh cookie: HttpOnly=%v Path=%q SameSite=%q, want true, /auth, Strict", c.HTTPOnly, c.Path, c.SameSite)
	}
	if got := eval[string](app, `document.cookie`); strings.Contains(got, "refresh_token") {
		t.Errorf("document.cookie on the app shows the refresh token: %q", got)
	}
	// The app's page is not under /auth, so the cookie's Path alone would hide it
	// there. A page of the API under /auth is in the cookie's path: only HttpOnly
	// hides it there.
	probe := newTab(t, b, "probe")
	probe.navigate(srv.URL + "/auth/cookie-probe") // a 404 JSON page, in the cookie's path
	if got := eval[string](probe, `document.cookie`); strings.Contains(got, "refresh_token") {
		t.Errorf("document.cookie under /auth shows the refresh token: %q", got)
	}
}

// appStats reads the app's event counters.
func appStats(tb *tab) map[string]int {
	tb.t.Helper()
	return eval[map[string]int](tb, `window.gatehouseExample.stats`)
}

// TestExampleAppTwoTabsRefreshAtOnce opens the app in two tabs of one browser (one
// cookie jar), lets both access tokens expire and makes both tabs refresh at the
// same moment with the same refresh cookie. The service's grace interval must answer
// both, and neither tab may be signed out, then or at the next refresh.
func TestExampleAppTwoTabsRefreshAtOnce(t *testing.T) {
	const grace = 2 * time.Second
	requireBrowser(t)
	srv := startServer(t, freePort(t), map[string]string{"REFRESH_REUSE_GRACE": grace.String()})
	requireExampleServed(t, srv)
	email := uniqueEmail("tabs")
	srv.register(t, email, password)
	appURL := srv.URL + spa.Prefix
	b := newBrowser(t)

	tab1 := newTab(t, b, "tab1")
	tab1.signIn(appURL, "login-submit", email, password)

	tab2 := newTab(t, b, "tab2")
	tab2.navigate(appURL)
	tab2.waitJS(`document.body.dataset.state === "logged-in" && window.gatehouseExample.stats.restored === 1` + idle)
	restored := time.Now()

	sleepUntil(t, restored.Add(accessTTL+300*time.Millisecond), "both access tokens expire")

	// Both tabs are handed the same wall-clock instant (one machine, one clock) and
	// wait for it: a timer until just before it, then a spin for sub-millisecond
	// precision. Then each refreshes and calls /users/me. Both refreshes carry the
	// same cookie, so one of them presents a token that the other has just rotated.
	// A slow network for /auth/refresh (its answer, and so the new cookie, arrives
	// 300 ms after the request left) keeps the two requests overlapping even when a
	// loaded machine wakes one tab late. Should that still not be enough, the second
	// request sends the new cookie and there was no race: try again (an explicit
	// refresh needs no expired token).
	for _, tb := range []*tab{tab1, tab2} {
		tb.throttle(srv.URL+"/auth/refresh", 300*time.Millisecond)
	}
	raced := false
	for attempt := 1; attempt <= 3 && !raced; attempt++ {
		raceStart := time.Now()
		at := raceStart.Add(time.Duration(attempt) * time.Second).UnixMilli()
		arm := fmt.Sprintf(`window.race = new Promise((r) => setTimeout(r, %d - 20 - Date.now()))
			.then(() => { while (Date.now() < %d) {} })
			.then(() => window.gatehouseExample.refreshAccessToken())
			.then(() => window.gatehouseExample.loadMe())
			.then((u) => u.email);
			Date.now()`, at, at)
		late := false
		for _, tb := range []*tab{tab1, tab2} {
			if armed := eval[int64](tb, arm); armed > at-10 {
				late = true // armed too close to the instant to trust the timing
			}
		}
		for _, tb := range []*tab{tab1, tab2} {
			got, err := evalE[string](tb.ctx, `window.race`)
			if err != nil || got != email {
				t.Fatalf("tab %s: racing refresh: user %q, error %v; want %q", tb.name, got, err, email)
			}
		}
		c1, c2 := tab1.rec.refreshCookiesSince(raceStart), tab2.rec.refreshCookiesSince(raceStart)
		if len(c1) != 1 || len(c2) != 1 || c1[0] == "" || c2[0] == "" {
			t.Fatalf("refreshes in the race: tab1 sent %d, tab2 %d (cookies %q, %q); want one each with a cookie", len(c1), len(c2), c1, c2)
		}
		raced = c1[0] == c2[0]
		if !raced {
			t.Logf("attempt %d: the tabs' refreshes did not overlap (armed late: %v); again", attempt, late)
		}
	}
	if !raced {
		t.Error("in 3 attempts the two tabs never refreshed with the same cookie")
	}

	// After the grace interval and another expiry, the cookie the browser kept must
	// still be the session's live token: each tab refreshes again, one after the
	// other, through the TOKEN_EXPIRED path.
	sleepUntil(t, time.Now().Add(max(grace, accessTTL)+300*time.Millisecond), "the grace interval ends and the tokens expire")
	for _, tb := range []*tab{tab1, tab2} {
		if got := eval[string](tb, `window.gatehouseExample.loadMe().then((u) => u.email)`); got != email {
			t.Errorf("tab %s after the race: /users/me says %q, want %q", tb.name, got, email)
		}
		if state := eval[string](tb, `document.body.dataset.state`); state != "logged-in" {
			t.Errorf("tab %s after the race: state %q, want logged-in", tb.name, state)
		}
	}
	for _, tb := range []*tab{tab1, tab2} {
		if st := appStats(tb); st["session-ended"] != 0 || st["error"] != 0 {
			t.Errorf("tab %s: stats %v, want no session-ended and no error", tb.name, st)
		}
	}
}
