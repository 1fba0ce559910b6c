package httpadapter

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

const creds = `{"email":"ada@example.com","password":"correct horse"}`

// mfaTok is a pending second-factor token of the contract's 43 characters.
var mfaTok = strings.Repeat("m", 43)

// A credential exchange answers the pair in the envelope, the refresh token
// in the cookie or the body (never both), the device proof in its cookie,
// and never lets a cache keep it.
func TestCredentialExchanges(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		opts                     []reqOpt
		status                   int
		refreshInBody            bool
		refreshCookie            string
		// noDevice: a refresh starts no session, so proves no device.
		noDevice bool
	}{
		{"register cookie", http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`, nil, 201, false, refreshToken("new"), false},
		{"register body", http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"correct horse","refreshTokenTransport":"body"}`, nil, 201, true, "", false},
		{"login cookie", http.MethodPost, "/auth/login", creds, nil, 200, false, refreshToken("login"), false},
		{"login body", http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"x","refreshTokenTransport":"body"}`, nil, 200, true, "", false},
		{"refresh body", http.MethodPost, "/auth/refresh", `{"refreshToken":"rt-1"}`, nil, 200, true, "", true},
		{"refresh cookie", http.MethodPost, "/auth/refresh", "", []reqOpt{withCookie(refreshCookieName, "rt-1")}, 200, false, refreshToken("rotated"), true},
		{"mfa verify", http.MethodPost, "/auth/mfa/verify", `{"mfaToken":"m1","code":"123456"}`, nil, 200, false, refreshToken("mfa"), false},
		{"mfa verify recovery code body", http.MethodPost, "/auth/mfa/verify", `{"mfaToken":"m1","recoveryCode":"abcd-efgh","refreshTokenTransport":"body"}`, nil, 200, true, "", false},
		{"passkey login", http.MethodPost, "/auth/passkeys/login", `{"challengeId":"c1","credential":{"id":"x"}}`, nil, 200, false, refreshToken("passkey"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			r := s.do(tc.method, tc.path, tc.body, tc.opts...)
			if r.Code != tc.status || !r.Env.Success {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			pair := dataOf[tokenPairDTO](t, r)
			if pair.AccessToken == "" || pair.TokenType != "Bearer" || pair.ExpiresIn != 900 || pair.User.ID != testUserID || pair.Session.ID != testSessionID {
				t.Errorf("pair %+v", pair)
			}
			if (pair.RefreshToken != "") != tc.refreshInBody {
				t.Errorf("refresh token in body %q, want in body %v", pair.RefreshToken, tc.refreshInBody)
			}
			ck := r.cookie(refreshCookieName)
			switch {
			case tc.refreshCookie == "" && ck != nil:
				t.Errorf("refresh cookie set with body transport: %v", ck)
			case tc.refreshCookie != "":
				if ck == nil || ck.Value != tc.refreshCookie || !ck.HttpOnly || !ck.Secure || ck.Path != "/auth" ||
					ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != 7*24*3600 {
					t.Errorf("refresh cookie %+v", ck)
				}
			}
			dev := r.cookie(deviceCookieName)
			if tc.noDevice && dev != nil {
				t.Errorf("device cookie on a refresh: %+v", dev)
			}
			if !tc.noDevice && (dev == nil || dev.Value != "device-proof" || !dev.HttpOnly || dev.Path != "/auth" || dev.MaxAge < 300*24*3600) {
				t.Errorf("device cookie %+v", dev)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

// The handlers hand the use cases what the client sent: the credentials,
// the matched mail language, the client's address and agent, and the
// device proofs of its cookies.
func TestCredentialInputReachesTheUseCase(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`,
		header("Accept-Language", "de-CH, en;q=0.5"), header("User-Agent", "probe/1"),
		withCookie(deviceCookieName, "d1"), withCookie(deviceCookieName, "d2"))
	if r.Code != 201 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	in, m := s.auth.lastRegister, s.auth.lastMeta
	if in.Email != "ada@example.com" || in.Password != "correct horse" || in.Name != "Ada" || in.Locale != "de" {
		t.Errorf("input %+v", in)
	}
	if m.IP == "" || m.UserAgent != "probe/1" || !slices.Equal(m.Devices, []string{"d1", "d2"}) {
		t.Errorf("meta %+v", m)
	}

	s.do(http.MethodPost, "/auth/reauthenticate", `{"password":"pw","code":"123456"}`, bearer(tokStale))
	if got := s.auth.lastReauth; got.Password != "pw" || got.Code != "123456" || got.RecoveryCode != "" {
		t.Errorf("reauth input %+v", got)
	}
}

// With verification required, registration answers 202 with no tokens and
// no cookie; the pending registration's own refusals still reach the client.
func TestRegisterPending(t *testing.T) {
	s := newTestServer(t)
	s.auth.verificationRequired = true
	r := s.do(http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"correct horse"}`)
	if r.Code != http.StatusAccepted || string(r.Env.Data) != "null" || r.cookie(refreshCookieName) != nil {
		t.Errorf("%d %s cookie %v", r.Code, r.Body, r.cookie(refreshCookieName))
	}
	if !slices.Equal(s.calls.names(), []string{"RegisterPending"}) {
		t.Errorf("calls %v", s.calls.names())
	}
	s.auth.err = &user.ValidationError{Fields: []user.FieldError{{Field: "password", Message: "is too common"}}}
	r = s.do(http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"password1"}`)
	if r.Code != 400 || !r.detail("password") {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}

// A login that needs the second factor answers the mfaToken only: no
// access token, no session, no cookie.
func TestLoginStopsAtSecondFactor(t *testing.T) {
	s := newTestServer(t)
	s.auth.mfa = &authn.MFAChallenge{Token: mfaTok, Methods: []string{"totp", "recovery_code"}, ExpiresAt: testNow.Add(5 * time.Minute)}
	r := s.do(http.MethodPost, "/auth/login", creds)
	if r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	got := dataOf[mfaRequiredDTO](t, r)
	if !got.MFARequired || got.MFAToken != mfaTok || !slices.Equal(got.Methods, []string{"totp", "recovery_code"}) {
		t.Errorf("data %+v", got)
	}
	if strings.Contains(string(r.Body), "accessToken") || r.cookie(refreshCookieName) != nil || r.cookie(deviceCookieName) != nil {
		t.Errorf("tokens or cookies before the second factor: %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
}

// Bad input is a 400 (or 415) naming the problem, and never reaches the
// use case.
func TestAuthRoutesRejectBadInput(t *testing.T) {
	cases := []struct {
		name, path, body string
		opts             []reqOpt
		code             string
		field            string
	}{
		{"register missing fields", "/auth/register", `{}`, nil, CodeValidationFailed, "email"},
		{"register short password", "/auth/register", `{"email":"a@b.co","password":"short"}`, nil, CodeValidationFailed, "password"},
		{"register unknown field", "/auth/register", `{"email":"a@b.co","password":"correct horse","admin":true}`, nil, CodeValidationFailed, "admin"},
		{"register bad transport", "/auth/register", `{"email":"a@b.co","password":"correct horse","refreshTokenTransport":"header"}`, nil, CodeValidationFailed, "refreshTokenTransport"},
		{"register NUL in name", "/auth/register", `{"email":"a@b.co","password":"correct horse","name":"A\u0000da"}`, nil, CodeValidationFailed, "name"},
		{"login wrong type", "/auth/login", `{"email":1,"password":"x"}`, nil, CodeMalformedJSON, ""},
		{"login not JSON", "/auth/login", `{"email":`, nil, CodeMalformedJSON, ""},
		{"login trailing data", "/auth/login", creds + ` {}`, nil, CodeMalformedJSON, ""},
		{"login array", "/auth/login", `[]`, nil, CodeMalformedJSON, ""},
		{"login password too long", "/auth/login", `{"email":"a@b.co","password":"` + strings.Repeat("x", 129) + `"}`, nil, CodeValidationFailed, "password"},
		{"refresh empty token", "/auth/refresh", `{"refreshToken":""}`, nil, CodeValidationFailed, "refreshToken"},
		{"mfa code and recovery code", "/auth/mfa/verify", `{"mfaToken":"m","code":"1","recoveryCode":"2"}`, nil, CodeValidationFailed, "code"},
		{"mfa neither code", "/auth/mfa/verify", `{"mfaToken":"m"}`, nil, CodeValidationFailed, "code"},
		{"passkey credential not an object", "/auth/passkeys/login", `{"challengeId":"c","credential":"abc"}`, nil, CodeValidationFailed, "credential"},
		{"passkey options with a body field", "/auth/passkeys/login/options", `{"x":1}`, nil, CodeValidationFailed, "x"},
		{"reauthenticate code and recovery code", "/auth/reauthenticate", `{"password":"p","code":"1","recoveryCode":"2"}`, []reqOpt{bearer(tokFresh)}, CodeValidationFailed, "code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			r := s.do(http.MethodPost, tc.path, tc.body, tc.opts...)
			if r.Code != 400 || r.errCode() != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if tc.field != "" && !r.detail(tc.field) {
				t.Errorf("no detail for %s: %s", tc.field, r.Body)
			}
			// Every answer of the API routes is private, errors included.
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			if n := s.calls.names(); len(n) != 0 {
				t.Errorf("use case called: %v", n)
			}
		})
	}
}

// The body's framing: a non-JSON content type is 415, a body past the limit
// 413 (even when Content-Length lies), invalid UTF-8 400.
func TestBodyFraming(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodPost, "/auth/login", creds, header("Content-Type", "text/plain"))
	if r.Code != http.StatusUnsupportedMediaType || r.errCode() != CodeUnsupportedMediaType {
		t.Errorf("text/plain: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/login", creds, func(req *http.Request) { req.Header.Set("Content-Type", "application/json; charset=latin1") })
	if r.Code != http.StatusUnsupportedMediaType {
		t.Errorf("latin1: %d %s", r.Code, r.Body)
	}
	big := `{"email":"a@b.co","password":"` + strings.Repeat("x", 5000) + `"}`
	r = s.do(http.MethodPost, "/auth/login", big)
	if r.Code != http.StatusRequestEntityTooLarge || r.errCode() != CodePayloadTooLarge {
		t.Errorf("large: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/login", big, func(req *http.Request) { req.ContentLength = -1 })
	if r.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("large without length: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/login", "{\"email\":\"\xff\",\"password\":\"x\"}")
	if r.Code != 400 || r.errCode() != CodeMalformedJSON {
		t.Errorf("invalid UTF-8: %d %s", r.Code, r.Body)
	}
	if n := s.calls.names(); len(n) != 0 {
		t.Errorf("use case called: %v", n)
	}
}

// Use-case errors reach the client as the contract's status and code, with
// the headers that go with them.
func TestAuthErrorsMapped(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		code       string
		challenge  string
		retryAfter string
	}{
		{"bad credentials", auth.ErrInvalidCredentials, 401, CodeInvalidCredentials, `Bearer realm="gatehouse"`, ""},
		{"disabled", user.ErrDisabled, 403, CodeUserDisabled, "", ""},
		{"email not verified", emailtoken.ErrEmailNotVerified, 403, CodeEmailNotVerified, "", ""},
		{"throttled", &throttle.LimitedError{RetryAfter: 2500 * time.Millisecond}, 429, CodeTooManyRequests, "", "3"},
		{"database down", unavailableErr{}, 503, CodeServiceUnavailable, "", "1"},
		{"validation", &user.ValidationError{Fields: []user.FieldError{{Field: "email", Message: "must be a valid email address"}}}, 400, CodeValidationFailed, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			s.auth.err = tc.err
			r := s.do(http.MethodPost, "/auth/login", creds)
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if got := r.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.code == CodeValidationFailed && !r.detail("email") {
				t.Errorf("details %s", r.Body)
			}
		})
	}
}

// A registration the use case refuses answers the refusal, and no cookie.
func TestRegisterRefused(t *testing.T) {
	s := newTestServer(t)
	s.auth.err = user.ErrEmailTaken
	r := s.do(http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"correct horse"}`)
	if r.Code != 409 || r.errCode() != CodeEmailTaken || r.cookie(refreshCookieName) != nil || r.cookie(deviceCookieName) != nil {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}

// Refresh: the body wins over the cookie; a cookie is subject to the Origin
// check; a failing cookie is cleared; two refresh cookies are refused.
func TestRefreshTransports(t *testing.T) {
	t.Run("body wins over cookie", func(t *testing.T) {
		s := newTestServer(t)
		r := s.do(http.MethodPost, "/auth/refresh", `{"refreshToken":"from-body"}`, withCookie(refreshCookieName, "from-cookie"))
		if r.Code != 200 || s.auth.lastRefresh != "from-body" || r.cookie(refreshCookieName) != nil {
			t.Errorf("%d used %q cookie %v", r.Code, s.auth.lastRefresh, r.cookie(refreshCookieName))
		}
	})
	t.Run("no token at all", func(t *testing.T) {
		s := newTestServer(t)
		r := s.do(http.MethodPost, "/auth/refresh", "")
		if r.Code != 401 || r.errCode() != CodeRefreshTokenInvalid || len(s.calls.names()) != 0 {
			t.Errorf("%d %s %v", r.Code, r.Body, s.calls.names())
		}
	})
	t.Run("planted second cookie", func(t *testing.T) {
		s := newTestServer(t)
		r := s.do(http.MethodPost, "/auth/refresh", "", withCookie(refreshCookieName, "a"), withCookie(refreshCookieName, "b"))
		if r.Code != 401 || r.errCode() != CodeRefreshTokenInvalid || len(s.calls.names()) != 0 {
			t.Errorf("%d %s %v", r.Code, r.Body, s.calls.names())
		}
		if ck := r.cookie(refreshCookieName); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("cookie not cleared: %v", ck)
		}
	})
	t.Run("reused cookie is cleared", func(t *testing.T) {
		s := newTestServer(t)
		s.auth.err = session.ErrRefreshReused
		r := s.do(http.MethodPost, "/auth/refresh", "", withCookie(refreshCookieName, "old"))
		if r.Code != 401 || r.errCode() != CodeRefreshTokenReused {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if ck := r.cookie(refreshCookieName); ck == nil || ck.MaxAge >= 0 || ck.Value != "" {
			t.Errorf("cookie not cleared: %v", ck)
		}
	})
	t.Run("failing body token leaves cookies alone", func(t *testing.T) {
		s := newTestServer(t)
		s.auth.err = session.ErrRefreshInvalid
		r := s.do(http.MethodPost, "/auth/refresh", `{"refreshToken":"bad"}`)
		if r.Code != 401 || r.cookie(refreshCookieName) != nil {
			t.Errorf("%d cookie %v", r.Code, r.cookie(refreshCookieName))
		}
	})
}

// The refresh cookie is only honoured from the service's own origin, a
// configured one, or a client that sends no browser signals at all.
func TestRefreshCookieOriginCheck(t *testing.T) {
	cases := []struct {
		name string
		opts []reqOpt
		ok   bool
	}{
		{"no browser signals", nil, true},
		{"own origin", []reqOpt{header("Origin", "http://example.com")}, true},
		{"configured origin", []reqOpt{header("Origin", "https://app.example.org")}, true},
		{"configured origin, other case", []reqOpt{header("Origin", "HTTPS://APP.example.org")}, true},
		{"foreign origin", []reqOpt{header("Origin", "https://evil.example")}, false},
		{"own host, other scheme", []reqOpt{header("Origin", "https://example.com")}, false},
		{"null origin", []reqOpt{header("Origin", "null")}, false},
		{"cross-site fetch", []reqOpt{header("Sec-Fetch-Site", "cross-site")}, false},
		{"same-site sibling", []reqOpt{header("Sec-Fetch-Site", "same-site")}, false},
		{"same-origin fetch", []reqOpt{header("Sec-Fetch-Site", "same-origin")}, true},
		{"own referer", []reqOpt{header("Referer", "http://example.com/login")}, true},
		{"foreign referer", []reqOpt{header("Referer", "https://evil.example/page")}, false},
		{"relative referer", []reqOpt{header("Referer", "/page")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(_ *Deps, o *Options) { o.CORSAllowedOrigins = []string{"https://app.example.org"} })
			r := s.do(http.MethodPost, "/auth/refresh", "", append(tc.opts, withCookie(refreshCookieName, "rt"))...)
			if tc.ok && r.Code != 200 {
				t.Errorf("refused: %d %s", r.Code, r.Body)
			}
			if !tc.ok && (r.Code != 403 || r.errCode() != CodeCSRFRejected || len(s.calls.names()) != 0) {
				t.Errorf("allowed: %d %s %v", r.Code, r.Body, s.calls.names())
			}
		})
	}
}

// Logout takes a refresh token (body or cookie) or falls back to the bearer
// token; it clears the cookie; with no credential it is the refresh route's
// REFRESH_TOKEN_INVALID.
func TestLogout(t *testing.T) {
	cases := []struct {
		name          string
		body          string
		opts          []reqOpt
		status        int
		code          string
		wantToken     string
		wantPrincipal bool
	}{
		{"body token", `{"refreshToken":"rt"}`, nil, 200, "", "rt", false},
		{"cookie", "", []reqOpt{withCookie(refreshCookieName, "ck")}, 200, "", "ck", false},
		{"bearer only", "", []reqOpt{bearer(tokStale)}, 200, "", "", true},
		{"token and bearer", `{"refreshToken":"rt"}`, []reqOpt{bearer(tokStale)}, 200, "", "rt", true},
		{"token and stale bearer", `{"refreshToken":"rt"}`, []reqOpt{bearer(tokExpired)}, 200, "", "rt", false},
		{"bad bearer only", "", []reqOpt{bearer(tokExpired)}, 401, CodeTokenExpired, "", false},
		{"nothing", "", nil, 401, CodeRefreshTokenInvalid, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			r := s.do(http.MethodPost, "/auth/logout", tc.body, tc.opts...)
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if tc.status != 200 {
				if len(s.calls.names()) != 0 {
					t.Errorf("use case called: %v", s.calls.names())
				}
				return
			}
			in := s.auth.lastLogout
			if in.RefreshToken != tc.wantToken || (in.Principal != nil) != tc.wantPrincipal {
				t.Errorf("logout input %+v", in)
			}
			if ck := r.cookie(refreshCookieName); ck == nil || ck.MaxAge >= 0 {
				t.Errorf("cookie not cleared: %v", ck)
			}
		})
	}
}

// Every authenticated route refuses a caller without a valid token with 401,
// the RFC 6750 challenge and no caching; the use case is never asked.
func TestAuthenticatedRoutesNeedAToken(t *testing.T) {
	routes := []struct{ method, path string }{
		{http.MethodPost, "/auth/logout-all"},
		{http.MethodPost, "/auth/reauthenticate"},
		{http.MethodGet, "/auth/sessions"},
		{http.MethodDelete, "/auth/sessions/" + otherSessionID},
		{http.MethodGet, "/auth/session"},
		{http.MethodPost, "/auth/email/verification"},
		{http.MethodGet, "/users/me"},
		{http.MethodPatch, "/users/me"},
		{http.MethodGet, "/users/me/security-events"},
		{http.MethodPut, "/users/me/password"},
		{http.MethodDelete, "/users/me"},
		{http.MethodPost, "/auth/mfa/totp"},
		{http.MethodGet, "/auth/passkeys"},
	}
	tokens := []struct {
		name      string
		opts      []reqOpt
		code      string
		challenge string
	}{
		{"none", nil, CodeUnauthenticated, `Bearer realm="gatehouse"`},
		{"basic", []reqOpt{header("Authorization", "Basic YTpi")}, CodeTokenInvalid, `Bearer realm="gatehouse", error="invalid_token"`},
		{"garbage", []reqOpt{bearer("nope")}, CodeTokenInvalid, `Bearer realm="gatehouse", error="invalid_token"`},
		{"expired", []reqOpt{bearer(tokExpired)}, CodeTokenExpired, `Bearer realm="gatehouse", error="invalid_token"`},
		{"revoked", []reqOpt{bearer(tokRevoked)}, CodeSessionRevoked, `Bearer realm="gatehouse", error="invalid_token"`},
	}
	for _, rt := range routes {
		for _, tk := range tokens {
			t.Run(rt.method+" "+rt.path+" "+tk.name, func(t *testing.T) {
				s := newTestServer(t)
				r := s.do(rt.method, rt.path, "", tk.opts...)
				if r.Code != 401 || r.errCode() != tk.code {
					t.Fatalf("%d %s", r.Code, r.Body)
				}
				if got := r.Header.Get("WWW-Authenticate"); got != tk.challenge {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if r.Header.Get("Cache-Control") != "no-store" || len(s.calls.names()) != 0 {
					t.Errorf("Cache-Control %q calls %v", r.Header.Get("Cache-Control"), s.calls.names())
				}
			})
		}
	}
}

// Sensitive routes need a token from a recent password proof: a refreshed
// or old one gets 403 FRESH_AUTH_REQUIRED with the RFC 9470 challenge
// naming the policy's max_age.
func TestSensitiveRoutesNeedAFreshToken(t *testing.T) {
	routes := []struct{ method, path string }{
		{http.MethodPut, "/users/me/password"},
		{http.MethodPut, "/users/me/email"},
		{http.MethodDelete, "/users/me"},
		{http.MethodPost, "/auth/mfa/totp"},
		{http.MethodPost, "/auth/mfa/totp/confirm"},
		{http.MethodDelete, "/auth/mfa/totp"},
		{http.MethodPost, "/auth/mfa/recovery-codes"},
		{http.MethodPost, "/auth/passkeys/registration/options"},
		{http.MethodPost, "/auth/passkeys/registration"},
		{http.MethodDelete, "/auth/passkeys/" + otherSessionID},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			s := newTestServer(t)
			r := s.do(rt.method, rt.path, "", bearer(tokStale))
			if r.Code != 403 || r.errCode() != CodeFreshAuthRequired {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			want := `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=300`
			if got := r.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
}

func TestLogoutAll(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodPost, "/auth/logout-all", "", bearer(tokStale))
	if r.Code != 200 || !slices.Equal(s.calls.names(), []string{"LogoutAll:" + testUserID}) {
		t.Fatalf("%d %s %v", r.Code, r.Body, s.calls.names())
	}
	if ck := r.cookie(refreshCookieName); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("cookie not cleared: %v", ck)
	}
	s.auth.err = unavailableErr{}
	if r := s.do(http.MethodPost, "/auth/logout-all", "", bearer(tokStale)); r.Code != 503 || r.cookie(refreshCookieName) != nil {
		t.Errorf("failure: %d cookie %v", r.Code, r.cookie(refreshCookieName))
	}
}

// Reauthenticate returns a fresh access token in the body and never a
// refresh token or cookie; a wrong second factor is MFA_CODE_INVALID.
func TestReauthenticate(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodPost, "/auth/reauthenticate", `{"password":"correct horse"}`, bearer(tokStale))
	if r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	pair := dataOf[tokenPairDTO](t, r)
	if pair.AccessToken == "" || pair.RefreshToken != "" || r.cookie(refreshCookieName) != nil {
		t.Errorf("pair %+v cookie %v", pair, r.cookie(refreshCookieName))
	}

	s.auth.err = mfa.ErrCodeInvalid
	r = s.do(http.MethodPost, "/auth/reauthenticate", `{"password":"correct horse","code":"000000"}`, bearer(tokStale))
	if r.Code != 401 || r.errCode() != CodeMFACodeInvalid {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}

// The session list is a page: the array in data, the next cursor in
// X-Next-Cursor, the limit checked by the use case.
func TestListSessions(t *testing.T) {
	s := newTestServer(t)
	s.auth.sessions = authn.SessionList{
		Sessions: []authn.SessionView{
			{Session: testPair("").Session, Current: true},
			{Session: session.Session{ID: otherSessionID, CreatedAt: testNow, LastUsedAt: testNow, IdleExpiresAt: testNow.Add(time.Hour),
				AbsoluteExpiresAt: testNow.Add(30 * time.Minute), UserAgent: "curl/8", IP: "192.0.2.1"}},
		},
		NextCursor: "next-page",
	}
	r := s.do(http.MethodGet, "/auth/sessions?cursor=abc&limit=2", "", bearer(tokStale))
	if r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	list := dataOf[[]sessionDTO](t, r)
	if len(list) != 2 || !list[0].Current || list[1].Current || list[1].ExpiresAt != rfc3339(testNow.Add(30*time.Minute)) || list[1].IP != "192.0.2.1" {
		t.Errorf("sessions %+v", list)
	}
	if r.Header.Get("X-Next-Cursor") != "next-page" || s.auth.lastCursor != "abc" || s.auth.lastLimit != 2 {
		t.Errorf("cursor %q asked %q/%d", r.Header.Get("X-Next-Cursor"), s.auth.lastCursor, s.auth.lastLimit)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}

	// Without a limit the page is the largest; a non-number is passed on as
	// out of range for the use case to refuse.
	s.auth.sessions = authn.SessionList{}
	r = s.do(http.MethodGet, "/auth/sessions", "", bearer(tokStale))
	if r.Code != 200 || s.auth.lastLimit != authn.MaxSessionPage || r.Header.Get("X-Next-Cursor") != "" || string(r.Env.Data) != "[]" {
		t.Errorf("%d %s limit %d", r.Code, r.Body, s.auth.lastLimit)
	}
	s.do(http.MethodGet, "/auth/sessions?limit=ten", "", bearer(tokStale))
	if s.auth.lastLimit != 0 {
		t.Errorf("limit=ten passed as %d", s.auth.lastLimit)
	}
}

// Revoking a session checks the ID, and clears the cookie only when the
// caller ends its own session.
func TestRevokeSession(t *testing.T) {
	cases := []struct {
		name, id    string
		err         error
		status      int
		code        string
		clearCookie bool
	}{
		{"other session", otherSessionID, nil, 200, "", false},
		{"own session", testSessionID, nil, 200, "", true},
		{"not a UUID", "not-a-uuid", nil, 400, CodeValidationFailed, false},
		{"unknown", otherSessionID, session.ErrNotFound, 404, CodeNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			s.auth.err = tc.err
			r := s.do(http.MethodDelete, "/auth/sessions/"+tc.id, "", bearer(tokStale))
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if tc.code == CodeValidationFailed && (!r.detail("id") || len(s.calls.names()) != 0) {
				t.Errorf("%s %v", r.Body, s.calls.names())
			}
			if tc.status == 200 && s.auth.lastSession != tc.id {
				t.Errorf("revoked %q", s.auth.lastSession)
			}
			if got := r.cookie(refreshCookieName) != nil; got != tc.clearCookie {
				t.Errorf("cookie cleared %v, want %v", got, tc.clearCookie)
			}
		})
	}
}

// GET /auth/session reports the bearer's live session to a resource server
// and is budgeted per session, not per client address.
func TestSessionCheck(t *testing.T) {
	s := newTestServer(t)
	r := s.do(http.MethodGet, "/auth/session", "", bearer(tokAAL2))
	if r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	st := dataOf[sessionStateDTO](t, r)
	if st.ID != testSessionID || st.UserID != testUserID || !st.Active || !st.Fresh || !slices.Equal(st.Roles, []string{"user"}) ||
		!slices.Equal(st.Methods, []string{"pwd"}) || st.TokenExpiresAt != rfc3339(testNow.Add(14*time.Minute)) {
		t.Errorf("state %+v", st)
	}
	if r.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.Header.Get("RateLimit"), `"session";`) ||
		!strings.HasPrefix(r.Header.Get("RateLimit-Policy"), `"session";q=1000;w=60`) {
		t.Errorf("headers %v", r.Header)
	}
	if keys := s.limiter.keys(); !slices.Equal(keys, []string{"session:" + testSessionID}) {
		t.Errorf("budget keys %v", keys)
	}
	// A bad token spends the client's own budget, so the route is no free
	// way to try tokens.
	r = s.do(http.MethodGet, "/auth/session", "", bearer("guess"))
	if r.Code != 401 || !strings.HasPrefix(r.Header.Get("RateLimit"), `"ip";`) {
		t.Errorf("%d %v", r.Code, r.Header)
	}
}

// The session check reports the account's current roles when the check
// loaded the account, else the token's; lists are never null.
func TestSessionCheckRoles(t *testing.T) {
	s := newTestServer(t)
	for tok, want := range map[string][]string{tokPromoted: {"user", "admin"}, tokStale: {"user"}, tokBare: {}} {
		r := s.do(http.MethodGet, "/auth/session", "", bearer(tok))
		st := dataOf[sessionStateDTO](t, r)
		if r.Code != 200 || !slices.Equal(st.Roles, want) || st.Methods == nil || st.Fresh {
			t.Errorf("%s: %d %s", tok, r.Code, r.Body)
		}
	}
}

// Without a rate limiter the session check is plain authentication.
func TestSessionCheckWithoutLimiter(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) { d.IPLimiter = nil })
	req := func(tok string) (int, http.Header) {
		r := s.rawDo(http.MethodGet, "/auth/session", "", bearer(tok))
		return r.Code, r.Header()
	}
	if code, h := req(tokFresh); code != 200 || h.Get("RateLimit") != "" {
		t.Errorf("%d %v", code, h)
	}
	if code, _ := req("guess"); code != 401 {
		t.Errorf("bad token: %d", code)
	}
}

// A passkey login's failures are the contract's.
func TestPasskeyLoginErrors(t *testing.T) {
	s := newTestServer(t, func(d *Deps, _ *Options) {
		d.Auth.Passkey = fakePasskeyLogin{calls: &calls{}, err: mfa.ErrPasskeyInvalid}
	})
	r := s.do(http.MethodPost, "/auth/passkeys/login", `{"challengeId":"c1","credential":{"id":"x"}}`)
	if r.Code != 401 || r.errCode() != CodePasskeyInvalid || r.cookie(refreshCookieName) != nil {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}
