package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// codeInText is the six-digit code on a line of its own in the text part.
var codeInText = regexp.MustCompile(`(?m)^(\d{6})\s*$`)

// codeMail is one sign-in code mail as received.
type codeMail struct {
	Code, Token string
	Parsed      smtptest.Parsed
}

// nextCodeMail waits for the (before+1)-th mail to addr, which must be a
// sign-in code mail, and takes its code and link token out.
func nextCodeMail(t *testing.T, mail *smtptest.Server, addr string, before int) codeMail {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for mail.Count(addr) <= before {
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
		before := mail.Count(addr)
		ru := anon.do("POST", "/auth/email-code", map[string]any{"email": "nobody@example.com"})
		rk := anon.do("POST", "/auth/email-code", map[string]any{"email": "  CODE@example.com "})
		expect(t, ru, 202, "")
		expect(t, rk, 202, "")
		if ru.Env.Message != rk.Env.Message || string(ru.Env.Data) != string(rk.Env.Data) {
			t.Fatalf("answers differ: %s vs %s", ru.Body, rk.Body)
		}
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
		before = mail.Count(addr)
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
		before = mail.Count(addr)
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

		// Five wrong codes void the pending one: the right code then fails,
		// and so does its link.
		for range 5 {
			expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": wrongEmailCode(second.Code)}), 401, "EMAIL_CODE_INVALID")
		}
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"email": addr, "code": second.Code}), 401, "EMAIL_CODE_INVALID")
		expect(t, anon.do("POST", "/auth/email-code/verify", map[string]any{"token": second.Token}), 401, "EMAIL_CODE_INVALID")

		// Security events: the sign-ins, the verification, the wrong codes.
		r = c.do("GET", "/users/me/security-events?limit=100", nil)
		expect(t, r, 200, "")
		for _, ev := range []string{"login_succeeded", "email_verified", "login_failed"} {
			if !strings.Contains(string(r.Body), `"`+ev+`"`) {
				t.Fatalf("security events lack %s: %s", ev, r.Body)
			}
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
