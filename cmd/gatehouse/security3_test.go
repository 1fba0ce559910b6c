package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// attackScale reads an integer knob for the attack re-runs of issue 21
// (ATTACK_FIGURES=1 runs them at the review's scale and logs the figures);
// small by default, so make test stays quick.
func attackScale(t *testing.T, small, full int) int {
	t.Helper()
	if os.Getenv("ATTACK_FIGURES") == "" {
		return small
	}
	return full
}

type securityEvent struct {
	Type       string `json:"type"`
	Suppressed int    `json:"suppressed"`
}

// allEvents pages through c's security events, newest first.
func allEvents(t *testing.T, c *client) []securityEvent {
	t.Helper()
	var out []securityEvent
	cursor := ""
	for {
		path := "/users/me/security-events?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := c.do("GET", path, nil)
		expect(t, r, 200, "")
		var page struct {
			Items      []securityEvent `json:"items"`
			NextCursor *string         `json:"nextCursor"`
		}
		r.data(t, &page)
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

// Issue 21 item 3: an attacker who fills SECURITY_EVENT_LIMIT with
// reauthentications hides nothing that changes the account: the factor
// added afterwards is recorded, and one marker counts what was dropped.
func TestSecurityEventFloodKeepsAccountEvents(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		limit := attackScale(t, 12, 300)
		env := testEnv(dbURL(t))
		env["SECURITY_EVENT_LIMIT"] = strconv.Itoa(limit) + "/1h"
		env["RATE_LIMIT_PER_IP"] = "0"
		s := startServer(t, env)
		c := s.client()
		c.register("flood@example.com", "flood password 1") // login_succeeded: routine
		flood := limit + 5
		for range flood {
			r := c.do("POST", "/auth/reauthenticate", map[string]any{"password": "flood password 1"})
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			c.bearer = p.AccessToken
		}
		enableTOTP(t, c)
		events := allEvents(t, c)
		counts := map[string]int{}
		suppressed := 0
		for _, e := range events {
			counts[e.Type]++
			suppressed += e.Suppressed
		}
		t.Logf("limit %d, %d reauthentications then TOTP enabled: %d events kept %v, %d counted as suppressed",
			limit, flood, len(events), counts, suppressed)
		if counts["mfa_enabled"] != 1 {
			t.Errorf("the factor added after the flood was not recorded: %v", counts)
		}
		if counts["login_succeeded"]+counts["reauthenticated"] != limit {
			t.Errorf("%d routine events kept, want the bound %d", counts["login_succeeded"]+counts["reauthenticated"], limit)
		}
		if counts["events_suppressed"] != 1 || suppressed != flood+1-limit {
			t.Errorf("%d markers counting %d, want one counting %d", counts["events_suppressed"], suppressed, flood+1-limit)
		}
	})
}

// queuedMail counts the mails of kind waiting in the outbox (the SMTP
// server is down, so nothing leaves it).
func queuedMail(t *testing.T, db *gorm.DB, kind string) int {
	t.Helper()
	var n int
	if err := db.Raw("SELECT count(*) FROM mail_outbox WHERE kind = ?", kind).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 21 item 10: the verification mails registration sends count in
// MAIL_RATE_PER_IP and MAIL_RATE_PER_ADDRESS; over budget the account is
// still created, its mail is simply not sent.
func TestRegistrationMailsCountInMailBudgets(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		mail.Stop()
		url := dbURL(t)
		env := mailEnv(url, mail)
		env["MAIL_RATE_PER_IP"] = "3/1h"
		s := startServer(t, env)
		for i := range 5 {
			s.client().register(fmt.Sprintf("many%d@example.com", i), "correct horse battery")
		}
		db := openDB(t, url)
		if n := queuedMail(t, db, "verify_email"); n != 3 {
			t.Errorf("%d verification mails queued for 5 registrations from one IP with MAIL_RATE_PER_IP=3", n)
		}
		// Every account exists: the one whose mail was not sent logs in.
		if _, r := s.client().login("many4@example.com", "correct horse battery", ""); r.Status != 200 {
			t.Errorf("login of a registration over the mail budget: %d %s", r.Status, r.Body)
		}

		// Per address: a registration and its repeats (which mail the owner
		// a notice when registration must not tell accounts apart) share
		// the address's budget.
		url2 := dbURL(t)
		env = mailEnv(url2, mail)
		env["REQUIRE_EMAIL_VERIFICATION"] = "true"
		env["MAIL_RATE_PER_IP"] = "0"
		env["MAIL_RATE_PER_ADDRESS"] = "2/1h"
		s = startServer(t, env)
		for range 5 {
			expect(t, s.client().do("POST", "/auth/register", map[string]any{"email": "one@example.com", "password": "correct horse battery"}), 202, "")
		}
		db = openDB(t, url2)
		if v, n := queuedMail(t, db, "verify_email"), queuedMail(t, db, "account_exists"); v+n != 2 || v != 1 {
			t.Errorf("%d verification mails and %d notices for 5 registrations of one address with MAIL_RATE_PER_ADDRESS=2", v, n)
		}
	})
}
