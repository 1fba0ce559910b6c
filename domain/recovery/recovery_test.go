package recovery

import (
	"strings"
	"testing"
	"time"
)

func TestSecretShapeAndHash(t *testing.T) {
	raw, hash := NewSecret()
	if len(raw) != 43 || strings.ContainsAny(raw, "+/=") {
		t.Fatalf("token %q: want 43 characters of unpadded base64url (256 bits)", raw)
	}
	got, ok := HashSecret(raw)
	if !ok || got != hash {
		t.Fatal("a fresh token does not hash to its stored hash")
	}
	other, _ := NewSecret()
	if other == raw {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", "short", raw + "A", raw[:42] + "=", strings.Repeat("*", 43)} {
		if _, ok := HashSecret(bad); ok {
			t.Errorf("HashSecret(%q) accepted", bad)
		}
	}
}

func TestAccepts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	_, h := NewSecret()
	tok := Issue(h, PurposePasswordReset, "u1", "ada@example.com", now, 30*time.Minute)
	cases := []struct {
		name    string
		purpose Purpose
		email   string
		at      time.Time
		want    bool
	}{
		{"fresh", PurposePasswordReset, "ada@example.com", now, true},
		{"just before expiry", PurposePasswordReset, "ada@example.com", now.Add(30*time.Minute - time.Nanosecond), true},
		{"at expiry", PurposePasswordReset, "ada@example.com", now.Add(30 * time.Minute), false},
		{"other purpose", PurposeVerifyEmail, "ada@example.com", now, false},
		{"address changed", PurposePasswordReset, "ada@example.org", now, false},
	}
	for _, c := range cases {
		if got := tok.Accepts(c.purpose, c.email, c.at); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
