package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/examples/spa"
)

// totpAt is the code an authenticator app shows for secret at now+offset.
func totpAt(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(offset), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExampleAppSecondFactors drives the security settings of the example app
// in Chromium: TOTP enrolment from the QR page (the code computed from the
// secret the page shows), recovery codes downloaded, a passkey added through
// a step-up that asks for the code, a sign-in with password and code, and a
// passwordless sign-in with the passkey, on a virtual authenticator (CDP's
// WebAuthn domain: resident keys, user verification).
//
// WebAuthn needs a domain as relying party ID (an IP address is refused), so
// the page is opened at http://localhost, a secure context without TLS.
func TestExampleAppSecondFactors(t *testing.T) {
	requireBrowser(t)
	port := freePort(t)
	origin := fmt.Sprintf("http://localhost:%d", port)
	// Tokens outlive the test: step-ups here are the ones the factors call for.
	srv := startServer(t, port, map[string]string{"PUBLIC_URL": origin, "ACCESS_TOKEN_TTL": "10m"})
	appURL := origin + spa.Prefix
	b := newBrowser(t)
	app := newTab(t, b, "security")

	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(app.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(app.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	auth, err := chromedp.Call(app.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	email := uniqueEmail("mfa")
	app.signIn(appURL, "register-submit", email, password)

	// Enrol TOTP: the page shows the QR code and the key; the "phone" is this
	// test, computing codes from the key the page shows.
	app.do(chromedp.Click(chromedp.ID("totp-enroll")))
	app.waitJS(`!document.getElementById("totp-form").hidden && document.getElementById("totp-secret").textContent !== ""` + idle)
	secret := eval[string](app, `document.getElementById("totp-secret").textContent`)
	qrLoaded := eval[bool](app, `(async () => { const img = document.getElementById("totp-qr"); await img.decode(); return img.src.startsWith("data:image/png;base64,") && img.naturalWidth > 0; })()`)
	if !qrLoaded {
		t.Fatal("the QR code image did not load")
	}
	app.do(
		chromedp.SendKeys(chromedp.ID("totp-code"), totpAt(t, secret, -30*time.Second)),
		chromedp.Click(chromedp.ID("totp-confirm")),
	)
	app.waitJS(`!document.getElementById("codes-view").hidden && document.querySelectorAll("#codes-list li").length === 10` + idle)
	codes := eval[[]string](app, `[...document.querySelectorAll("#codes-list li")].map((li) => li.textContent)`)
	app.do(chromedp.Click(chromedp.ID("codes-download")))
	waitFile(t, filepath.Join(downloads, "gatehouse-recovery-codes.txt"), codes[0], codes[9])
	app.screenshot("recovery-codes")

	// Add a passkey. TOTP is on and this session never proved it (aal1), so the
	// service answers FRESH_AUTH_REQUIRED with acr_values="aal2"; the app asks for
	// the password and a code, reauthenticates, and retries.
	app.do(chromedp.Click(chromedp.ID("passkey-add")))
	app.do(
		chromedp.WaitVisible(chromedp.ID("reauth-password")),
		chromedp.SendKeys(chromedp.ID("reauth-password"), password),
		chromedp.SendKeys(chromedp.ID("reauth-code"), totpAt(t, secret, 0)),
		chromedp.Click(chromedp.ID("reauth-submit")),
	)
	app.waitJS(`document.getElementById("passkeys-list").dataset.count === "1"` + idle)
	creds, err := chromedp.Call(app.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams(auth))
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("authenticator holds %+v; want one resident credential for localhost", creds.Credentials)
	}

	// Sign out, and in again with the password and a code.
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	eval[string](app, `document.getElementById("login-email").value = ""`)
	app.submitCredentials("login-submit", email, password)
	app.waitJS(`!document.getElementById("mfa-form").hidden` + idle)
	if eval[string](app, `document.body.dataset.state`) != "logged-out" {
		t.Fatal("signed in before the second factor")
	}
	app.do(
		chromedp.SendKeys(chromedp.ID("mfa-code"), totpAt(t, secret, 30*time.Second)),
		chromedp.Click(chromedp.ID("mfa-submit")),
	)
	app.waitJS(`document.body.dataset.state === "logged-in"` + idle)

	// Sign out, and in with the passkey alone: no email, no password.
	app.do(chromedp.Click(chromedp.ID("logout")))
	app.waitJS(`document.body.dataset.state === "logged-out"` + idle)
	app.do(chromedp.Click(chromedp.ID("passkey-login")))
	app.waitJS(`document.body.dataset.state === "logged-in" && document.getElementById("passkeys-list").dataset.count === "1"` + idle)
	if got := eval[string](app, `document.getElementById("user-email").textContent`); got != email {
		t.Fatalf("passkey signed in %q, want %q", got, email)
	}
	if used := eval[string](app, `document.querySelector('[data-testid="passkey"]').textContent`); !strings.Contains(used, "last used") {
		t.Errorf("the passkey's last use was not recorded: %q", used)
	}
	creds, _ = chromedp.Call(app.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams(auth))
	if len(creds.Credentials) != 1 || creds.Credentials[0].SignCount < 2 {
		t.Errorf("sign counter after registration and a login: %+v", creds.Credentials)
	}

	// A passkey session is aal2: changing factors needs no further step-up.
	app.do(chromedp.Click(chromedp.ID("codes-regenerate")))
	app.waitJS(`window.gatehouseExample.stats["codes-regenerated"] === 1` + idle)
	if n := eval[int](app, `window.gatehouseExample.stats["fresh-auth-required"] || 0`); n != 1 {
		t.Errorf("%d step-ups; want only the one before the passkey existed", n)
	}
	events := eval[string](app, `window.gatehouseExample.api("GET", "/users/me/security-events?limit=100").then((p) => p.items.map((e) => e.type).join(","))`)
	for _, want := range []string{"mfa_enabled", "passkey_added", "recovery_codes_regenerated"} {
		if !strings.Contains(events, want) {
			t.Errorf("security events %s lack %s", events, want)
		}
	}
	_ = srv
}

// waitFile waits until path exists and holds every string of want.
func waitFile(t *testing.T, path string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			for _, w := range want {
				if !strings.Contains(string(data), w) {
					t.Fatalf("%s lacks %q:\n%s", path, w, data)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no download at %s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
