package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// Second-factor safety (issue 21, items 1, 4 and 12): factors only on a
// proven address, a notice for every factor change, a reset that keeps
// factors, a ceiling on failed codes, and "sign out other devices" with a
// first factor.

// mailsWith counts the mails to rcpt whose subject contains subject.
func mailsWith(t *testing.T, mail *smtptest.Server, rcpt, subject string) int {
	t.Helper()
	n := 0
	for _, m := range mail.Messages() {
		if !strings.Contains(strings.Join(m.To, ","), rcpt) {
			continue
		}
		p, err := smtptest.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.Subject, subject) {
			n++
		}
	}
	return n
}

// waitMail waits for the (before+1)-th mail to rcpt with subject and
// returns the newest; it fails the test after mailWait.
func waitMail(t *testing.T, mail *smtptest.Server, rcpt, subject string, before int) smtptest.Parsed {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for mailsWith(t, mail, rcpt, subject) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s with subject %q within %s", rcpt, subject, mailWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return mail.WaitFor(t, rcpt, subject, mailWait)
}

// verifyAddress opens the verification link mailed to c's new account.
func verifyAddress(t *testing.T, mail *smtptest.Server, c *client, email string) {
	t.Helper()
	link := mail.WaitFor(t, email, "Confirm your email address", mailWait)
	expect(t, c.do("POST", "/auth/email/verify", map[string]any{"token": link.Token()}), 200, "")
}

// resetPassword takes the account of email back through the mailbox:
// forgot-password, then the link of the new reset mail.
func resetPassword(t *testing.T, s *server, mail *smtptest.Server, email, newPassword string) {
	t.Helper()
	before := mailsWith(t, mail, email, "Reset your")
	anon := s.client()
	expect(t, anon.do("POST", "/auth/password/forgot", map[string]any{"email": email}), 202, "")
	link := waitMail(t, mail, email, "Reset your", before)
	expect(t, anon.do("POST", "/auth/password/reset", map[string]any{"token": link.Token(), "newPassword": newPassword}), 200, "")
}

// registerPasskey registers key for c's account; extra goes into the
// finishing request.
func registerPasskey(t *testing.T, c *client, key *softAuthenticator, extra map[string]any) *response {
	t.Helper()
	r := c.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "Soft key"})
	expect(t, r, 200, "")
	body := map[string]any{"credential": key.create(r.Env.Data)}
	for k, v := range extra {
		body[k] = v
	}
	return c.do("POST", "/auth/passkeys/registration", body)
}

// passkeyLogin signs in with key and returns the answer.
func passkeyLogin(t *testing.T, s *server, key *softAuthenticator) *response {
	t.Helper()
	anon := s.client()
	r := anon.do("POST", "/auth/passkeys/login/options", nil)
	expect(t, r, 200, "")
	var lo loginOptions
	r.data(t, &lo)
	return anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo.ChallengeID, "credential": key.get(lo.Options), "refreshTokenTransport": "body"})
}

// TestPlantedFactorPreHijacking is the attack of item 1 end to end: someone
// registers the victim's address and tries to plant a passkey (and TOTP)
// on it before the victim ever signs up; the victim takes the account back
// with a password reset. On main the attacker's passkey was accepted and
// still signed in (aal2, fresh) after the reset.
func TestPlantedFactorPreHijacking(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, mailEnv(dbURL(t), mail))
		const victim = "victim@example.com"
		attacker := s.client()
		attacker.register(victim, "attacker chose this 1")
		attackerKey := newSoftAuthenticator(t, "http://localhost:3000", "localhost") // PUBLIC_URL's default

		// Fresh token, unproven address: no factor can be planted.
		expect(t, attacker.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "Planted"}), 403, "EMAIL_NOT_VERIFIED")
		expect(t, attacker.do("POST", "/auth/passkeys/registration", map[string]any{"credential": attackerKey.create([]byte(`{"challenge":"AA","user":{"id":"AA"}}`))}), 403, "EMAIL_NOT_VERIFIED")
		expect(t, attacker.do("POST", "/auth/mfa/totp", nil), 403, "EMAIL_NOT_VERIFIED")
		expect(t, attacker.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": "123456"}), 403, "EMAIL_NOT_VERIFIED")
		r := attacker.do("GET", "/auth/passkeys", nil)
		expect(t, r, 200, "")
		if string(r.Env.Data) != "[]" {
			t.Fatalf("passkeys after refused enrolments: %s", r.Env.Data)
		}

		// The victim takes the account back through the mailbox.
		const victimPW = "the victim's own password"
		resetPassword(t, s, mail, victim, victimPW)
		expect(t, attacker.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		if _, r := s.client().login(victim, "attacker chose this 1", ""); r.Status != 401 {
			t.Fatalf("the attacker's password still signs in: %d", r.Status)
		}
		expect(t, passkeyLogin(t, s, attackerKey), 401, "PASSKEY_INVALID")

		// The reset proved the address: the owner enrols, and is told.
		owner := s.client()
		if _, r := owner.login(victim, victimPW, ""); r.Status != 200 {
			t.Fatalf("owner login: %s", r.Body)
		}
		ownerKey := newSoftAuthenticator(t, "http://localhost:3000", "localhost")
		expect(t, registerPasskey(t, owner, ownerKey, nil), 201, "")
		added := waitMail(t, mail, victim, "A passkey was added", 0)
		if added.Link() != "" || !strings.Contains(added.Text, victim) {
			t.Fatalf("passkey notice:\n%s", added.Text)
		}

		// A later reset keeps the factor (a mailbox alone never removes one)
		// and says so.
		resetPassword(t, s, mail, victim, "a second new password")
		notice := waitMail(t, mail, victim, "password was reset", 1)
		if !strings.Contains(notice.Text, "Passkeys and two-step verification were kept") {
			t.Fatalf("reset notice does not mention the kept factors:\n%s", notice.Text)
		}
		r = passkeyLogin(t, s, ownerKey)
		expect(t, r, 200, "")
		var viaKey tokenPair
		r.data(t, &viaKey)
		if aal, _, _ := claimsOf(t, viaKey.AccessToken); aal != "aal2" {
			t.Fatalf("passkey login after the reset: aal %q", aal)
		}

		// Passkeys alone do not raise the bar: the password's owner (fresh,
		// aal1) removes a passkey, and is told.
		pwOnly := s.client()
		if _, r := pwOnly.login(victim, "a second new password", ""); r.Status != 200 {
			t.Fatalf("password login: %s", r.Body)
		}
		r = pwOnly.do("GET", "/auth/passkeys", nil)
		var keys []struct {
			ID string `json:"id"`
		}
		r.data(t, &keys)
		if len(keys) != 1 {
			t.Fatalf("passkeys after the reset: %s", r.Env.Data)
		}
		expect(t, pwOnly.do("DELETE", "/auth/passkeys/"+keys[0].ID, nil), 200, "")
		waitMail(t, mail, victim, "A passkey was removed", 0)
		expect(t, passkeyLogin(t, s, ownerKey), 401, "PASSKEY_INVALID")
	})
}

// wrongCode is a 6-digit code that is none of the codes secret accepts
// around now, so a "wrong" guess can never be right by chance.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != totpCode(t, secret, -30*time.Second) && c != totpCode(t, secret, 0) && c != totpCode(t, secret, 30*time.Second) {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// withoutIDs is r's body without what differs between any two answers
// (timestamp, request ID), for comparing answers.
func withoutIDs(t *testing.T, r *response) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "timestamp")
	delete(m, "requestId")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ceilingEnv is mailEnv with the login throttle and the per-IP budget out
// of the way: the ceiling must hold on its own, as against an attacker with
// many addresses.
func ceilingEnv(dbURL string, mail *smtptest.Server) map[string]string {
	env := mailEnv(dbURL, mail)
	env["LOGIN_MAX_FAILURES"], env["LOGIN_BACKOFF_AFTER"], env["LOGIN_ACCOUNT_BACKOFF_AFTER"] = "100000", "0", "0"
	env["RATE_LIMIT_PER_IP"], env["SECURITY_EVENT_LIMIT"] = "0", "0"
	return env
}

// mfaFailedEvents counts c's mfa_failed security events across every page.
func mfaFailedEvents(t *testing.T, c *client) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		r := c.do("GET", "/users/me/security-events?limit=100&cursor="+url.QueryEscape(cursor), nil)
		expect(t, r, 200, "")
		var page struct {
			Items []struct {
				Type string `json:"type"`
			} `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		r.data(t, &page)
		for _, ev := range page.Items {
			if ev.Type == "mfa_failed" {
				n++
			}
		}
		if page.NextCursor == nil {
			return n
		}
		cursor = *page.NextCursor
	}
}

// TestSecondFactorFailureCeiling is item 4's attack at the default
// MFA_MAX_FAILURES (100): someone with the password guesses codes through
// ever new mfaTokens (five each) and reauthentications. On main every
// guess was checked, about 12,600 a day against the default throttle; now
// the 100th failure in a row ends the guessing: a right code gets the
// wrong code's answer, the owner is mailed once, and a recovery code
// restores access.
func TestSecondFactorFailureCeiling(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, ceilingEnv(dbURL(t), mail))
		const email, password = "guessed@example.com", "a password they stole"
		owner := s.client()
		owner.register(email, password)
		verifyAddress(t, mail, owner, email)
		secret, codes := enableTOTP(t, owner)

		const ceiling = 100
		var wrongAnswer *response
		failed := 0
		for failed < ceiling-1 {
			m := startMFALogin(t, s, email, password)
			c := s.client()
			for i := 0; i < 5 && failed < ceiling-1; i++ {
				wrongAnswer = c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": wrongCode(t, secret)})
				expect(t, wrongAnswer, 401, "MFA_CODE_INVALID")
				failed++
			}
		}
		// A reauthentication's wrong code counts against the same ceiling:
		// this is the 100th failure in a row.
		expect(t, owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password, "code": wrongCode(t, secret)}), 401, "MFA_CODE_INVALID")
		failed++

		// Past the ceiling the right code is refused, with the very answer a
		// wrong one gets, at both doors.
		m := startMFALogin(t, s, email, password)
		c := s.client()
		right := c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": totpCode(t, secret, 0)})
		expect(t, right, 401, "MFA_CODE_INVALID")
		if withoutIDs(t, right) != withoutIDs(t, wrongAnswer) {
			t.Fatalf("a right code past the ceiling answers differently from a wrong one: %s vs %s", right.Body, wrongAnswer.Body)
		}
		expect(t, owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password, "code": totpCode(t, secret, 0)}), 401, "MFA_CODE_INVALID")
		expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": wrongCode(t, secret)}), 401, "MFA_CODE_INVALID")
		failed += 3
		locked := waitMail(t, mail, email, "guessing your Gatehouse verification codes", 0)
		if !strings.Contains(locked.Text, "recovery codes") || locked.Link() != "" {
			t.Fatalf("ceiling notice:\n%s", locked.Text)
		}
		if n := mfaFailedEvents(t, owner); n != failed {
			t.Fatalf("%d mfa_failed events, want one per failed code (%d)", n, failed)
		}

		// A recovery code still works and lifts the ceiling; the app's codes
		// work again.
		m = startMFALogin(t, s, email, password)
		r := s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": codes[0], "refreshTokenTransport": "body"})
		expect(t, r, 200, "")
		var rescued tokenPair
		r.data(t, &rescued)
		m = startMFALogin(t, s, email, password)
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": totpCode(t, secret, 0)}), 200, "")

		// The owner was mailed once: a notice queued after the extra
		// failures (mail goes out in the order it was queued) arrives, and
		// still only one ceiling mail.
		owner.bearer = rescued.AccessToken
		expect(t, owner.do("POST", "/auth/mfa/recovery-codes", nil), 200, "")
		waitMail(t, mail, email, "New recovery codes", 0)
		if n := mailsWith(t, mail, email, "guessing your"); n != 1 {
			t.Fatalf("%d ceiling mails, want 1", n)
		}
		expect(t, owner.do("DELETE", "/auth/mfa/totp", nil), 200, "")
		waitMail(t, mail, email, "Two-step verification was turned off", 0)
		if n := mailsWith(t, mail, email, "Two-step verification was turned on"); n != 1 {
			t.Fatalf("%d notices of TOTP turned on, want 1", n)
		}
	})
}

// A password reset lifts the ceiling too (the factor stays): the owner
// who reached it without recovery codes gets back in with the mailbox and
// the app. Guesses sent in parallel across the ceiling are counted one by
// one: the owner is mailed once.
func TestPasswordResetLiftsTheCeiling(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		env := ceilingEnv(dbURL(t), mail)
		env["MFA_MAX_FAILURES"] = "3"
		s := startServer(t, env)
		const email, password = "lifted@example.com", "a password they stole"
		owner := s.client()
		owner.register(email, password)
		verifyAddress(t, mail, owner, email)
		secret, _ := enableTOTP(t, owner)
		tokens := []string{startMFALogin(t, s, email, password).MFAToken, startMFALogin(t, s, email, password).MFAToken}
		wrong := wrongCode(t, secret)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				r := s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": tokens[i%2], "code": wrong})
				if r.Status != 401 || r.code() != "MFA_CODE_INVALID" {
					t.Errorf("parallel wrong code: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		m := startMFALogin(t, s, email, password)
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": totpCode(t, secret, 0)}), 401, "MFA_CODE_INVALID")

		// The reset mail goes out after the ceiling's (mail leaves in the
		// order it was queued): by then a second ceiling mail would be there.
		resetPassword(t, s, mail, email, "the owner's new password")
		if n := mailsWith(t, mail, email, "guessing your"); n != 1 {
			t.Fatalf("%d ceiling mails after parallel guesses, want 1", n)
		}
		m = startMFALogin(t, s, email, "the owner's new password")
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": totpCode(t, secret, 0)}), 200, "")
	})
}

// Enrolling a factor can sign out every other device in the same step, as
// a password change does; without the field nothing else is signed out.
func TestEnrolmentSignsOutOtherSessions(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		const email, password = "devices@example.com", "many devices password"
		owner := s.client()
		owner.register(email, password)
		laptop := s.client()
		if _, r := laptop.login(email, password, ""); r.Status != 200 {
			t.Fatalf("login: %s", r.Body)
		}

		// A first factor with the field: the laptop's session ends (access
		// and refresh), the caller's stays.
		r := owner.do("POST", "/auth/mfa/totp", nil)
		expect(t, r, 200, "")
		var enr struct {
			Secret string `json:"secret"`
		}
		r.data(t, &enr)
		r = owner.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": totpCode(t, enr.Secret, -30*time.Second), "signOutOtherSessions": true})
		expect(t, r, 200, "")
		var rc struct {
			RecoveryCodes []string `json:"recoveryCodes"`
		}
		r.data(t, &rc)
		expect(t, laptop.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		laptop.bearer = ""
		expect(t, laptop.do("POST", "/auth/refresh", nil), 401, "REFRESH_TOKEN_INVALID")
		expect(t, owner.do("GET", "/users/me", nil), 200, "")
		expect(t, owner.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": "123456", "signOutOtherSessions": "yes"}), 400, "MALFORMED_JSON")

		// Step up to aal2; two more devices sign in with recovery codes.
		r = owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password, "code": totpCode(t, enr.Secret, 0)})
		expect(t, r, 200, "")
		var aal2 tokenPair
		r.data(t, &aal2)
		owner.bearer = aal2.AccessToken
		device := func(code string) *client {
			c := s.client()
			m := startMFALogin(t, s, email, password)
			r := c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": code, "refreshTokenTransport": "body"})
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			c.bearer = p.AccessToken
			return c
		}
		tablet, phone := device(rc.RecoveryCodes[0]), device(rc.RecoveryCodes[1])

		// A passkey without the field leaves them signed in; with it, they end.
		expect(t, registerPasskey(t, owner, newSoftAuthenticator(t, "http://localhost:3000", "localhost"), nil), 201, "")
		expect(t, tablet.do("GET", "/users/me", nil), 200, "")
		expect(t, registerPasskey(t, owner, newSoftAuthenticator(t, "http://localhost:3000", "localhost"), map[string]any{"signOutOtherSessions": true}), 201, "")
		expect(t, tablet.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		expect(t, phone.do("GET", "/users/me", nil), 401, "SESSION_REVOKED")
		r = owner.do("GET", "/auth/sessions", nil)
		expect(t, r, 200, "")
		var sessions []struct {
			ID string `json:"id"`
		}
		r.data(t, &sessions)
		if len(sessions) != 1 || sessions[0].ID != aal2.Session.ID {
			t.Fatalf("sessions left: %s", r.Env.Data)
		}
	})
}
