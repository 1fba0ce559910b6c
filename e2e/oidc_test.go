package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/examples/spa"
)

// relyingParty is a small web app that offers "Sign in with Gatehouse": /login
// sends the browser to the provider, /callback exchanges the code, checks the
// ID token and shows the user's name from userinfo.
type relyingParty struct {
	t        *testing.T
	provider *oidc.Provider
	conf     oauth2.Config
	mu       sync.Mutex
	state    string
	nonce    string
	verifier string
}

func (rp *relyingParty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.URL.Path {
	case "/login":
		rp.mu.Lock()
		rp.state, rp.nonce, rp.verifier = uniqueEmail("s"), uniqueEmail("n"), oauth2.GenerateVerifier()
		u := rp.conf.AuthCodeURL(rp.state, oidc.Nonce(rp.nonce), oauth2.S256ChallengeOption(rp.verifier))
		rp.mu.Unlock()
		http.Redirect(w, r, u, http.StatusFound)
	case "/callback":
		rp.mu.Lock()
		state, nonce, verifier := rp.state, rp.nonce, rp.verifier
		rp.mu.Unlock()
		if r.URL.Query().Get("state") != state {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		tok, err := rp.conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.provider.Verifier(&oidc.Config{ClientID: rp.conf.ClientID}).Verify(ctx, raw)
		if err != nil || idt.Nonce != nonce {
			http.Error(w, fmt.Sprintf("ID token: %v", err), http.StatusBadGateway)
			return
		}
		info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			http.Error(w, "userinfo: "+err.Error(), http.StatusBadGateway)
			return
		}
		var claims struct {
			Name string   `json:"name"`
			AMR  []string `json:"amr"`
		}
		_ = info.Claims(&claims)
		var idClaims struct {
			AMR []string `json:"amr"`
		}
		_ = idt.Claims(&idClaims)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>Wiki</title><p>Signed in as <span id="name">%s</span> (<span id="email">%s</span>, amr <span id="amr">%s</span>)</p>`,
			html.EscapeString(claims.Name), html.EscapeString(info.Email), html.EscapeString(strings.Join(idClaims.AMR, " ")))
	default:
		http.NotFound(w, r)
	}
}

// TestSignInWithGatehouse: a relying party in the test starts the flow, the
// example app's authorize page signs the user in with a password and a TOTP
// code and asks for consent, and the relying party shows the user's name
// from userinfo.
func TestSignInWithGatehouse(t *testing.T) {
	requireBrowser(t)
	port := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	db := "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")
	srv := startServer(t, port, map[string]string{"PUBLIC_URL": issuer, "ACCESS_TOKEN_TTL": "10m", "DATABASE_URL": db})

	// The relying party listens before it is registered: its redirect URI
	// names its port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpURL := "http://" + ln.Addr().String()
	cmd := exec.Command(gatehouseBin, "clients", "create", "--name", "Wiki", "--redirect-uri", rpURL+"/callback")
	cmd.Env = []string{"CONFIG_FILE=/dev/null", "DATABASE_URL=" + db, "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients create: %v %s", err, out)
	}
	var client struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal(out, &client); err != nil {
		t.Fatalf("clients create printed %q", out)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := &relyingParty{t: t, provider: provider, conf: oauth2.Config{
		ClientID: client.ClientID, ClientSecret: client.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: rpURL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}}
	hs := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	// The user has an account with TOTP on (set up through the API).
	email := uniqueEmail("oidc")
	p := srv.register(t, email, password)
	status, env := srv.call(t, http.MethodPost, "/auth/mfa/totp", nil, p.AccessToken)
	if status != 200 {
		t.Fatalf("enrol TOTP: %d %s", status, env.Code())
	}
	var enrol struct {
		Secret string `json:"secret"`
	}
	_ = json.Unmarshal(env.Data, &enrol)
	if status, env := srv.call(t, http.MethodPost, "/auth/mfa/totp/confirm", map[string]any{"code": totpAt(t, enrol.Secret, -30*time.Second)}, p.AccessToken); status != 200 {
		t.Fatalf("confirm TOTP: %d %s", status, env.Code())
	}

	b := newBrowser(t)
	app := newTab(t, b, "oidc")
	app.navigate(rpURL + "/login")
	// The provider sent the browser to the example app's authorize page.
	app.waitJS(`location.pathname === "` + spa.Prefix + `" && location.hash.startsWith("#/authorize?request=") && document.body.dataset.state === "logged-out"`)
	app.submitCredentials("login-submit", email, password)
	app.waitJS(`!document.getElementById("mfa-form").hidden` + idle)
	app.do(
		chromedp.SendKeys(chromedp.ID("mfa-code"), totpAt(t, enrol.Secret, 30*time.Second)),
		chromedp.Click(chromedp.ID("mfa-submit")),
	)
	app.waitJS(`document.getElementById("authorize-view").dataset.step === "consent"` + idle)
	if got := eval[string](app, `document.getElementById("authorize-client").textContent`); got != "Wiki" {
		t.Errorf("consent screen names %q", got)
	}
	if n := eval[int](app, `document.querySelectorAll("#authorize-scopes li").length`); n != 3 {
		t.Errorf("consent screen lists %d scopes, want 3", n)
	}
	app.screenshot("consent")
	app.do(chromedp.Click(chromedp.ID("authorize-allow")))

	// Back at the relying party, which shows the user's name from userinfo.
	// (WaitVisible follows the navigation; a polled expression would be cut
	// off by it.)
	app.do(chromedp.WaitVisible(chromedp.ID("name")))
	if got := eval[string](app, `location.origin`); got != rpURL {
		t.Fatalf("the browser ended at %s", got)
	}
	if got := eval[string](app, `document.getElementById("name").textContent`); got != "Ada Lovelace" {
		t.Fatalf("the relying party shows %q: %s", got, eval[string](app, `document.body.textContent`))
	}
	if amr := eval[string](app, `document.getElementById("amr").textContent`); !strings.Contains(amr, "otp") {
		t.Errorf("ID token amr %q lacks otp", amr)
	}
	app.screenshot("relying-party")
}
