package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// mailEnv is testEnv with mail through srv, delivered promptly and retried
// soon after a failure.
func mailEnv(dbURL string, srv *smtptest.Server) map[string]string {
	env := testEnv(dbURL)
	env["MAIL_URL"] = srv.URL()
	// The default links point at the example app, which must then be on.
	env["EXAMPLE_APP_ENABLED"] = "true"
	env["MAIL_FROM"] = "Gatehouse <no-reply@example.com>"
	env["MAIL_POLL_INTERVAL"] = "50ms"
	env["MAIL_RETRY_BASE"] = "200ms"
	return env
}

const mailWait = 15 * time.Second

type userData struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	EmailVerified bool   `json:"emailVerified"`
	Locale        string `json:"locale"`
}

func (c *client) me() userData {
	c.t.Helper()
	r := c.do("GET", "/users/me", nil)
	expect(c.t, r, 200, "")
	var u userData
	r.data(c.t, &u)
	return u
}

var tokenInText = regexp.MustCompile(`token=[A-Za-z0-9_-]+`)

// showMail logs a received mail with its token redacted, for the record
// (go test -v -run TestRecoveryFlows shows what a user receives).
func showMail(t *testing.T, what string, p smtptest.Parsed) {
	t.Helper()
	var b strings.Builder
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id", "Auto-Submitted", "Mime-Version", "Content-Type"} {
		fmt.Fprintf(&b, "%s: %s\n", h, p.Header.Get(h))
	}
	b.WriteString("\n" + tokenInText.ReplaceAllString(p.Text, "token=[REDACTED]"))
	t.Logf("%s as received:\n%s", what, b.String())
}

// TestRecoveryFlows runs verification, forgot and reset password, and the
// mails of an email change, through a real SMTP server, on both engines.
func TestRecoveryFlows(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, mailEnv(dbURL(t), mail))
		ada := s.client()
		pair := ada.register("ada@example.com", "correct horse battery")
		_ = pair
		if ada.me().EmailVerified {
			t.Fatal("a new account is verified before its link was opened")
		}

		// Registration mails a verification link.
		vm := mail.WaitFor(t, "ada@example.com", "Confirm your email address", mailWait)
		showMail(t, "verification mail", vm)
		for _, want := range []string{"24 hours", "Gatehouse", "/example/#/verify-email?token="} {
			if !strings.Contains(vm.Text, want) || !strings.Contains(vm.HTML, want) {
				t.Fatalf("verification mail lacks %q:\n%s", want, vm.Text)
			}
		}
		vtok := vm.Token()
		if len(vtok) != 43 {
			t.Fatalf("token %q: want 43 characters of base64url (256 bits)", vtok)
		}

		anon := s.client()
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": "not-a-token"}), 400, "VALIDATION_FAILED")
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": strings.Repeat("A", 43)}), 400, "EMAIL_LINK_INVALID")
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{}), 400, "VALIDATION_FAILED")

		r := anon.do("POST", "/auth/email/verify", map[string]any{"token": vtok})
		expect(t, r, 200, "")
		var u userData
		r.data(t, &u)
		if !u.EmailVerified || u.Email != "ada@example.com" {
			t.Fatalf("verify answered %+v", u)
		}
		if !ada.me().EmailVerified {
			t.Fatal("GET /users/me does not show the address verified")
		}
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": vtok}), 400, "EMAIL_LINK_INVALID")

		// Already verified: 202 and nothing sent.
		before := mail.Count("ada@example.com")
		expect(t, ada.do("POST", "/auth/email/verification", nil), 202, "")
		expect(t, anon.do("POST", "/auth/email/verification", nil), 401, "UNAUTHENTICATED")

		// Forgot password: the same answer for an unknown and a known address.
		sameAnswerForAnyAddress(t, anon, "/auth/password/forgot", "  ADA@example.com ")
		expect(t, anon.do("POST", "/auth/password/forgot", map[string]any{"email": "not an address"}), 400, "VALIDATION_FAILED")

		rm := mail.WaitFor(t, "ada@example.com", "Reset your Gatehouse password", mailWait)
		showMail(t, "reset mail", rm)
		if !strings.Contains(rm.Text, "30 minutes") || !strings.Contains(rm.Text, "/example/#/reset-password?token=") {
			t.Fatalf("reset mail:\n%s", rm.Text)
		}
		if n := mail.Count("nobody@example.com"); n != 0 {
			t.Fatalf("an address without an account got %d mails", n)
		}
		if n := mail.Count("ada@example.com"); n != before+1 {
			t.Fatalf("ada got %d mails since verifying, want just the reset link", n-before)
		}
		rtok := rm.Token()

		// Wrong purpose: refused, and the token still works for its own.
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": rtok}), 400, "EMAIL_LINK_INVALID")
		// A weak password is refused and does not use the link up.
		r = anon.do("POST", "/auth/password/reset", map[string]any{"token": rtok, "newPassword": "ada@example.com"})
		expect(t, r, 400, "VALIDATION_FAILED")
		if r.Env.Error == nil || len(r.Env.Error.Details) == 0 || r.Env.Error.Details[0].Field != "newPassword" {
			t.Fatalf("weak password: %s", r.Body)
		}
		expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": "x", "newPassword": "a new long password"}), 400, "VALIDATION_FAILED")

		oldAccess := ada.bearer
		expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": rtok, "newPassword": "a new long password"}), 200, "")
		expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": rtok, "newPassword": "another long password"}), 400, "EMAIL_LINK_INVALID")

		// Every session is gone: the old access token and the refresh cookie.
		expect(t, ada.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		ada.bearer = ""
		expect(t, ada.do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
		_ = oldAccess
		if _, r := ada.login("ada@example.com", "correct horse battery", ""); r.Status != 401 {
			t.Fatalf("the old password still logs in: %d", r.Status)
		}
		if _, r := ada.login("ada@example.com", "a new long password", ""); r.Status != 200 {
			t.Fatalf("the new password does not log in: %d %s", r.Status, r.Body)
		}
		notice := mail.WaitFor(t, "ada@example.com", "password was reset", mailWait)
		if notice.Token() != "" || notice.Link() != "" {
			t.Fatalf("the reset notice carries a link:\n%s", notice.Text)
		}

		// Security events record both.
		r = ada.do("GET", "/users/me/security-events?limit=100", nil)
		expect(t, r, 200, "")
		for _, ev := range []string{"email_verified", "password_reset"} {
			if !strings.Contains(string(r.Body), `"`+ev+`"`) {
				t.Fatalf("security events lack %s: %s", ev, r.Body)
			}
		}

		// An email change: unverified again, a link to the new address, a
		// notice without a link to the old one.
		r = ada.do("PUT", "/users/me/email", map[string]any{"email": "ada.king@example.org"})
		expect(t, r, 200, "")
		r.data(t, &u)
		if u.EmailVerified {
			t.Fatal("a changed address is still verified")
		}
		old := mail.WaitFor(t, "ada@example.com", "was changed", mailWait)
		if old.Link() != "" {
			t.Fatalf("the notice to the old address carries a link:\n%s", old.Text)
		}
		nv := mail.WaitFor(t, "ada.king@example.org", "Confirm your email address", mailWait)
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": nv.Token()}), 200, "")
		if !ada.me().EmailVerified {
			t.Fatal("the new address was not verified by its link")
		}
	})
}

// TestVerificationLinkBoundToAddress: a link mailed to an address the
// account has since left is void, and asking again sends a fresh one.
func TestVerificationLinkBoundToAddress(t *testing.T) {
	mail := smtptest.Start(t, smtptest.Options{})
	s := startServer(t, mailEnv("sqlite://"+t.TempDir()+"/g.db", mail))
	c := s.client()
	c.register("bound@example.com", "correct horse battery")
	first := mail.WaitFor(t, "bound@example.com", "Confirm", mailWait)
	expect(t, c.do("PUT", "/users/me/email", map[string]any{"email": "moved@example.com"}), 200, "")
	expect(t, s.client().do("POST", "/auth/email/verify", map[string]any{"token": first.Token()}), 400, "EMAIL_LINK_INVALID")

	// Asking again: a new link; throttled after MAIL_RATE_PER_ADDRESS (3).
	mail.WaitFor(t, "moved@example.com", "Confirm", mailWait)
	for range 3 {
		expect(t, c.do("POST", "/auth/email/verification", nil), 202, "")
	}
	r := c.do("POST", "/auth/email/verification", nil)
	expect(t, r, 429, "TOO_MANY_REQUESTS")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// TestForgotPasswordThrottled: past the per-address budget the answer is
// still 202, and nothing more is sent.
func TestForgotPasswordThrottled(t *testing.T) {
	mail := smtptest.Start(t, smtptest.Options{})
	env := mailEnv("sqlite://"+t.TempDir()+"/g.db", mail)
	// The verification mail of the registration takes one of the three.
	env["MAIL_RATE_PER_ADDRESS"] = "3/1h"
	s := startServer(t, env)
	s.client().register("thr@example.com", "correct horse battery")
	mail.WaitFor(t, "thr@example.com", "Confirm", mailWait)
	anon := s.client()
	for range 5 {
		expect(t, anon.do("POST", "/auth/password/forgot", map[string]any{"email": "thr@example.com"}), 202, "")
	}
	mail.WaitFor(t, "thr@example.com", "Reset", mailWait)
	time.Sleep(time.Second) // room for any further (wrong) delivery
	resets := 0
	for _, m := range mail.Messages() {
		p, err := smtptest.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.Subject, "Reset") {
			resets++
		}
	}
	if resets != 2 {
		t.Fatalf("%d reset mails for 5 requests with a budget of 2", resets)
	}
}

// TestMailQueuedWhileSMTPDown: with the mail server down, registration and
// forgot-password still answer; the messages wait in the outbox, are
// retried, and arrive once the server is back. Nothing is lost or doubled.
//
// Issue 21 item 6: while the messages wait, no outbox row holds a link or a
// token (main stored the reset link in clear, so a copy of the database
// reset the password); the links are made when the mails are sent.
func TestMailQueuedWhileSMTPDown(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		mail.Stop()
		url := dbURL(t)
		s := startServer(t, mailEnv(url, mail))
		s.client().register("down@example.com", "correct horse battery")
		expect(t, s.client().do("POST", "/auth/password/forgot", map[string]any{"email": "down@example.com"}), 202, "")

		// Wait until delivery of each message has failed at least twice,
		// reading every row of the outbox each time.
		db := openDB(t, url)
		var seen []string
		deadline := time.Now().Add(mailWait)
		for {
			seen = append(seen, tableText(t, db, "mail_outbox"))
			var attempts []int
			if err := db.Raw("SELECT attempts FROM mail_outbox").Scan(&attempts).Error; err != nil {
				t.Fatal(err)
			}
			if len(attempts) == 2 && min(attempts[0], attempts[1]) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no retries seen (attempts %v)", attempts)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, text := range seen {
			if strings.Contains(text, "token=") || strings.Contains(text, "#/") {
				t.Fatalf("a queued outbox row holds a link:\n%s", text)
			}
		}
		var lastError string
		if err := db.Raw("SELECT last_error FROM mail_outbox WHERE kind IN ('verify_email', 'verify_requested')").Scan(&lastError).Error; err != nil {
			t.Fatal(err)
		}
		if lastError == "" || strings.Contains(lastError, "token=") {
			t.Fatalf("last_error %q: want the failure, without the link", lastError)
		}
		if n := len(mail.Messages()); n != 0 {
			t.Fatalf("%d messages while the server was down", n)
		}

		mail.Restart(t)
		verify := mail.WaitFor(t, "down@example.com", "Confirm your email address", 30*time.Second)
		reset := mail.WaitFor(t, "down@example.com", "Reset your", 30*time.Second)
		time.Sleep(500 * time.Millisecond)
		if n := mail.Count("down@example.com"); n != 2 {
			t.Fatalf("%d mails delivered, want exactly 2", n)
		}
		var left int64
		if err := db.Table("mail_outbox").Count(&left).Error; err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Fatalf("%d messages left in the outbox after delivery", left)
		}
		// Neither token was anywhere in the database, the token table
		// included (it keeps hashes), and both work.
		tokens := tableText(t, db, "email_tokens")
		for _, tok := range []string{verify.Token(), reset.Token()} {
			if len(tok) != 43 {
				t.Fatalf("token %q", tok)
			}
			for _, text := range append(seen, tokens) {
				if strings.Contains(text, tok) {
					t.Fatalf("a delivered token sat in the database:\n%s", text)
				}
			}
		}
		anon := s.client()
		expect(t, anon.do("POST", "/auth/email/verify", map[string]any{"token": verify.Token()}), 200, "")
		expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": reset.Token(), "newPassword": "a new long password"}), 200, "")
	})
}

// tableText reads every row of a table as text, for looking for secrets.
func tableText(t *testing.T, db *gorm.DB, table string) string {
	t.Helper()
	rows, err := db.Raw("SELECT * FROM " + table).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// openDB opens a second handle on a test database, for looking inside.
func openDB(t *testing.T, url string) *gorm.DB {
	t.Helper()
	driver, dsn := database.DriverPostgres, url
	if rest, ok := strings.CutPrefix(url, "sqlite://"); ok {
		driver, dsn = database.DriverSQLite, rest
	}
	db, err := database.Open(database.Config{Driver: driver, DSN: dsn, MaxOpenConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}

// TestMailOff: without MAIL_URL, the mail routes answer MAIL_UNAVAILABLE
// (never a 500) and registration works as before.
func TestMailOff(t *testing.T) {
	s := startServer(t, testEnv("sqlite://"+t.TempDir()+"/g.db"))
	c := s.client()
	c.register("off@example.com", "correct horse battery")
	expect(t, c.do("POST", "/auth/email/verification", nil), 503, "MAIL_UNAVAILABLE")
	expect(t, c.do("POST", "/auth/password/forgot", map[string]any{"email": "off@example.com"}), 503, "MAIL_UNAVAILABLE")
	expect(t, c.do("POST", "/auth/password/reset", map[string]any{"token": strings.Repeat("B", 43), "newPassword": "a new long password"}), 400, "EMAIL_LINK_INVALID")
}

// TestRequireEmailVerification: registration answers alike for new and
// existing addresses, and login needs a verified address, after the
// password.
func TestRequireEmailVerification(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := mailEnv(dbURL(t), mail)
		env["REQUIRE_EMAIL_VERIFICATION"] = "true"
		s := startServer(t, env)
		c := s.client()
		body := map[string]any{"email": "req@example.com", "password": "correct horse battery"}
		first := c.do("POST", "/auth/register", body)
		expect(t, first, 202, "")
		again := c.do("POST", "/auth/register", map[string]any{"email": "REQ@example.com", "password": "another password"})
		expect(t, again, 202, "")
		if first.Env.Message != again.Env.Message || string(first.Env.Data) != string(again.Env.Data) || first.cookie("refresh_token") != nil || again.cookie("refresh_token") != nil {
			t.Fatalf("registration tells accounts apart: %s vs %s", first.Body, again.Body)
		}
		link := mail.WaitFor(t, "req@example.com", "Confirm", mailWait)
		mail.WaitFor(t, "req@example.com", "already have", mailWait)

		if _, r := c.login("req@example.com", "wrong password!", ""); r.Status != 401 || r.code() != "INVALID_CREDENTIALS" {
			t.Fatalf("wrong password: %d %s", r.Status, r.code())
		}
		_, r := c.login("req@example.com", "correct horse battery", "")
		expect(t, r, 403, "EMAIL_NOT_VERIFIED")
		expect(t, c.do("POST", "/auth/email/verify", map[string]any{"token": link.Token()}), 200, "")
		if _, r := c.login("req@example.com", "correct horse battery", ""); r.Status != 200 {
			t.Fatalf("login after verification: %d %s", r.Status, r.Body)
		}
	})
}

// TestFleetSendsEachMailOnce: two instances on one PostgreSQL database
// both deliver the outbox; every message arrives exactly once.
func TestFleetSendsEachMailOnce(t *testing.T) {
	mail := smtptest.Start(t, smtptest.Options{})
	url := pgtest.URL(t) // skips without PostgreSQL unless REQUIRE_POSTGRES
	a := startServer(t, mailEnv(url, mail))
	b := startServer(t, mailEnv(url, mail))
	const n = 24
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		srv.client().register(fmt.Sprintf("fleet%d@example.com", i), "correct horse battery")
	}
	for i := range n {
		mail.WaitFor(t, fmt.Sprintf("fleet%d@example.com", i), "Confirm", mailWait)
	}
	time.Sleep(time.Second)
	if got := len(mail.Messages()); got != n {
		t.Fatalf("%d messages for %d registrations", got, n)
	}
}

// sameAnswerForAnyAddress posts an address without an account
// (nobody@example.com) and then known to path, and fails unless both are
// 202 with the same message and data: the answer must not tell whether an
// account exists.
func sameAnswerForAnyAddress(t *testing.T, c *client, path, known string) {
	t.Helper()
	ru := c.do("POST", path, map[string]any{"email": "nobody@example.com"})
	rk := c.do("POST", path, map[string]any{"email": known})
	expect(t, ru, 202, "")
	expect(t, rk, 202, "")
	if ru.Env.Message != rk.Env.Message || string(ru.Env.Data) != string(rk.Env.Data) {
		t.Fatalf("POST %s answers differ: %s vs %s", path, ru.Body, rk.Body)
	}
}

// countMail counts the messages to rcpt whose subject contains subject.
func countMail(t *testing.T, mail *smtptest.Server, rcpt, subject string) int {
	t.Helper()
	n := 0
	for _, m := range mail.Messages() {
		p, err := smtptest.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(m.To, rcpt) && strings.Contains(p.Subject, subject) {
			n++
		}
	}
	return n
}

// resetLink asks for a reset link for email and returns its token once the
// mail has arrived.
func resetLink(t *testing.T, s *server, mail *smtptest.Server, email string) string {
	t.Helper()
	before := countMail(t, mail, email, "Reset your")
	expect(t, s.client().do("POST", "/auth/password/forgot", map[string]any{"email": email}), 202, "")
	for deadline := time.Now().Add(mailWait); countMail(t, mail, email, "Reset your") == before; {
		if time.Now().After(deadline) {
			t.Fatalf("no reset mail to %s", email)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return mail.WaitFor(t, email, "Reset your", mailWait).Token()
}

// TestResetLinkDies (issue 21 item 7): a reset link stops working when the
// password is changed (main let it reset the password again afterwards),
// when a newer reset link has been sent (main kept every one valid), and
// when the address changes.
func TestResetLinkDies(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := mailEnv(dbURL(t), mail)
		env["MAIL_RATE_PER_ADDRESS"] = "0"
		s := startServer(t, env)
		ada := s.client()
		ada.register("dies@example.com", "first passphrase")
		reset := func(tok, pw string) *response {
			return s.client().do("POST", "/auth/password/reset", map[string]any{"token": tok, "newPassword": pw})
		}

		// A password change.
		before := resetLink(t, s, mail, "dies@example.com")
		expect(t, ada.do("PUT", "/users/me/password", map[string]any{"currentPassword": "first passphrase", "newPassword": "second passphrase"}), 200, "")
		expect(t, reset(before, "attacker's passphrase"), 400, "EMAIL_LINK_INVALID")

		// A newer link: the older dies, the newer works (once).
		older := resetLink(t, s, mail, "dies@example.com")
		newer := resetLink(t, s, mail, "dies@example.com")
		expect(t, reset(older, "third passphrase"), 400, "EMAIL_LINK_INVALID")
		expect(t, reset(newer, "third passphrase"), 200, "")
		_, r := ada.login("dies@example.com", "third passphrase", "")
		expect(t, r, 200, "")

		// A reset is a password change too: a link sent before another
		// link's reset dies with it (covered above by the newer link), and
		// an address change voids the links sent to the old address.
		moved := resetLink(t, s, mail, "dies@example.com")
		expect(t, ada.do("PUT", "/users/me/email", map[string]any{"email": "moved@example.com"}), 200, "")
		expect(t, reset(moved, "fourth passphrase"), 400, "EMAIL_LINK_INVALID")
		_, r = s.client().login("moved@example.com", "third passphrase", "")
		expect(t, r, 200, "")
	})
}

// TestEmailChangeNeedsConfirmation (issue 21 item 8): with
// REQUIRE_EMAIL_VERIFICATION=true an email change answers 202 `data: null`
// for every address (main answered 409 EMAIL_TAKEN for a taken one, telling
// accounts apart) and moves nothing; the link mailed to a free address
// moves the account there, and the owner of a taken address gets a notice
// without a link.
func TestEmailChangeNeedsConfirmation(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := mailEnv(dbURL(t), mail)
		env["REQUIRE_EMAIL_VERIFICATION"] = "true"
		env["MAIL_RATE_PER_ADDRESS"] = "0"
		s := startServer(t, env)
		signUp := func(email string) *client {
			c := s.client()
			expect(t, c.do("POST", "/auth/register", map[string]any{"email": email, "password": "correct horse battery"}), 202, "")
			link := mail.WaitFor(t, email, "Confirm your email", mailWait)
			expect(t, c.do("POST", "/auth/email/verify", map[string]any{"token": link.Token()}), 200, "")
			_, r := c.login(email, "correct horse battery", "")
			expect(t, r, 200, "")
			return c
		}
		ada := signUp("ada@example.com")
		signUp("taken@example.com")

		taken := ada.do("PUT", "/users/me/email", map[string]any{"email": "TAKEN@example.com"})
		free := ada.do("PUT", "/users/me/email", map[string]any{"email": "free@example.com"})
		own := ada.do("PUT", "/users/me/email", map[string]any{"email": "ada@example.com"})
		for _, r := range []*response{taken, free, own} {
			expect(t, r, 202, "")
			if string(r.Env.Data) != "null" || r.Env.Message != free.Env.Message {
				t.Fatalf("answers differ: %s / %s", r.Body, free.Body)
			}
		}
		if me := ada.me(); me.Email != "ada@example.com" || !me.EmailVerified {
			t.Fatalf("a requested change moved the account: %+v", me)
		}

		// The owner of the taken address hears of it, with nothing to click.
		notice := mail.WaitFor(t, "taken@example.com", "Someone tried to use your address", mailWait)
		if notice.Token() != "" || notice.Link() != "" {
			t.Fatalf("the notice to the taken address carries a link:\n%s", notice.Text)
		}
		confirm := mail.WaitFor(t, "free@example.com", "Confirm the new email address", mailWait)
		time.Sleep(300 * time.Millisecond) // room for a (wrong) mail about the own address
		if n := countMail(t, mail, "ada@example.com", "Confirm the new email address"); n != 0 {
			t.Fatalf("a change to the own address mailed %d confirmation links", n)
		}
		if n := countMail(t, mail, "taken@example.com", "Confirm"); n != 1 { // its own sign-up link only
			t.Fatalf("the taken address got %d confirmation mails", n)
		}

		r := s.client().do("POST", "/auth/email/verify", map[string]any{"token": confirm.Token()})
		expect(t, r, 200, "")
		var u userData
		r.data(t, &u)
		if u.Email != "free@example.com" || !u.EmailVerified {
			t.Fatalf("after the link: %+v", u)
		}
		mail.WaitFor(t, "ada@example.com", "was changed", mailWait)
		if _, r := s.client().login("free@example.com", "correct horse battery", ""); r.Status != 200 {
			t.Fatalf("login at the new address: %d %s", r.Status, r.Body)
		}
		expect(t, s.client().do("POST", "/auth/email/verify", map[string]any{"token": confirm.Token()}), 400, "EMAIL_LINK_INVALID")
	})
}
