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

// pairedTiming is a comparison of two kinds of request, measured in
// interleaved pairs: the baseline a and the kind b.
type pairedTiming struct {
	a, b durations
	// paired is the median of the per-pair ratios b/a, quartiles the
	// ratio of the lower quartiles.
	paired, quartiles float64
}

// timePairs sends n pairs of a and b, alternating which goes first
// (ABBA...), so both are sampled under the same conditions; each function
// gets the pair's index and returns how long its request took.
func timePairs(n int, a, b func(i int) time.Duration) pairedTiming {
	var tm pairedTiming
	ratios := make([]float64, 0, n)
	for i := range n {
		var da, db time.Duration
		if i%2 == 0 {
			da = a(i)
			db = b(i)
		} else {
			db = b(i)
			da = a(i)
		}
		tm.a, tm.b = append(tm.a, da), append(tm.b, db)
		ratios = append(ratios, float64(db)/float64(da))
	}
	slices.Sort(ratios)
	tm.paired = (ratios[n/2-1] + ratios[n/2]) / 2
	tm.quartiles = float64(tm.b.quantile(0.25)) / float64(tm.a.quantile(0.25))
	return tm
}

// check logs both distributions and the estimators, and fails the test
// when both estimators are further from 1 than maxRatio: a real difference
// shifts the whole distribution and moves both, while noise on a busy
// machine tends to push one of them at a time. bName and aName name the
// two kinds in the messages; revealed says what a failure gives away.
func (tm pairedTiming) check(t *testing.T, maxRatio float64, bName, aName, revealed string) {
	t.Helper()
	t.Logf("%s: %s", aName, tm.a)
	t.Logf("%s: %s", bName, tm.b)
	t.Logf("%s / %s: median per-pair ratio %.3f, ratio of lower quartiles %.3f, ratio of medians %.3f (allowed %.2f..%.2f)",
		bName, aName, tm.paired, tm.quartiles, float64(tm.b.median())/float64(tm.a.median()), 1/maxRatio, maxRatio)
	off := func(r float64) bool { return r > maxRatio || r < 1/maxRatio }
	if off(tm.paired) && off(tm.quartiles) {
		t.Errorf("%s takes %.2f times as long as %s (medians %s and %s): %s",
			bName, tm.paired, aName, tm.b.median(), tm.a.median(), revealed)
	}
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

	// Warm up both paths (connections, the dummy hash, page cache).
	for i := range 2 {
		failedLogin(t, hc, base, fmt.Sprintf("warmup%d@example.com", i))
		failedLogin(t, hc, base, emails[i%accounts])
	}
	timePairs(pairs,
		func(i int) time.Duration { return failedLogin(t, hc, base, fmt.Sprintf("nobody%d@example.com", i)) },
		func(i int) time.Duration { return failedLogin(t, hc, base, emails[i%accounts]) },
	).check(t, maxRatio, "a login with a wrong password", "one with an unknown email",
		"response times reveal which emails have an account")
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
		timePairs(pairs,
			func(i int) time.Duration { return failedLogin(t, hc, p.base, fmt.Sprintf("nobody%d@example.com", i)) },
			func(i int) time.Duration { return failedLogin(t, hc, p.base, emails[i%accounts]) },
		).check(t, maxRatio, "a failed login of an existing account", "one of an unknown email",
			"its database work reveals which emails have an account")
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
	env["EXAMPLE_APP_ENABLED"] = "true" // the default links' page
	env["MAIL_POLL_INTERVAL"] = "50ms"
	// The per-address budget would answer known addresses (used again and
	// again here) from its cheaper refusal path; it is the same path for
	// unknown addresses, and TestForgotPasswordThrottled covers it.
	env["MAIL_RATE_PER_ADDRESS"] = "0"
	env["MAIL_RATE_PER_IP"] = "0"
	p := startBinary(t, env)
	hc := &http.Client{Timeout: 30 * time.Second}
	emails := timingAccounts(t, hc, p.base, accounts)

	for i := range 4 {
		forgot(t, hc, p.base, fmt.Sprintf("warmup%d@example.com", i))
		forgot(t, hc, p.base, emails[i%accounts])
	}
	var unknownBody string
	timePairs(pairs,
		func(i int) time.Duration {
			d, body := forgot(t, hc, p.base, fmt.Sprintf("nobody%d@example.com", i))
			unknownBody = body
			return d
		},
		func(i int) time.Duration {
			d, body := forgot(t, hc, p.base, emails[i%accounts])
			if unknownBody != "" && body != unknownBody {
				t.Fatalf("answers differ: unknown %q, known %q", unknownBody, body)
			}
			return d
		},
	).check(t, maxRatio, "forgot-password for a known address", "for an unknown one",
		"response times reveal which addresses have an account")
	// The known addresses did get their links; the unknown ones nothing.
	mail.WaitFor(t, emails[0], "Reset", 30*time.Second)
	if n := mail.Count("nobody0@example.com"); n != 0 {
		t.Fatalf("an unknown address got %d mails", n)
	}
}
