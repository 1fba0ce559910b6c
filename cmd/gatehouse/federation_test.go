package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// The relying party's public host: the providers send the browser there,
// and the test carries the callback to the instance's real listener.
const (
	fedPublicURL = "http://gatehouse.test"
	fedHost      = "gatehouse.test"
	fedAppURL    = "http://app.test/signed-in"
)

// fedWorld is an instance (or two) with three providers: "corp", a real
// OpenID provider (zitadel/oidc op); "bad", a provider that gets one ID
// token check wrong at a time; and "github", a fake GitHub.
type fedWorld struct {
	op  *oidctest.OP
	bad *oidctest.BadOP
	gh  *oidctest.FakeGitHub
	env map[string]string
}

// opUsers are the people at the corp provider, one per linking case.
var opUsers = []oidctest.User{
	{ID: "u-new-verified", Username: "new-verified", Password: "pw", Email: "new.verified@example.com", EmailVerified: true, FirstName: "New", LastName: "Verified"},
	{ID: "u-new-unverified", Username: "new-unverified", Password: "pw", Email: "new.unverified@example.com", FirstName: "New", LastName: "Unverified"},
	{ID: "u-both-verified", Username: "both-verified", Password: "pw", Email: "Both.Verified@Example.com", EmailVerified: true, FirstName: "Both", LastName: "Verified"},
	{ID: "u-provider-unverified", Username: "provider-unverified", Password: "pw", Email: "provider.unverified@example.com", FirstName: "P", LastName: "U"},
	{ID: "u-local-unverified", Username: "local-unverified", Password: "pw", Email: "local.unverified@example.com", EmailVerified: true, FirstName: "L", LastName: "U"},
	{ID: "u-neither", Username: "neither", Password: "pw", Email: "neither@example.com", FirstName: "N", LastName: "N"},
	{ID: "u-no-email", Username: "no-email", Password: "pw", FirstName: "No", LastName: "Email"},
	{ID: "u-disabled", Username: "disabled", Password: "pw", Email: "disabled@example.com", EmailVerified: true, FirstName: "D", LastName: "D"},
	{ID: "u-ada", Username: "ada", Password: "pw", Email: "ada@example.com", EmailVerified: true, FirstName: "Ada", LastName: "Lovelace"},
	{ID: "u-totp", Username: "totp", Password: "pw", Email: "totp@example.com", EmailVerified: true, FirstName: "T", LastName: "O"},
	{ID: "u-fleet", Username: "fleet", Password: "pw", Email: "fleet@example.com", EmailVerified: true, FirstName: "F", LastName: "L"},
}

func newFedWorld(t *testing.T, dbURL string) *fedWorld {
	t.Helper()
	clientID := "gatehouse-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	op := oidctest.StartOP(t, clientID, []string{fedPublicURL + "/auth/oauth/corp/callback"}, opUsers...)
	bad := oidctest.StartBadOP(t, "bad-client", "bad-secret")
	gh := oidctest.StartGitHub(t, "gh-client", "gh-secret", oidctest.GitHubUser{
		ID: 4242, Login: "ada-gh", Name: "Ada GH",
		Emails: []oidctest.GitHubEmail{{Email: "ada-gh@example.com", Primary: true, Verified: true}},
	})
	env := testEnv(dbURL)
	for k, v := range map[string]string{
		"PUBLIC_URL":                 fedPublicURL,
		"OAUTH_PROVIDERS":            "corp,bad,github",
		"OAUTH_REDIRECT_URLS":        "http://app.test/*",
		"OAUTH_CORP_ISSUER":          op.Issuer,
		"OAUTH_CORP_CLIENT_ID":       op.ClientID,
		"OAUTH_CORP_CLIENT_SECRET":   op.ClientSecret,
		"OAUTH_CORP_NAME":            "Corp SSO",
		"OAUTH_BAD_ISSUER":           bad.Issuer,
		"OAUTH_BAD_CLIENT_ID":        bad.ClientID,
		"OAUTH_BAD_CLIENT_SECRET":    bad.ClientSecret,
		"OAUTH_GITHUB_CLIENT_ID":     gh.ClientID,
		"OAUTH_GITHUB_CLIENT_SECRET": gh.ClientSecret,
		"OAUTH_GITHUB_URL":           gh.URL,
		"OAUTH_GITHUB_API_URL":       gh.APIURL,
	} {
		env[k] = v
	}
	return &fedWorld{op: op, bad: bad, gh: gh, env: env}
}

// pkce is an app's verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	sum := sha256.Sum256([]byte("verifier of " + seed))
	verifier = base64.RawURLEncoding.EncodeToString(sum[:]) // 43 characters
	c := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(c[:])
}

// noRedirects makes c stop at redirects, as the test walks them itself.
func noRedirects(c *client) *client {
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// pathOf is u's path and query, for the instance's own client.
func pathOf(t testing.TB, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.RequestURI()
}

// fedFlow is one trip of the app to a provider and back.
type fedFlow struct {
	authorizeLocation string // the provider's authorization URL
	callback          string // where the provider sent the browser back
	appLocation       string // where the service sent the browser back
	verifier          string
}

// fragment is the answer in the app's URL.
func (f fedFlow) fragment() url.Values { return oidctest.Fragment(f.appLocation) }

// begin asks the instance behind c for the provider's URL.
func begin(t *testing.T, c *client, provider, seed string) (fedFlow, string) {
	t.Helper()
	verifier, challenge := pkce(seed)
	r := c.do("GET", "/auth/oauth/"+provider+"/authorize?redirectTo="+url.QueryEscape(fedAppURL)+"&codeChallenge="+challenge, nil)
	expect(t, r, http.StatusFound, "")
	return fedFlow{authorizeLocation: r.Header.Get("Location"), verifier: verifier}, r.Header.Get("Location")
}

// finish brings the provider's callback to the instance behind c.
func finish(t *testing.T, c *client, f fedFlow) fedFlow {
	t.Helper()
	if oidctest.HostOf(f.callback) != fedHost {
		t.Fatalf("provider sent the browser to %s, not the callback", f.callback)
	}
	r := c.do("GET", pathOf(t, f.callback), nil)
	expect(t, r, http.StatusFound, "")
	f.appLocation = r.Header.Get("Location")
	if !strings.HasPrefix(f.appLocation, fedAppURL+"#") {
		t.Fatalf("sent back to %q", f.appLocation)
	}
	if r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("callback without Referrer-Policy: no-referrer")
	}
	return f
}

// corpSignIn signs username in at the corp provider, starting and finishing
// on c's instance.
func (w *fedWorld) corpSignIn(t *testing.T, c *client, username string) fedFlow {
	t.Helper()
	f, loc := begin(t, c, "corp", username)
	cb, err := w.op.SignIn(oidctest.NewBrowser(), loc, username, "pw", fedHost)
	if err != nil {
		t.Fatalf("sign in at the provider: %v", err)
	}
	f.callback = cb
	return finish(t, c, f)
}

// follow walks a provider that signs in without a form (bad, github).
func follow(t *testing.T, c *client, f fedFlow, loc string) fedFlow {
	t.Helper()
	cb, _, err := oidctest.NewBrowser().Follow(loc, fedHost)
	if err != nil {
		t.Fatal(err)
	}
	f.callback = cb
	return finish(t, c, f)
}

// exchange trades the app's code for a token pair (body transport).
func exchange(t *testing.T, c *client, f fedFlow) *response {
	t.Helper()
	return c.do("POST", "/auth/oauth/token", map[string]any{
		"code": f.fragment().Get("code"), "codeVerifier": f.verifier, "refreshTokenTransport": "body"})
}

// fedTokens exchanges f's app code on c and returns the tokens of the
// session it starts.
func fedTokens(t *testing.T, c *client, f fedFlow) tokenPair {
	t.Helper()
	r := exchange(t, c, f)
	expect(t, r, 200, "")
	var p tokenPair
	r.data(t, &p)
	return p
}

// corpSession signs username in through the corp provider on c, whose
// requests carry the new access token from then on, and returns the tokens.
func (w *fedWorld) corpSession(t *testing.T, c *client, username string) tokenPair {
	t.Helper()
	p := fedTokens(t, c, w.corpSignIn(t, c, username))
	c.bearer = p.AccessToken
	return p
}

// start starts an instance with the world's providers, with opts on top,
// and returns it with a client that stops at redirects (the flows follow
// them by hand).
func (w *fedWorld) start(t *testing.T, opts ...fx.Option) (*server, *client) {
	t.Helper()
	s := startServerWith(t, w.env, opts...)
	return s, noRedirects(s.client())
}

// redact hides secrets and one-time values in a URL for the report.
var redactParams = regexp.MustCompile(`((?:^|[?&#])(?:state|code|nonce|code_challenge|client_secret|id)=)[^&#]+`)

func redact(u string) string { return redactParams.ReplaceAllString(u, "${1}REDACTED") }

func TestFederatedSignInEndToEnd(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		var db *gorm.DB
		s, c := w.start(t, fx.Populate(&db))

		r := c.do("GET", "/auth/providers", nil)
		expect(t, r, 200, "")
		var list []struct{ ID, Name string }
		r.data(t, &list)
		if len(list) != 3 || list[0].ID != "corp" || list[0].Name != "Corp SSO" || list[2].ID != "github" {
			t.Fatalf("providers %+v", list)
		}

		f := w.corpSignIn(t, c, "ada")
		auth, _ := url.Parse(f.authorizeLocation)
		q := auth.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" ||
			q.Get("redirect_uri") != fedPublicURL+"/auth/oauth/corp/callback" || q.Get("client_id") != w.op.ClientID {
			t.Fatalf("authorization URL %s", f.authorizeLocation)
		}
		if q.Get("code_challenge") == f.verifier {
			t.Fatal("the app's verifier went to the provider")
		}
		code := f.fragment().Get("code")
		if code == "" || strings.Contains(f.appLocation, "?") {
			t.Fatalf("app location %s", f.appLocation)
		}
		t.Logf("1. app → GET /auth/oauth/corp/authorize → 302 %s", redact(f.authorizeLocation))
		t.Logf("2. provider's login form, then 302 %s", redact(f.callback))
		t.Logf("3. GET /auth/oauth/corp/callback → 302 %s", redact(f.appLocation))

		// A wrong verifier spends the code.
		bad := f
		bad.verifier, _ = pkce("someone else")
		expect(t, exchange(t, c, bad), 400, "OAUTH_FAILED")
		expect(t, exchange(t, c, f), 400, "OAUTH_FAILED")

		// A fresh flow; its code works once.
		f = w.corpSignIn(t, c, "ada")
		p := fedTokens(t, c, f)
		_, claims := decodeJWT(t, p.AccessToken)
		t.Logf("4. POST /auth/oauth/token → 200; access token claims: amr=%v idp=%v aal=%v fresh=%v sub=%v; user %s %q",
			claims["amr"], claims["idp"], claims["aal"], claims["fresh"], claims["sub"], p.User.Email, p.User.Name)
		aal, amr, fresh := claimsOf(t, p.AccessToken)
		if !slices.Equal(amr, []string{"fed"}) || claims["idp"] != "corp" || aal != "aal1" || !fresh {
			t.Fatalf("claims %v", claims)
		}
		if p.User.Email != "ada@example.com" || p.User.Name != "Ada Lovelace" {
			t.Fatalf("user %+v", p.User)
		}
		expect(t, exchange(t, c, f), 400, "OAUTH_FAILED") // used
		// The state is single use too: the provider's callback replayed.
		expect(t, c.do("GET", pathOf(t, f.callback), nil), 400, "OAUTH_FAILED")

		// A refreshed token keeps naming the provider.
		r = c.do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken})
		expect(t, r, 200, "")
		var rp tokenPair
		r.data(t, &rp)
		if _, rc := decodeJWT(t, rp.AccessToken); rc["idp"] != "corp" {
			t.Fatalf("refreshed claims %v", rc)
		}

		c.bearer = p.AccessToken
		r = c.do("GET", "/users/me", nil)
		expect(t, r, 200, "")
		var me struct {
			HasPassword   bool `json:"hasPassword"`
			EmailVerified bool `json:"emailVerified"`
		}
		r.data(t, &me)
		if me.HasPassword || !me.EmailVerified {
			t.Fatalf("me %s", r.Env.Data)
		}
		// No password: a login is refused exactly as a wrong password.
		_, lr := s.client().login("ada@example.com", "any password at all", "")
		expect(t, lr, 401, "INVALID_CREDENTIALS")

		r = c.do("GET", "/auth/identities", nil)
		expect(t, r, 200, "")
		var ids []struct{ ID, Provider, Email string }
		r.data(t, &ids)
		if len(ids) != 1 || ids[0].Provider != "corp" || ids[0].Email != "ada@example.com" {
			t.Fatalf("identities %+v", ids)
		}
		// Its only way in stays.
		expect(t, c.do("DELETE", "/auth/identities/"+ids[0].ID, nil), 409, "LAST_SIGN_IN_METHOD")

		r = c.do("GET", "/users/me/security-events", nil)
		expect(t, r, 200, "")
		var page struct {
			Items []struct{ Type, Method, Provider string }
		}
		r.data(t, &page)
		var sawLink, sawLogin bool
		for _, e := range page.Items {
			sawLink = sawLink || e.Type == "identity_linked" && e.Provider == "corp"
			sawLogin = sawLogin || e.Type == "login_succeeded" && e.Method == "oauth" && e.Provider == "corp"
		}
		if !sawLink || !sawLogin {
			t.Fatalf("events %+v", page.Items)
		}

		// Nothing of the provider's reached the app or the store readably.
		var stored int64
		db.Raw("SELECT count(*) FROM federation_flows").Scan(&stored)
		if stored != 0 {
			t.Errorf("%d flows left after their callbacks", stored)
		}
	})
}

func TestFederatedAuthorizeRefusals(t *testing.T) {
	w := newFedWorld(t, "sqlite::memory:")
	w.env["OAUTH_PROVIDERS"] = "corp,down"
	w.env["OAUTH_DOWN_ISSUER"] = "http://127.0.0.1:1"
	w.env["OAUTH_DOWN_CLIENT_ID"], w.env["OAUTH_DOWN_CLIENT_SECRET"] = "x", "y"
	_, c := w.start(t)
	_, challenge := pkce("x")
	for _, tc := range []struct {
		query  string
		status int
		code   string
		field  string
	}{
		{"codeChallenge=" + challenge, 400, "VALIDATION_FAILED", "redirectTo"},
		{"redirectTo=" + url.QueryEscape("https://evil.example.com/x") + "&codeChallenge=" + challenge, 400, "VALIDATION_FAILED", "redirectTo"},
		{"redirectTo=" + url.QueryEscape("http://app.test.evil.com/x") + "&codeChallenge=" + challenge, 400, "VALIDATION_FAILED", "redirectTo"},
		{"redirectTo=" + url.QueryEscape(fedAppURL+"#x") + "&codeChallenge=" + challenge, 400, "VALIDATION_FAILED", "redirectTo"},
		{"redirectTo=" + url.QueryEscape(fedAppURL), 400, "VALIDATION_FAILED", "codeChallenge"},
		{"redirectTo=" + url.QueryEscape(fedAppURL) + "&codeChallenge=short", 400, "VALIDATION_FAILED", "codeChallenge"},
	} {
		r := c.do("GET", "/auth/oauth/corp/authorize?"+tc.query, nil)
		expect(t, r, tc.status, tc.code)
		if r.Header.Get("Location") != "" || !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s", tc.query, r.Body)
		}
	}
	expect(t, c.do("GET", "/auth/oauth/nope/authorize?redirectTo="+url.QueryEscape(fedAppURL)+"&codeChallenge="+challenge, nil), 404, "NOT_FOUND")
	// A provider whose discovery cannot be read: 503, and the start was not stopped.
	expect(t, c.do("GET", "/auth/oauth/down/authorize?redirectTo="+url.QueryEscape(fedAppURL)+"&codeChallenge="+challenge, nil), 503, "SERVICE_UNAVAILABLE")
	// An unknown state: an envelope, no redirect.
	r := c.do("GET", "/auth/oauth/corp/callback?state=unknown&code=x", nil)
	expect(t, r, 400, "OAUTH_FAILED")
	expect(t, c.do("POST", "/auth/oauth/token", map[string]any{"code": "nope", "codeVerifier": strings.Repeat("a", 43)}), 400, "OAUTH_FAILED")
}

// TestFederatedProviderChecks runs every ID-token check against a provider
// that gets exactly that one wrong, with a correct control first so the
// harness itself is proven.
func TestFederatedProviderChecks(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		w.env["METRICS_ADDR"] = "127.0.0.1:0"
		s, ms := startServerWithMetrics(t, w.env)
		c := noRedirects(s.client())
		for _, tc := range []struct {
			defect oidctest.Defect
			want   string
		}{
			{oidctest.None, ""},
			{oidctest.WrongNonce, "OAUTH_FAILED"},
			{oidctest.WrongAudience, "OAUTH_FAILED"},
			{oidctest.WrongIssuer, "OAUTH_FAILED"},
			{oidctest.BadSignature, "OAUTH_FAILED"},
			{oidctest.Expired, "OAUTH_FAILED"},
			{oidctest.Denied, "OAUTH_DENIED"},
		} {
			w.bad.SetDefect(tc.defect)
			f, loc := begin(t, c, "bad", string(tc.defect))
			f = follow(t, c, f, loc)
			got := f.fragment()
			switch {
			case tc.want == "" && got.Get("code") == "":
				t.Errorf("control: %s", f.appLocation)
			case tc.want != "" && (got.Get("error") != tc.want || got.Get("code") != ""):
				t.Errorf("%s: got %s, want #error=%s", tc.defect, f.appLocation, tc.want)
			}
			if tc.want == "" {
				expect(t, exchange(t, c, f), 200, "")
			}
			t.Logf("%-15s → %s", cmp(string(tc.defect), "none (control)"), strings.TrimPrefix(f.appLocation, fedAppURL))
		}
		// The counter of federated sign-ins by provider and outcome.
		if miss := missing(scrapeMetrics(t, ms), []string{
			`gatehouse_federated_signins_total{outcome="success",provider="bad"} 1`,
			`gatehouse_federated_signins_total{outcome="failed",provider="bad"} 5`,
			`gatehouse_federated_signins_total{outcome="denied",provider="bad"} 1`,
		}); len(miss) > 0 {
			t.Errorf("metrics lack %v", miss)
		}
	})
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestFederatedLinkingDecisions is the linking rule end to end: each row a
// person at the corp provider and what the instance holds for the address.
func TestFederatedLinkingDecisions(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		var db *gorm.DB
		s, c := w.start(t, fx.Populate(&db))
		local := func(email string, verified bool) string {
			lc := s.client()
			p := lc.register(email, "a local password 1")
			if verified {
				if err := db.Exec("UPDATE users SET email_verified = ? WHERE id = ?", true, p.User.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
			return p.User.ID
		}
		localBoth := local("both.verified@example.com", true)
		local("provider.unverified@example.com", true)
		local("local.unverified@example.com", false)
		local("neither@example.com", false)

		rows := []struct {
			user, provider, local, want string
			sameAccount                 string
		}{
			{"new-verified", "verified", "none", "sign up", ""},
			{"new-unverified", "unverified", "none", "sign up", ""},
			{"both-verified", "verified", "verified (case differs)", "link and sign in", localBoth},
			{"provider-unverified", "unverified", "verified", "OAUTH_ACCOUNT_EXISTS", ""},
			{"local-unverified", "verified", "unverified", "OAUTH_ACCOUNT_EXISTS", ""},
			{"neither", "unverified", "unverified", "OAUTH_ACCOUNT_EXISTS", ""},
			{"no-email", "no address", "-", "OAUTH_EMAIL_REQUIRED", ""},
			{"both-verified", "verified", "linked already", "sign in", localBoth},
		}
		t.Logf("| provider's user | provider asserts | local account | decision |")
		for _, row := range rows {
			f := w.corpSignIn(t, c, row.user)
			got := f.fragment()
			decision := "OAUTH_" + strings.TrimPrefix(got.Get("error"), "OAUTH_")
			if got.Get("code") != "" {
				p := fedTokens(t, c, f)
				switch {
				case row.sameAccount != "" && p.User.ID != row.sameAccount:
					t.Errorf("%s: signed in to %s, want the existing %s", row.user, p.User.ID, row.sameAccount)
				case row.sameAccount != "":
					decision = map[bool]string{true: "sign in", false: "link and sign in"}[row.local == "linked already"]
				default:
					decision = "sign up"
					var verified bool
					db.Raw("SELECT email_verified FROM users WHERE id = ?", p.User.ID).Scan(&verified)
					if verified != (row.provider == "verified") {
						t.Errorf("%s: new account emailVerified=%v", row.user, verified)
					}
				}
			}
			if decision != row.want {
				t.Errorf("%s: got %s (%s), want %s", row.user, decision, f.appLocation, row.want)
			}
			t.Logf("| %s | %s | %s | %s |", row.user, row.provider, row.local, decision)
		}
		// A disabled account: its linked identity signs in to nothing.
		f := w.corpSignIn(t, c, "disabled")
		p := fedTokens(t, c, f)
		if err := db.Exec("UPDATE users SET disabled = ? WHERE id = ?", true, p.User.ID).Error; err != nil {
			t.Fatal(err)
		}
		f = w.corpSignIn(t, c, "disabled")
		if got := f.fragment().Get("error"); got != "USER_DISABLED" {
			t.Fatalf("disabled account: %s", f.appLocation)
		}
		t.Logf("| disabled | verified | linked, disabled | USER_DISABLED |")
	})
}

func TestFederatedGitHubLinkAndUnlink(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		s, c := w.start(t)
		p := w.corpSession(t, c, "ada")

		// Link GitHub from settings.
		expect(t, c.do("POST", "/auth/identities/github", map[string]any{"redirectTo": "https://evil.example.com/"}), 400, "VALIDATION_FAILED")
		expect(t, c.do("POST", "/auth/identities/nope", map[string]any{"redirectTo": fedAppURL}), 404, "NOT_FOUND")
		r := c.do("POST", "/auth/identities/github", map[string]any{"redirectTo": fedAppURL})
		expect(t, r, 200, "")
		var link struct {
			AuthorizationURL string `json:"authorizationUrl"`
		}
		r.data(t, &link)
		lf := follow(t, c, fedFlow{}, link.AuthorizationURL)
		if lf.fragment().Get("linked") != "github" {
			t.Fatalf("link: %s", lf.appLocation)
		}
		r = c.do("GET", "/auth/identities", nil)
		var ids []struct{ ID, Provider, Email string }
		r.data(t, &ids)
		if len(ids) != 2 || ids[1].Provider != "github" || ids[1].Email != "ada-gh@example.com" {
			t.Fatalf("identities %+v", ids)
		}

		// GitHub now signs in to the same account.
		gf, loc := begin(t, c, "github", "gh")
		gp := fedTokens(t, c, follow(t, c, gf, loc))
		if _, gc := decodeJWT(t, gp.AccessToken); gp.User.ID != p.User.ID || gc["idp"] != "github" {
			t.Fatalf("github sign-in: %s %v", gp.User.ID, gc)
		}

		// Another account cannot take the GitHub identity.
		other := noRedirects(s.client())
		other.register("other@example.com", "other password 12")
		r = other.do("POST", "/auth/identities/github", map[string]any{"redirectTo": fedAppURL})
		expect(t, r, 200, "")
		r.data(t, &link)
		of := follow(t, other, fedFlow{}, link.AuthorizationURL)
		if of.fragment().Get("error") != "OAUTH_IDENTITY_TAKEN" {
			t.Fatalf("taken identity: %s", of.appLocation)
		}

		// Unlink one; the last one stays.
		expect(t, c.do("DELETE", "/auth/identities/"+ids[0].ID, nil), 200, "")
		expect(t, other.do("DELETE", "/auth/identities/"+ids[1].ID, nil), 404, "NOT_FOUND")
		expect(t, c.do("DELETE", "/auth/identities/"+ids[1].ID, nil), 409, "LAST_SIGN_IN_METHOD")

		// With a passkey the identity may go; then the passkey is the last way in.
		key := newSoftAuthenticator(t, fedPublicURL, fedHost)
		r = c.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "Soft key"})
		expect(t, r, 200, "")
		r = c.do("POST", "/auth/passkeys/registration", map[string]any{"credential": key.create(r.Env.Data)})
		expect(t, r, 201, "")
		var pk struct{ ID string }
		r.data(t, &pk)
		expect(t, c.do("DELETE", "/auth/identities/"+ids[1].ID, nil), 200, "")
		expect(t, c.do("DELETE", "/auth/passkeys/"+pk.ID, nil), 409, "LAST_SIGN_IN_METHOD")
		r = c.do("GET", "/auth/passkeys", nil)
		var keys []struct{ ID string }
		r.data(t, &keys)
		if len(keys) != 1 {
			t.Fatalf("the refused delete removed the passkey: %s", r.Env.Data)
		}
		// Re-link GitHub for what follows.
		r = c.do("POST", "/auth/identities/github", map[string]any{"redirectTo": fedAppURL})
		expect(t, r, 200, "")
		r.data(t, &link)
		if lf := follow(t, c, fedFlow{}, link.AuthorizationURL); lf.fragment().Get("linked") != "github" {
			t.Fatalf("relink: %s", lf.appLocation)
		}

		// A GitHub primary address GitHub did not verify links nothing.
		w.gh.SetUser(oidctest.GitHubUser{ID: 777, Login: "mallory", Emails: []oidctest.GitHubEmail{
			{Email: "other@example.com", Primary: true, Verified: false}}})
		mf, loc := begin(t, c, "github", "mallory")
		mf = follow(t, c, mf, loc)
		if mf.fragment().Get("error") != "OAUTH_ACCOUNT_EXISTS" {
			t.Fatalf("unverified GitHub address: %s", mf.appLocation)
		}
	})
}

// TestFederatedTOTPStillApplies: a provider is one factor; an account with
// TOTP gets the mfaRequired answer, and the code finishes it at aal2.
func TestFederatedTOTPStillApplies(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		_, c := w.start(t)
		p := w.corpSession(t, c, "totp")
		secret, _ := enableTOTP(t, c)

		// Linking now needs aal2: this token is aal1.
		expect(t, c.do("POST", "/auth/identities/github", map[string]any{"redirectTo": fedAppURL}), 403, "FRESH_AUTH_REQUIRED")

		r := exchange(t, c, w.corpSignIn(t, c, "totp"))
		expect(t, r, 200, "")
		var m mfaRequired
		r.data(t, &m)
		if !m.MFARequired || m.MFAToken == "" || strings.Contains(string(r.Env.Data), "accessToken") {
			t.Fatalf("answer %s", r.Env.Data)
		}
		r = c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": totpCode(t, secret, 0)})
		expect(t, r, 200, "")
		r.data(t, &p)
		_, claims := decodeJWT(t, p.AccessToken)
		aal, amr, _ := claimsOf(t, p.AccessToken)
		if aal != "aal2" || !slices.Equal(amr, []string{"fed", "otp", "mfa"}) || claims["idp"] != "corp" {
			t.Fatalf("claims %v", claims)
		}
	})
}

// TestFederatedStateAcrossInstances: a flow begun on one instance finishes
// on another, and the code is exchanged on the first.
func TestFederatedStateAcrossInstances(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		w := newFedWorld(t, dbURL(t))
		a := startServer(t, w.env)
		b := startServer(t, w.env)
		ca, cb := noRedirects(a.client()), noRedirects(b.client())
		f, loc := begin(t, ca, "corp", "fleet")
		next, err := w.op.SignIn(oidctest.NewBrowser(), loc, "fleet", "pw", fedHost)
		if err != nil {
			t.Fatal(err)
		}
		f.callback = next
		f = finish(t, cb, f)
		if p := fedTokens(t, ca, f); p.User.Email != "fleet@example.com" {
			t.Fatalf("user %+v", p.User)
		}
		// And the state is spent on both.
		expect(t, ca.do("GET", pathOf(t, f.callback), nil), 400, "OAUTH_FAILED")
	})
}

// TestFederatedRequireVerification: with REQUIRE_EMAIL_VERIFICATION, an
// account the provider made with an unverified address cannot sign in.
func TestFederatedRequireVerification(t *testing.T) {
	w := newFedWorld(t, "sqlite::memory:")
	w.env["REQUIRE_EMAIL_VERIFICATION"], w.env["MAIL_URL"], w.env["EXAMPLE_APP_ENABLED"] = "true", "log:", "true"
	_, c := w.start(t)
	expect(t, exchange(t, c, w.corpSignIn(t, c, "new-unverified")), 403, "EMAIL_NOT_VERIFIED")
	expect(t, exchange(t, c, w.corpSignIn(t, c, "new-verified")), 200, "")
}
