package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// sixDigits is the code on a line of its own in the mail's text part.
var sixDigits = regexp.MustCompile(`(?m)^(\d{6})\s*$`)

// newestCode waits for the n-th sign-in code mail to email and returns it
// with its code.
func newestCode(t *testing.T, mail *smtptest.Server, email string, n int) (smtptest.Parsed, string) {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for codeMails(t, mail, email) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no sign-in code mail number %d to %s within %s", n, email, mailWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := mail.WaitFor(t, email, "sign-in code", mailWait)
	c := sixDigits.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no code in the mail:\n%s", m.Text)
	}
	return m, c[1]
}

// codeMails counts the sign-in code mails to email.
func codeMails(t *testing.T, mail *smtptest.Server, email string) int {
	t.Helper()
	n := 0
	for _, raw := range mail.Messages() {
		p, err := smtptest.Parse(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.Subject, "sign-in code") && slices.Contains(raw.To, email) {
			n++
		}
	}
	return n
}

// TestExampleAppEmailCode signs in in a real browser with a code read from
// the SMTP test server: "Sign in with a code" in the example app, the code
// typed in, signed in with the address verified; then, signed out, the link
// of a second mail opened in the tab signs in too, once.
func TestExampleAppEmailCode(t *testing.T) {
	requireBrowser(t)
	srv, mail := startWithMail(t)
	base := srv.URL
	email := uniqueEmail("code")
	srv.register(t, email, password)
	mail.WaitFor(t, email, "Confirm your email address", mailWait)

	app := newTab(t, newBrowser(t), "code")
	app.navigate(srv.URL + spa.Prefix)
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	app.do(
		chromedp.Click(chromedp.ID("code-open")),
		chromedp.SetValue(chromedp.ID("code-email"), email),
		chromedp.Click(chromedp.ID("code-send")),
	)
	app.waitJS(`!document.getElementById("code-status").hidden && document.getElementById("code-status").dataset.kind === "ok"` + idle)

	m, code := newestCode(t, mail, email, 1)
	if !strings.HasPrefix(m.Link(), base+spa.Prefix+"#/email-code?token=") {
		t.Fatalf("sign-in link %q does not lead to the example app on %s", m.Link(), base)
	}
	app.do(
		chromedp.SendKeys(chromedp.ID("code-value"), code),
		chromedp.Click(chromedp.ID("code-submit")),
	)
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
	if got := eval[string](app, `document.getElementById("user-email").textContent`); got != email {
		t.Fatalf("signed in as %q, want %q", got, email)
	}
	app.waitJS(`document.getElementById("user-verified").dataset.verified === "true"` + idle)
	app.screenshot("signed-in-with-code")

	// Signed out, the link of a new mail signs in; opened again, it fails.
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	app.do(
		chromedp.Click(chromedp.ID("code-open")),
		chromedp.SetValue(chromedp.ID("code-email"), email),
		chromedp.Click(chromedp.ID("code-send")),
	)
	m, _ = newestCode(t, mail, email, 2)
	link := m.Link()
	app.navigate(link)
	app.waitJS(`document.getElementById("link-view").dataset.result === "signed-in"` + idle)
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)
	if href := eval[string](app, `location.href`); strings.Contains(href, "token=") {
		t.Errorf("the token stays in the address bar: %s", href)
	}
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	app.navigate(link)
	app.waitJS(`document.getElementById("link-view").dataset.result === "failed"` + idle)
}
