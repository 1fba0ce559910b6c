package emailtoken

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
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
	ada := user.User{ID: "u1", Email: "ada@example.com", CredentialVersion: 3}
	moved := ada
	moved.Email = "ada@example.org"
	changed := ada
	changed.CredentialVersion++
	other := ada
	other.ID = "u2"
	reset := Issue(h, PurposePasswordReset, ada, ada.Email, now, 30*time.Minute)
	verify := Issue(h, PurposeVerifyEmail, ada, ada.Email, now, 30*time.Minute)
	change := Issue(h, PurposeChangeEmail, ada, "new@example.net", now, 30*time.Minute)
	cases := []struct {
		name    string
		tok     Token
		purpose Purpose
		u       user.User
		at      time.Time
		want    bool
	}{
		{"fresh", reset, PurposePasswordReset, ada, now, true},
		{"just before expiry", reset, PurposePasswordReset, ada, now.Add(30*time.Minute - time.Nanosecond), true},
		{"at expiry", reset, PurposePasswordReset, ada, now.Add(30 * time.Minute), false},
		{"other purpose", reset, PurposeVerifyEmail, ada, now, false},
		{"address changed", reset, PurposePasswordReset, moved, now, false},
		{"password changed", reset, PurposePasswordReset, changed, now, false},
		{"another account", reset, PurposePasswordReset, other, now, false},
		{"verification after a password change", verify, PurposeVerifyEmail, changed, now, true},
		{"verification after an address change", verify, PurposeVerifyEmail, moved, now, false},
		{"email change", change, PurposeChangeEmail, ada, now, true},
		{"email change after a password change", change, PurposeChangeEmail, changed, now, false},
		{"email change used as a reset", change, PurposePasswordReset, ada, now, false},
	}
	for _, c := range cases {
		if got := c.tok.Accepts(c.purpose, c.u, c.at); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !Supersedes(PurposePasswordReset) || !Supersedes(PurposeChangeEmail) || Supersedes(PurposeVerifyEmail) {
		t.Error("only reset and email-change links replace the older ones")
	}
}
