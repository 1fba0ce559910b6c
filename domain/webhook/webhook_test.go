package webhook_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestRetryDoublesFrom5sTo1hFor24h(t *testing.T) {
	r := webhook.DefaultRetry
	var waits []time.Duration
	now := t0
	for attempt := 1; ; attempt++ {
		next, ok := r.Next(attempt, t0, now)
		if !ok {
			break
		}
		waits = append(waits, next.Sub(now))
		now = next
		if attempt > 100 {
			t.Fatal("never gives up")
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second, time.Hour}
	for i, w := range want {
		if waits[i] != w {
			t.Fatalf("wait %d = %s, want %s (all %v)", i+1, waits[i], w, waits)
		}
	}
	for _, w := range waits[len(want):] {
		if w != time.Hour {
			t.Fatalf("wait past the cap: %s", w)
		}
	}
	if now.After(t0.Add(24*time.Hour)) || now.Before(t0.Add(23*time.Hour)) {
		t.Fatalf("last attempt at %s, want within the last hour of the 24", now.Sub(t0))
	}
	// A new window (an operator's retry) starts the 24 hours again.
	if _, ok := r.Next(30, now, now); !ok {
		t.Error("a fresh window gave up at once")
	}
}

func TestRevokeReasons(t *testing.T) {
	for stored, want := range map[string]string{
		"logout": "logout", "logout_all": "logout_all", "revoked_by_user": "revoked",
		"refresh_reuse_detected": "reuse_detected", "password_changed": "password_changed",
		"password_reset": "password_reset", "admin": "admin", "disabled": "disabled",
		"factor_added": "revoked", "session_limit": "revoked", "oauth_logout": "revoked",
	} {
		if got, ok := webhook.RevokeReason(stored); !ok || got != want {
			t.Errorf("%s -> %q, %v; want %q", stored, got, ok, want)
		}
	}
	if _, ok := webhook.RevokeReason("account_deleted"); ok {
		t.Error("a deletion's revocations send session.revoked; user.deleted reports it")
	}
}

func TestParseTypes(t *testing.T) {
	all, err := webhook.ParseTypes(" ")
	if err != nil || len(all) != 12 {
		t.Fatalf("all: %v %v", all, err)
	}
	some, err := webhook.ParseTypes("user.created, session.revoked")
	if err != nil || len(some) != 2 || some[1] != webhook.SessionRevoked {
		t.Fatalf("some: %v %v", some, err)
	}
	if _, err := webhook.ParseTypes("user.created,user.craeted"); err == nil || !strings.Contains(err.Error(), "user.craeted") {
		t.Fatalf("a typo must name itself: %v", err)
	}
}

// TestEventsCarryNothingSecret builds every event type from an account
// that has a password hash and a session with a token, and checks that no
// body holds any of them, nor a link or a code.
func TestEventsCarryNothingSecret(t *testing.T) {
	u := user.User{
		ID: "u1", Email: "ada@example.com", Name: "Ada", Roles: []string{"user"},
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", CredentialVersion: 7,
		AppMetadata: `{"tenant":"acme"}`, CreatedAt: t0, UpdatedAt: t0,
	}
	events := []webhook.Event{
		webhook.NewUserCreated("e1", u, webhook.MethodPassword, t0),
		webhook.NewUserUpdated("e2", u, []string{"name"}, t0),
		webhook.NewUserDeleted("e3", u.ID, t0),
		webhook.NewSessionCreated("e4", u.ID, "s1", "password", "192.0.2.1", "agent", t0),
		webhook.NewSessionRevoked("e5", u.ID, "s1", "logout", t0),
		webhook.NewRefreshTokenReused("e6", u.ID, "s1", "192.0.2.1", t0),
		webhook.NewPasswordChanged("e7", u.ID, webhook.ViaReset, t0),
		webhook.NewEmailVerified("e8", u.ID, u.Email, t0),
		webhook.NewMFAChanged("e9", u.ID, webhook.FactorTOTP, true, t0),
		webhook.NewMFAChanged("e10", u.ID, webhook.FactorPasskey, false, t0),
		webhook.NewIdentityChanged("e11", u.ID, "github", true, t0),
		webhook.NewIdentityChanged("e12", u.ID, "github", false, t0),
	}
	seen := map[webhook.Type]bool{}
	for _, e := range events {
		seen[e.Type] = true
		b, err := json.Marshal(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.ToLower(string(b))
		for _, bad := range []string{"argon2", "password_hash", "passwordhash", "hash", "token", "secret", "link", "code", "credential"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s carries %q: %s", e.Type, bad, b)
			}
		}
		if e.UserID != u.ID {
			t.Errorf("%s orders under %q", e.Type, e.UserID)
		}
	}
	for _, typ := range webhook.Types() {
		if !seen[typ] {
			t.Errorf("no constructor exercised for %s", typ)
		}
	}
	var created struct {
		User   map[string]any `json:"user"`
		Method string         `json:"method"`
	}
	b, _ := json.Marshal(events[0].Data)
	_ = json.Unmarshal(b, &created)
	if created.Method != "password" || created.User["email"] != "ada@example.com" ||
		created.User["appMetadata"].(map[string]any)["tenant"] != "acme" || created.User["createdAt"] != "2026-12-07T12:00:00Z" {
		t.Errorf("user.created data %s", b)
	}
}

func TestRejectedError(t *testing.T) {
	var err error = &webhook.RejectedError{Message: "Invite only"}
	var re *webhook.RejectedError
	if !errors.As(err, &re) || re.Message != "Invite only" {
		t.Fatal(err)
	}
}

func TestSessionMethodNamesTheFirstStep(t *testing.T) {
	for _, tc := range []struct {
		amr  []string
		want string
	}{
		{[]string{"pwd"}, "password"},
		{[]string{"pwd", "otp", "mfa"}, "password_mfa"},
		{[]string{"hwk"}, "passkey"},
		{[]string{"fed"}, "oauth"},
		{[]string{"fed", "otp", "mfa"}, "oauth"},
		{[]string{"email"}, "email_code"},
		{[]string{"email", "otp", "mfa"}, "email_code"},
	} {
		if got := webhook.SessionMethod(tc.amr); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.amr, got, tc.want)
		}
	}
}
