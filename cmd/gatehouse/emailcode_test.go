package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/internal/smtptest"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// codeInText is the six-digit code on a line of its own in the text part.
var codeInText = regexp.MustCompile(`(?m)^(\d{6})\s*$`)

// codeMail is one sign-in code mail as received.
type codeMail struct {
	Code, Token string
	Parsed      smtptest.Parsed
}

// codeMails counts the sign-in code mails to addr (other mails, such as
// the notices of a password change, go to the same address).
func codeMails(t *testing.T, mail *smtptest.Server, addr string) int {
	t.Helper()
	return countMail(t, mail, addr, "sign-in code")
}

// nextCodeMail waits for the (before+1)-th sign-in code mail to addr and
// takes its code and link token out.
func nextCodeMail(t *testing.T, mail *smtptest.Server, addr string, before int) codeMail {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for codeMails(t, mail, addr) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s within %s", addr, mailWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := mail.WaitFor(t, addr, "sign-in code", mailWait)
	m := codeInText.FindStringSubmatch(p.Text)
	if m == nil {
		t.Fatalf("no six-digit code in the mail:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, m[1]) {
		t.Fatalf("the HTML part lacks the code %s", m[1])
	}
	return codeMail{Code: m[1], Token: p.Token(), Parsed: p}
}

// codeEnv is mailEnv with a throttle that stays out of the way unless a
// test sets its own.
func codeEnv(dbURL string, mail *smtptest.Server) map[string]string {
	env := mailEnv(dbURL, mail)
	env["LOGIN_MAX_FAILURES"], env["LOGIN_BACKOFF_AFTER"] = "1000", "1000"
	env["MAIL_RATE_PER_ADDRESS"] = "100/1m"
	return env
}

// startCodeSignup starts a server on the database at url that signs up
// unknown addresses by emailed code (EMAIL_CODE_SIGNUP over codeEnv), with
// opts on top, and returns it with its mail catcher.
func startCodeSignup(t *testing.T, url string, opts ...fx.Option) (*server, *smtptest.Server) {
	t.Helper()
	mail := smtptest.Start(t, smtptest.Options{})
	env := codeEnv(url, mail)
	env["EMAIL_CODE_SIGNUP"] = "true"
	return startServerWith(t, env, opts...), mail
}

// wrongEmailCode is a six-digit code other than right.
func wrongEmailCode(right string) string {
	if right == "000000" {
		return "000001"
	}
	return "000000"
}

// TestEmailCodeSignIn: the request answers alike for every address, one
// mail carries a code and a link, either signs in once (amr email, the
// address verified), a new request voids the old code, five wrong codes
// void one, and the security events record it all. Both engines.
func TestEmailCodeSignIn(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, codeEnv(dbURL(t), mail))
		const addr = "code@example.com"
		owner := s.client()
		owner.register(addr, "correct horse battery")
		mail.WaitFor(t, addr, "Confirm your email address", mailWait)
		if owner.me().EmailVerified {
			t.Fatal("verified before any link or code")
		}
		anon := s.client()

		// The same answer for an unknown and a known address.
		before := codeMails(t, mail, addr)
		sameAnswerForAnyAddress(t, anon, "/auth/email-code", "  CODE@example.com ")
		m := nextCodeMail(t, mail, addr, before)
		showMail(t, "sign-in code mail", m.Parsed)
		for _, want := range []string{"10 minutes", "/example/#/email-code?token="} {
			if !strings.Contains(m.Parsed.Text, want) || !strings.Contains(m.Parsed.HTML, want) {
				t.Fatalf("code mail lacks %q:\n%s", want, m.Parsed.Text)
			}
		}
		if len(m.Token) != 43 || strings.Contains(m.Parsed.Subject, m.Code) {
			t.Fatalf("token %q (want 256 bits), subject %q", m.Token, m.Parsed.Subject)
		}
		if n := mail.Count("nobody@example.com"); n != 0 {
			t.Fatalf("an address without an account got %d mails", n)
		}

		// A wrong code, then the right one: a session, amr email, verified.
		r := anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(m.Code)})
		expect(t, r, 401, "EMAIL_CODE_INVALID")
		c := s.client()
		r = c.do("POST", "/auth/email-code/verify", map[string]any{"email": "Code@Example.com", "code": m.Code})
		expect(t, r, 200, "")
		var p tokenPair
		r.data(t, &p)
		if p.User.Email != addr || r.cookie("refresh_token") == nil || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("sign-in answer: %s (cookies %v)", r.Body, r.Cookies)
		}
		aal, amr, fresh := claimsOf(t, p.AccessToken)
		if aal != "aal1" || !slices.Equal(amr, []string{"email"}) || !fresh {
			t.Fatalf("claims aal %q amr %v fresh %v", aal, amr, fresh)
		}
		c.bearer = p.AccessToken
		if !c.me().EmailVerified {
			t.Fatal("the code did not verify the address")
		}
		// Single use: the code again, and the link of the same mail.
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 401, "EMAIL_CODE_INVALID")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 401, "EMAIL_CODE_INVALID")
		// The refresh token of the session works.
		expect(t, c.do("POST", "/auth/refresh", nil), 200, "")

		// The link, with body transport; then it and its code are spent.
		before = codeMails(t, mail, addr)
		expect(t, anon.do("POST", "/auth/email-code", map[string]any{"email": addr}), 202, "")
		m = nextCodeMail(t, mail, addr, before)
		r = anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token, "refreshTokenTransport": "body"})
		expect(t, r, 200, "")
		r.data(t, &p)
		if p.RefreshToken == "" || r.cookie("refresh_token") != nil {
			t.Fatalf("body transport: %s", r.Body)
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 401, "EMAIL_CODE_INVALID")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 401, "EMAIL_CODE_INVALID")

		// A new request voids the previous code and link.
		before = codeMails(t, mail, addr)
		expect(t, anon.do("POST", "/auth/email-code", map[string]any{"email": addr}), 202, "")
		first := nextCodeMail(t, mail, addr, before)
		expect(t, anon.do("POST", "/auth/email-code", map[string]any{"email": addr}), 202, "")
		second := nextCodeMail(t, mail, addr, before+1)
		if first.Code == second.Code && first.Token == second.Token {
			t.Fatal("two requests mailed the same code and link")
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": first.Token}), 401, "EMAIL_CODE_INVALID")
		if first.Code != second.Code {
			expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": first.Code}), 401, "EMAIL_CODE_INVALID")
		}

		// Four wrong codes leave a pending code usable; the fifth voids it,
		// and its link with it.
		m = requestCode(t, s, mail, addr)
		for range 4 {
			expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(m.Code)}), 401, "EMAIL_CODE_INVALID")
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 200, "")
		m = requestCode(t, s, mail, addr)
		for range 5 {
			expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(m.Code)}), 401, "EMAIL_CODE_INVALID")
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 401, "EMAIL_CODE_INVALID")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 401, "EMAIL_CODE_INVALID")

		// Security events: the sign-ins (method email_code), the
		// verification, the wrong codes.
		if got := eventMethods(t, c); got["login_succeeded/email_code"] != 3 || got["login_succeeded/"] != 1 ||
			got["email_verified/"] != 1 || got["login_failed/"] < 10 {
			t.Fatalf("security events (type/method: count) %v", got)
		}
	})
}

// TestEmailCodeBadInput: malformed requests are 400 VALIDATION_FAILED
// naming the field, unknown codes and links 401, never a 500; without mail
// the request is 503 MAIL_UNAVAILABLE.
func TestEmailCodeBadInput(t *testing.T) {
	mail := smtptest.Start(t, smtptest.Options{})
	s := startServer(t, codeEnv("sqlite://"+t.TempDir()+"/g.db", mail))
	c := s.client()
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/auth/email-code", map[string]any{}, "email"},
		{"/auth/email-code", map[string]any{"email": "not an address"}, "email"},
		{"/auth/email-code/verify", map[string]any{}, "email"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com"}, "code"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "12345"}, "code"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "12ab56"}, "code"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "-12345"}, "code"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "１２３４５６"}, "code"},
		{"/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "123456", "token": strings.Repeat("A", 43)}, "email"},
		{"/auth/email-code/verify", map[string]any{"email": "not an address", "code": "123456"}, "email"},
		{"/auth/email-code/verify", map[string]any{"token": strings.Repeat("A", 43), "refreshTokenTransport": "carrier pigeon"}, "refreshTokenTransport"},
	} {
		r := c.do("POST", tc.path, tc.body)
		expect(t, r, 400, "VALIDATION_FAILED")
		if r.Env.Error == nil || !slices.ContainsFunc(r.Env.Error.Details, func(d struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		}) bool {
			return d.Field == tc.field
		}) {
			t.Errorf("%s %v: details do not name %s: %s", tc.path, tc.body, tc.field, r.Body)
		}
	}
	expect(t, c.do("POST", "/auth/email-code/verify", map[string]any{"email": "a@example.com", "extra": 1, "code": "123456"}), 400, "VALIDATION_FAILED")
	expect(t, c.do("POST", "/auth/email-code/verify", map[string]any{"email": "nobody@example.com", "code": "123456"}), 401, "EMAIL_CODE_INVALID")
	expect(t, c.do("POST", "/auth/email-code/verify", map[string]any{"token": "short"}), 401, "EMAIL_CODE_INVALID")
	expect(t, c.do("POST", "/auth/email-code/verify", map[string]any{"token": strings.Repeat("A", 43)}), 401, "EMAIL_CODE_INVALID")

	off := startServer(t, testEnv("sqlite://"+t.TempDir()+"/off.db")).client()
	expect(t, off.do("POST", "/auth/email-code", map[string]any{"email": "a@example.com"}), 503, "MAIL_UNAVAILABLE")
	expect(t, off.do("POST", "/auth/email-code/verify", map[string]any{"email": "a@example.com", "code": "123456"}), 401, "EMAIL_CODE_INVALID")
}

// requestCode asks for a code for addr and returns its mail.
func requestCode(t *testing.T, s *server, mail *smtptest.Server, addr string) codeMail {
	t.Helper()
	before := codeMails(t, mail, addr)
	expect(t, s.client().do("POST", "/auth/email-code", map[string]any{"email": addr}), 202, "")
	return nextCodeMail(t, mail, addr, before)
}

// TestEmailCodeAccountRules: what holds around the code on both engines.
// The table keeps neither code nor link readable; a password change since
// the mail voids it; a disabled account gets USER_DISABLED after its code
// and no further codes; TOTP still applies (mfaRequired, then amr
// email+otp+mfa); with EMAIL_CODE_SIGNUP a code creates an account without
// a password, whose password login is INVALID_CREDENTIALS (not a 500) until
// forgot/reset gives it one.
func TestEmailCodeAccountRules(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		url := dbURL(t)
		s, mail := startCodeSignup(t, url)
		db := openDB(t, url)
		anon := s.client()

		// Sign-up by code: a new account, verified, without a password.
		const fresh = "new.person@example.com"
		m := requestCode(t, s, mail, fresh)
		if stored := tableText(t, db, "email_codes"); strings.Contains(stored, m.Code) || strings.Contains(stored, m.Token) {
			t.Fatalf("email_codes holds the code or the link token:\n%s", stored)
		}
		c := s.client()
		r := c.do("POST", "/auth/email-code/verify", map[string]any{"email": fresh, "code": m.Code})
		expect(t, r, 200, "")
		var p tokenPair
		r.data(t, &p)
		c.bearer = p.AccessToken
		if u := c.me(); !u.EmailVerified || u.Email != fresh {
			t.Fatalf("signed-up account %+v", u)
		}
		_, lr := s.client().login(fresh, "any password at all", "")
		expect(t, lr, 401, "INVALID_CREDENTIALS")
		before := mail.Count(fresh)
		expect(t, anon.do("POST", "/auth/password/forgot", map[string]any{"email": fresh}), 202, "")
		reset := mail.WaitFor(t, fresh, "Reset your", mailWait)
		if mail.Count(fresh) != before+1 {
			t.Fatal("no reset mail for an account without a password")
		}
		expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": reset.Token(), "newPassword": "a password at last"}), 200, "")
		if _, lr := s.client().login(fresh, "a password at last", ""); lr.Status != 200 {
			t.Fatalf("login after reset: %s", lr.Body)
		}

		// An account with a password: a password change voids a code
		// mailed before it.
		const addr = "rules@example.com"
		owner := s.client()
		owner.register(addr, "correct horse battery")
		m = requestCode(t, s, mail, addr)
		expect(t, owner.do("PUT", "/users/me/password", map[string]any{"currentPassword": "correct horse battery", "newPassword": "another horse battery"}), 200, "")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 401, "EMAIL_CODE_INVALID")

		// TOTP still applies. The code's sign-in is fresh, so it may enrol.
		m = requestCode(t, s, mail, addr)
		r = owner.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code})
		expect(t, r, 200, "")
		r.data(t, &p)
		owner.bearer = p.AccessToken
		secret, _ := enableTOTP(t, owner)
		m = requestCode(t, s, mail, addr)
		r = anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token})
		expect(t, r, 200, "")
		var mr mfaRequired
		r.data(t, &mr)
		if !mr.MFARequired || len(mr.MFAToken) != 43 || len(r.Cookies) != 0 || strings.Contains(string(r.Env.Data), "accessToken") {
			t.Fatalf("with TOTP on, the code answered %s (cookies %v)", r.Body, r.Cookies)
		}
		r = anon.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": mr.MFAToken, "code": totpCode(t, secret, 0)})
		expect(t, r, 200, "")
		r.data(t, &p)
		aal, amr, _ := claimsOf(t, p.AccessToken)
		if aal != "aal2" || !slices.Equal(amr, []string{"email", "otp", "mfa"}) {
			t.Fatalf("after code and TOTP: aal %q amr %v", aal, amr)
		}
		if got := eventMethods(t, owner); got["login_succeeded/email_code"] != 2 {
			t.Fatalf("the sign-ins by code (one of them with TOTP) are not both login_succeeded with method email_code: %v", got)
		}

		// Disabled after the mail: USER_DISABLED after the code, and no
		// more codes are mailed.
		const gone = "disabled@example.com"
		s.client().register(gone, "correct horse battery")
		m = requestCode(t, s, mail, gone)
		if err := db.Exec("UPDATE users SET disabled = ? WHERE email = ?", true, gone).Error; err != nil {
			t.Fatal(err)
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": gone, "code": m.Code}), 403, "USER_DISABLED")
		before = codeMails(t, mail, gone)
		expect(t, anon.do("POST", "/auth/email-code", map[string]any{"email": gone}), 202, "")
		// The request is delivered (dropped) within a poll or two.
		deadline := time.Now().Add(mailWait)
		for {
			var queued int64
			if err := db.Table("mail_outbox").Count(&queued).Error; err != nil {
				t.Fatal(err)
			}
			if queued == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d requests still queued", queued)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := codeMails(t, mail, gone); n != before {
			t.Fatalf("a disabled account got %d code mails", n-before)
		}
	})
}

// TestEmailCodeThrottle: wrong codes count in the account's login throttle
// with wrong passwords; once it is locked even the right code waits.
func TestEmailCodeThrottle(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := codeEnv(dbURL(t), mail)
		env["LOGIN_MAX_FAILURES"], env["LOGIN_BACKOFF_AFTER"] = "3", "0"
		s := startServer(t, env)
		const addr = "throttle.code@example.com"
		s.client().register(addr, "correct horse battery")
		m := requestCode(t, s, mail, addr)
		c := s.client()
		_, lr := c.login(addr, "a wrong password", "")
		expect(t, lr, 401, "INVALID_CREDENTIALS")
		for range 2 {
			expect(t, c.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(m.Code)}), 401, "EMAIL_CODE_INVALID")
		}
		r := c.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code})
		expect(t, r, 429, "TOO_MANY_REQUESTS")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		_, lr = c.login(addr, "correct horse battery", "")
		expect(t, lr, 429, "TOO_MANY_REQUESTS")
		// The link is 256 bits and not throttled: the mailbox's owner still
		// gets in.
		expect(t, s.client().do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 200, "")
	})
}

// eventMethods counts c's security events by "type/method".
func eventMethods(t *testing.T, c *client) map[string]int {
	t.Helper()
	r := c.do("GET", "/users/me/security-events?limit=100", nil)
	expect(t, r, 200, "")
	var page struct {
		Items []struct {
			Type   string `json:"type"`
			Method string `json:"method"`
		} `json:"items"`
	}
	r.data(t, &page)
	out := map[string]int{}
	for _, e := range page.Items {
		out[e.Type+"/"+e.Method]++
	}
	return out
}

// TestEmailCodeRace: eight clients present one right code at once, and
// eight others its link: each starts exactly one session, never a 5xx.
func TestEmailCodeRace(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, codeEnv(dbURL(t), mail))
		const addr = "race@example.com"
		s.client().register(addr, "correct horse battery")
		for _, form := range []string{"code", "link"} {
			m := requestCode(t, s, mail, addr)
			body := map[string]any{"email": addr, "code": m.Code}
			if form == "link" {
				body = map[string]any{"token": m.Token}
			}
			var wg sync.WaitGroup
			statuses := make(chan int, 8)
			for range 8 {
				wg.Go(func() { statuses <- s.client().do("POST", "/auth/email-code/verify", body).Status })
			}
			wg.Wait()
			close(statuses)
			got := map[int]int{}
			for st := range statuses {
				got[st]++
			}
			if got[200] != 1 || got[401] != 7 {
				t.Fatalf("%s: statuses %v, want one 200 and seven 401", form, got)
			}
		}
	})
}

// refusingHook is a before-signup hook that refuses while refuse is set
// and counts the addresses it was asked about.
type refusingHook struct {
	mu     sync.Mutex
	refuse bool
	asked  []string
}

func (h *refusingHook) BeforeSignup(_ context.Context, a authn.SignupAttempt) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, a.Email+"/"+a.Method)
	if h.refuse {
		// Any error the route documents goes through as is; the real
		// hook's refusal (SIGNUP_REJECTED) comes with the webhooks work.
		return user.ErrDisabled
	}
	return nil
}

func (h *refusingHook) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.asked)
}

// TestEmailCodeSignupHook: with sign-up by code, the before-signup hook is
// asked once a right code or link of an address without an account is
// presented, before anything is written: a refusal creates nothing and
// leaves the code usable. Wrong codes and codes of existing accounts never
// reach it. Both engines.
func TestEmailCodeSignupHook(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		url := dbURL(t)
		hook := &refusingHook{refuse: true}
		s, mail := startCodeSignup(t, url, fx.Replace(fx.Annotate(hook, fx.As(new(authn.SignupHook)))))
		db := openDB(t, url)
		anon := s.client()
		const addr = "hooked@example.com"
		m := requestCode(t, s, mail, addr)
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(m.Code)}), 401, "EMAIL_CODE_INVALID")
		if got := hook.calls(); len(got) != 0 {
			t.Fatalf("a wrong code reached the hook: %v", got)
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 403, "USER_DISABLED")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 403, "USER_DISABLED")
		var users int64
		if err := db.Table("users").Where("email = ?", addr).Count(&users).Error; err != nil || users != 0 {
			t.Fatalf("a refused sign-up created %d accounts (%v)", users, err)
		}
		if got := hook.calls(); !slices.Equal(got, []string{addr + "/email_code", addr + "/email_code"}) {
			t.Fatalf("hook asked %v", got)
		}
		hook.mu.Lock()
		hook.refuse = false
		hook.mu.Unlock()
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 200, "")

		// An existing account's code never asks the hook.
		before := len(hook.calls())
		m = requestCode(t, s, mail, addr)
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 200, "")
		if got := hook.calls(); len(got) != before {
			t.Fatalf("signing in to an existing account asked the hook: %v", got)
		}
	})
}

// TestEmailCodeTwoInstances: a code requested on one instance (and mailed
// by whichever delivers it) signs in on the other, and its link there too:
// the pending codes and the key that seals them are shared through the
// database. Both engines.
func TestEmailCodeTwoInstances(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := codeEnv(dbURL(t), mail)
		a := startServer(t, env)
		b := startServer(t, env)
		const addr = "fleet.code@example.com"
		a.client().register(addr, "correct horse battery")
		m := requestCode(t, a, mail, addr)
		expect(t, b.client().do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": m.Code}), 200, "")
		m = requestCode(t, b, mail, addr)
		expect(t, a.client().do("POST", "/auth/email-code/verify", map[string]any{"token": m.Token}), 200, "")
	})
}
