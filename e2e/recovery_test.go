package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// mailWait bounds how long a mail may take from the request to the SMTP server.
const mailWait = 20 * time.Second

// startWithMail starts the SMTP test server and a server that mails through
// it, its links leading to the example app it serves (PUBLIC_URL is its own
// URL), and fails at once if that app is not served.
func startWithMail(t *testing.T) (*server, *smtptest.Server) {
	t.Helper()
	mail := smtptest.Start(t, smtptest.Options{})
	port := freePort(t)
	srv := startServer(t, port, map[string]string{
		"MAIL_URL":           mail.URL(),
		"PUBLIC_URL":         fmt.Sprintf("http://127.0.0.1:%d", port),
		"MAIL_POLL_INTERVAL": "100ms",
	})
	requireExampleServed(t, srv)
	return srv, mail
}

// TestExampleAppMailLinks runs the mail flows in a real browser: register in the
// example app, read the verification mail from the in-process SMTP server, open its
// link and see the address verified; then "forgot password", open the reset link,
// set a new password, sign in with it, and find the other device's session gone.
func TestExampleAppMailLinks(t *testing.T) {
	requireBrowser(t)
	srv, mail := startWithMail(t)
	base := srv.URL
	appURL := srv.URL + spa.Prefix
	email := uniqueEmail("mail")

	app := newTab(t, newBrowser(t), "mail")
	app.signIn(appURL, "register-submit", email, password)
	if got := eval[string](app, `document.getElementById("user-verified").textContent`); got != "not verified yet" {
		t.Fatalf("a new account shows %q", got)
	}

	// The verification mail, as the SMTP server received it.
	vm := mail.WaitFor(t, email, "Confirm your email address", mailWait)
	link := vm.Link()
	if !strings.HasPrefix(link, base+spa.Prefix+"#/verify-email?token=") {
		t.Fatalf("verification link %q does not lead to the example app on %s", link, base)
	}
	app.navigate(link)
	app.waitJS(`document.getElementById("link-view").dataset.result === "verified"` + idle)
	if href := eval[string](app, `location.href`); strings.Contains(href, "token=") {
		t.Errorf("the token stays in the address bar: %s", href)
	}
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
	app.do(chromedp.Click(chromedp.ID("reload-me")))
	app.waitJS(`document.getElementById("user-verified").dataset.verified === "true"` + idle)
	app.screenshot("verified")

	// The link works once.
	app.navigate(link)
	app.waitJS(`document.getElementById("link-view").dataset.result === "failed"` + idle)

	// Another device signs in: the session a reset must end.
	other := srv.login(t, email, password)

	// Forgot password, from the sign-in form.
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	app.do(
		chromedp.Click(chromedp.ID("forgot-open")),
		chromedp.SetValue(chromedp.ID("forgot-email"), email),
		chromedp.Click(chromedp.ID("forgot-submit")),
	)
	app.waitJS(`!document.getElementById("forgot-status").hidden && document.getElementById("forgot-status").dataset.kind === "ok"` + idle)

	rm := mail.WaitFor(t, email, "Reset your", mailWait)
	reset := rm.Link()
	if !strings.HasPrefix(reset, base+spa.Prefix+"#/reset-password?token=") {
		t.Fatalf("reset link %q", reset)
	}
	app.navigate(reset)
	app.waitJS(`!document.getElementById("reset-form").hidden && document.body.dataset.state === "logged-out"` + idle)
	app.do(
		chromedp.SendKeys(chromedp.ID("reset-password"), newPassword),
		chromedp.Click(chromedp.ID("reset-submit")),
	)
	app.waitJS(`document.getElementById("link-view").dataset.result === "reset"` + idle)
	app.screenshot("reset")

	// The other device's session is gone; the new password signs in here.
	if code := srv.refreshCode(t, other.RefreshToken); code != "REFRESH_TOKEN_INVALID" {
		t.Errorf("the other device's session after a reset: refresh answered %q, want REFRESH_TOKEN_INVALID", code)
	}
	app.do(
		chromedp.SetValue(chromedp.ID("login-email"), email),
		chromedp.SendKeys(chromedp.ID("login-password"), newPassword),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
	app.waitJS(`document.getElementById("sessions-list").dataset.count === "1"` + idle)
	mail.WaitFor(t, email, "password was reset", mailWait)
}
