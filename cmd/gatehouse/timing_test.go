package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// timingEnv is the configuration of the timing measurements: the real
// password-hashing cost (no PASSWORD_ARGON2_* setting, so the defaults:
// argon2id, 19 MiB, two iterations), since the point is what the hash
// costs and the cheap test setting would hide a difference behind noise;
// and failure counting out of reach, so that login throttling (which slows
// or locks an account after failures) takes no part in the figures.
func timingEnv() map[string]string {
	return map[string]string{
		"COOKIE_SECURE":       "false",
		"LOG_LEVEL":           "error",
		"RATE_LIMIT_PER_IP":   "0",
		"LOGIN_MAX_FAILURES":  "1000000",
		"LOGIN_BACKOFF_AFTER": "1000000",
	}
}

// timingAccounts registers n accounts and returns their emails.
func timingAccounts(tb testing.TB, hc *http.Client, base string, n int) []string {
	tb.Helper()
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("timing%d@example.com", i)
		o := probe(tb, hc, base, "POST", "/auth/register", map[string]any{"email": emails[i], "password": "the right password"}, "")
		if o.status() != 201 {
			tb.Fatalf("register: %s: %s", o, bodyOf(o))
		}
	}
	return emails
}

// failedLogin sends one login that must fail with INVALID_CREDENTIALS and
// returns how long the answer took.
func failedLogin(tb testing.TB, hc *http.Client, base, email string) time.Duration {
	o := probe(tb, hc, base, "POST", "/auth/login", map[string]any{"email": email, "password": "a wrong password"}, "")
	if o.status() != 401 || o.resp.code() != "INVALID_CREDENTIALS" {
		tb.Fatalf("login %s: %s, want 401 INVALID_CREDENTIALS: %s", email, o, bodyOf(o))
	}
	return o.elapsed
}

// TestLoginTimingDoesNotRevealAccounts: a login with an unknown email and
// one with a registered email but a wrong password must take the same time
// within noise, or response times tell an attacker which addresses have an
// account. The guard is the dummy hash the service verifies for unknown
// emails: without it an unknown email costs one indexed lookup, a small
// fraction of the hash, and this test fails by a factor of ten or more.
//
// It measures the built binary, not the in-process graph: this test binary
// runs under the race detector, which slows Go code (argon2's included)
// several times over and would measure something that does not ship.
//
// The two kinds are interleaved in pairs, alternating which goes first
// (ABBA...), through the real HTTP stack with the real hash cost, so both
// are sampled under the same conditions. Two estimators compare them: the
// median of the per-pair ratios (load that hits both requests of a pair
// alike cancels out) and the ratio of the lower quartiles (noise from
// other processes only ever adds time, so the fast end of each
// distribution is closest to what the request itself costs). A real
// difference, such as a missing dummy hash, shifts the whole distribution
// and moves both far outside the bound, while noise on a busy machine tends
// to push one of them at a time. So the test fails when both are more than
// 25% off. The overall medians are logged too.
func TestLoginTimingDoesNotRevealAccounts(t *testing.T) {
	const (
		pairs    = 30
		accounts = 5
		// maxRatio bounds how far from 1 the estimators may be.
		maxRatio = 1.25
	)
	env := timingEnv()
	p := startBinary(t, env)
	base := p.base
	hc := &http.Client{Timeout: 30 * time.Second}
	emails := timingAccounts(t, hc, base, accounts)

	var unknown, wrong durations
	var ratios []float64 // wrong/unknown, per pair
	// Warm up both paths (connections, the dummy hash, page cache).
	for i := range 2 {
		failedLogin(t, hc, base, fmt.Sprintf("warmup%d@example.com", i))
		failedLogin(t, hc, base, emails[i%accounts])
	}
	for i := range pairs {
		var u, w time.Duration
		unknownLogin := func() { u = failedLogin(t, hc, base, fmt.Sprintf("nobody%d@example.com", i)) }
		wrongLogin := func() { w = failedLogin(t, hc, base, emails[i%accounts]) }
		if i%2 == 0 {
			unknownLogin()
			wrongLogin()
		} else {
			wrongLogin()
			unknownLogin()
		}
		unknown, wrong = append(unknown, u), append(wrong, w)
		ratios = append(ratios, float64(w)/float64(u))
	}
	slices.Sort(ratios)
	paired := (ratios[pairs/2-1] + ratios[pairs/2]) / 2
	quartiles := float64(wrong.quantile(0.25)) / float64(unknown.quantile(0.25))
	t.Logf("unknown email:  %s", unknown)
	t.Logf("wrong password: %s", wrong)
	t.Logf("wrong/unknown: median per-pair ratio %.3f, ratio of lower quartiles %.3f, ratio of medians %.3f (allowed %.2f..%.2f)",
		paired, quartiles, float64(wrong.median())/float64(unknown.median()), 1/maxRatio, maxRatio)
	off := func(r float64) bool { return r > maxRatio || r < 1/maxRatio }
	if off(paired) && off(quartiles) {
		t.Errorf("a login with a wrong password takes %.2f times as long as one with an unknown email "+
			"(medians %s and %s): response times reveal which emails have an account",
			paired, wrong.median(), unknown.median())
	}
}

// TestFailedLoginDatabaseWorkDoesNotRevealAccounts (issue 21 item 8): the
// database work of a failed login must not depend on whether the account
// exists either. Main recorded a wrong password's login_failed event in a
// transaction of its own (an event-cap count, an insert, a commit: 4.5 to
// 6.4 ms with a real disk's fsync), which unknown emails never paid. With
// the real hash that hides in its noise here (fsync is off in the test
// cluster); with a cheap hash the hash no longer hides anything, so this
// measures the rest of the request: known/unknown was 1.36 on main on both
// engines (medians 1.5 vs 1.1 ms on SQLite, 3.0 vs 2.2 ms on PostgreSQL).
// Interleaved pairs in ABBA order through the built binary; it fails when
// both the median per-pair ratio and the ratio of lower quartiles are more
// than 20% off, like the tests above.
func TestFailedLoginDatabaseWorkDoesNotRevealAccounts(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		const (
			pairs    = 100
			accounts = 5
			maxRatio = 1.2
		)
		env := timingEnv()
		env["PASSWORD_ARGON2_MEMORY"] = "64KiB"
		env["PASSWORD_ARGON2_ITERATIONS"] = "1"
		if url := dbURL(t); strings.HasPrefix(url, "postgres") {
			env["DATABASE_URL"] = url
		}
		p := startBinary(t, env)
		hc := &http.Client{Timeout: 30 * time.Second}
		emails := timingAccounts(t, hc, p.base, accounts)
		for i := range 10 {
			failedLogin(t, hc, p.base, fmt.Sprintf("warmup%d@example.com", i))
			failedLogin(t, hc, p.base, emails[i%accounts])
		}
		var unknown, wrong durations
		var ratios []float64
		for i := range pairs {
			var u, w time.Duration
			unknownLogin := func() { u = failedLogin(t, hc, p.base, fmt.Sprintf("nobody%d@example.com", i)) }
			wrongLogin := func() { w = failedLogin(t, hc, p.base, emails[i%accounts]) }
			if i%2 == 0 {
				unknownLogin()
				wrongLogin()
			} else {
				wrongLogin()
				unknownLogin()
			}
			unknown, wrong = append(unknown, u), append(wrong, w)
			ratios = append(ratios, float64(w)/float64(u))
		}
		slices.Sort(ratios)
		paired := (ratios[pairs/2-1] + ratios[pairs/2]) / 2
		quartiles := float64(wrong.quantile(0.25)) / float64(unknown.quantile(0.25))
		t.Logf("unknown email:  %s", unknown)
		t.Logf("wrong password: %s", wrong)
		t.Logf("wrong/unknown: median per-pair ratio %.3f, ratio of lower quartiles %.3f, ratio of medians %.3f (allowed %.2f..%.2f)",
			paired, quartiles, float64(wrong.median())/float64(unknown.median()), 1/maxRatio, maxRatio)
		off := func(r float64) bool { return r > maxRatio || r < 1/maxRatio }
		if off(paired) && off(quartiles) {
			t.Errorf("a failed login of an existing account takes %.2f times as long as one of an unknown email "+
				"(medians %s and %s): its database work reveals which emails have an account",
				paired, wrong.median(), unknown.median())
		}
	})
}

// BenchmarkLoginUnknownEmail and BenchmarkLoginWrongPassword measure the
// two failed-login paths through the real HTTP stack with the real hash
// cost; compare them with benchstat. Run with -benchtime=50x or so: each
// iteration is one argon2id hash.
func BenchmarkLoginUnknownEmail(b *testing.B) {
	benchmarkFailedLogin(b, false)
}

func BenchmarkLoginWrongPassword(b *testing.B) {
	benchmarkFailedLogin(b, true)
}

func benchmarkFailedLogin(b *testing.B, known bool) {
	env := timingEnv()
	env["HTTP_ADDR"] = "127.0.0.1:0"
	env["DATABASE_URL"] = "sqlite://" + b.TempDir() + "/bench.db"
	env["CONFIG_FILE"] = ""
	base := startApp(b, env)
	hc := &http.Client{Timeout: 30 * time.Second}
	emails := timingAccounts(b, hc, base, 5)
	failedLogin(b, hc, base, emails[0])
	failedLogin(b, hc, base, "warmup@example.com")
	for i := 0; b.Loop(); i++ {
		email := fmt.Sprintf("nobody%d@example.com", i)
		if known {
			email = emails[i%len(emails)]
		}
		failedLogin(b, hc, base, email)
	}
}

// forgot sends one forgot-password request, which must be accepted, and
// returns how long the answer took and its body without the per-response
// fields (timestamp, requestId).
func forgot(tb testing.TB, hc *http.Client, base, email string) (time.Duration, string) {
	o := probe(tb, hc, base, "POST", "/auth/password/forgot", map[string]any{"email": email}, "")
	if o.status() != 202 {
		tb.Fatalf("forgot %s: %s, want 202: %s", email, o, bodyOf(o))
	}
	return o.elapsed, fmt.Sprintf("%d %s %s", o.resp.Env.StatusCode, o.resp.Env.Message, o.resp.Env.Data)
}

// TestForgotPasswordTimingDoesNotRevealAccounts: forgot-password for an
// address with an account and for one without must answer alike: the same
// status and body, and the same time within noise, measured like the login
// timing test (the built binary, interleaved pairs in ABBA order, the
// median per-pair ratio and the ratio of lower quartiles; it fails when both
// are more than 25% off). What keeps them equal is that the request does
// the same work for every address: it queues the request itself, and the
// background sender looks the account up later.
func TestForgotPasswordTimingDoesNotRevealAccounts(t *testing.T) {
	const (
		pairs    = 60
		accounts = 5
		maxRatio = 1.25
	)
	mail := smtptest.Start(t, smtptest.Options{})
	env := timingEnv()
	env["MAIL_URL"] = mail.URL()
	env["MAIL_POLL_INTERVAL"] = "50ms"
	// The per-address budget would answer known addresses (used again and
	// again here) from its cheaper refusal path; it is the same path for
	// unknown addresses, and TestForgotPasswordThrottled covers it.
	env["MAIL_RATE_PER_ADDRESS"] = "0"
	env["MAIL_RATE_PER_IP"] = "0"
	p := startBinary(t, env)
	hc := &http.Client{Timeout: 30 * time.Second}
	emails := timingAccounts(t, hc, p.base, accounts)

	var unknown, known durations
	var ratios []float64 // known/unknown, per pair
	for i := range 4 {
		forgot(t, hc, p.base, fmt.Sprintf("warmup%d@example.com", i))
		forgot(t, hc, p.base, emails[i%accounts])
	}
	for i := range pairs {
		var u, k time.Duration
		var ub, kb string
		unknownReq := func() { u, ub = forgot(t, hc, p.base, fmt.Sprintf("nobody%d@example.com", i)) }
		knownReq := func() { k, kb = forgot(t, hc, p.base, emails[i%accounts]) }
		if i%2 == 0 {
			unknownReq()
			knownReq()
		} else {
			knownReq()
			unknownReq()
		}
		if ub != kb {
			t.Fatalf("answers differ: unknown %q, known %q", ub, kb)
		}
		unknown, known = append(unknown, u), append(known, k)
		ratios = append(ratios, float64(k)/float64(u))
	}
	slices.Sort(ratios)
	paired := (ratios[pairs/2-1] + ratios[pairs/2]) / 2
	quartiles := float64(known.quantile(0.25)) / float64(unknown.quantile(0.25))
	t.Logf("unknown address: %s", unknown)
	t.Logf("known address:   %s", known)
	t.Logf("known/unknown: median per-pair ratio %.3f, ratio of lower quartiles %.3f, ratio of medians %.3f (allowed %.2f..%.2f)",
		paired, quartiles, float64(known.median())/float64(unknown.median()), 1/maxRatio, maxRatio)
	off := func(r float64) bool { return r > maxRatio || r < 1/maxRatio }
	if off(paired) && off(quartiles) {
		t.Errorf("forgot-password for a known address takes %.2f times as long as for an unknown one "+
			"(medians %s and %s): response times reveal which addresses have an account",
			paired, known.median(), unknown.median())
	}
	// The known addresses did get their links; the unknown ones nothing.
	mail.WaitFor(t, emails[0], "Reset", 30*time.Second)
	if n := mail.Count("nobody0@example.com"); n != 0 {
		t.Fatalf("an unknown address got %d mails", n)
	}
}
