package mfa_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/mfa"
)

func TestAcceptStep(t *testing.T) {
	for _, tc := range []struct {
		matched, last int64
		ok            bool
	}{
		{100, 0, true},    // first use
		{101, 100, true},  // the next step
		{100, 100, false}, // the same code again
		{99, 100, false},  // an older code still in the drift window
	} {
		if got := mfa.AcceptStep(tc.matched, tc.last); got != tc.ok {
			t.Errorf("AcceptStep(%d, %d) = %v", tc.matched, tc.last, got)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes := mfa.NewRecoveryCodes()
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	shape := regexp.MustCompile(`^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !shape.MatchString(c) || seen[c] {
			t.Fatalf("code %q malformed or repeated", c)
		}
		seen[c] = true
		for _, typed := range []string{c, " " + c + " ", stringsToUpper(c), removeHyphens(c)} {
			n, ok := mfa.NormalizeRecoveryCode(typed)
			if !ok || n != removeHyphens(c) {
				t.Errorf("Normalize(%q) = %q, %v", typed, n, ok)
			}
		}
	}
	for _, bad := range []string{"", "abcd", "abcd-efgh-jkmn-pqr0", "abcd-efgh-jkmn-pqrs-t", "ábcd-efgh-jkmn-pqrs", "123456"} {
		if _, ok := mfa.NormalizeRecoveryCode(bad); ok {
			t.Errorf("Normalize(%q) accepted", bad)
		}
	}
	if mfa.HashRecoveryCode("u1", "abcd") == mfa.HashRecoveryCode("u2", "abcd") {
		t.Error("equal codes of two accounts hash alike")
	}
}

func stringsToUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func removeHyphens(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestChallengeUsable(t *testing.T) {
	now := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	c := mfa.Challenge{CreatedAt: now, ExpiresAt: now.Add(mfa.ChallengeTTL)}
	if !c.Usable(now) || !c.Usable(now.Add(mfa.ChallengeTTL-time.Nanosecond)) {
		t.Fatal("a fresh challenge is not usable")
	}
	if c.Usable(now.Add(mfa.ChallengeTTL)) {
		t.Error("usable at its expiry")
	}
	c.Failures = mfa.MaxChallengeFailures - 1
	if !c.Usable(now) {
		t.Error("not usable after 4 wrong codes")
	}
	c.Failures = mfa.MaxChallengeFailures
	if c.Usable(now) {
		t.Error("usable after 5 wrong codes")
	}
	c.Failures, c.UsedAt = 0, now
	if c.Usable(now) {
		t.Error("usable after it was used")
	}
}

func TestTOTPActive(t *testing.T) {
	if (mfa.TOTP{Pending: "X"}).Active() {
		t.Error("a pending enrolment counts as active")
	}
	if !(mfa.TOTP{Secret: "X", ConfirmedAt: time.Now()}).Active() {
		t.Error("a confirmed secret is not active")
	}
}
