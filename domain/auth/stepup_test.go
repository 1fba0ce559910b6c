package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

func TestStepUpPolicyCheck(t *testing.T) {
	now := time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)
	p := auth.StepUpPolicy{MaxAge: 10 * time.Minute}
	tests := []struct {
		name  string
		fresh bool
		auth  time.Time
		ok    bool
	}{
		{"fresh, just authenticated", true, now, true},
		{"fresh, one minute ago", true, now.Add(-time.Minute), true},
		// The boundary is inclusive: an auth_time exactly MaxAge old is still
		// accepted; a nanosecond older is not (like OIDC max_age, where only
		// "more than max_age" demands re-authentication).
		{"fresh, exactly MaxAge ago", true, now.Add(-10 * time.Minute), true},
		{"fresh, just over MaxAge ago", true, now.Add(-10*time.Minute - time.Nanosecond), false},
		{"fresh, hours ago", true, now.Add(-3 * time.Hour), false},
		{"refreshed (not fresh), recent auth_time", false, now.Add(-time.Second), false},
		{"refreshed (not fresh), auth_time now", false, now, false},
		{"fresh, zero auth_time", true, time.Time{}, false},
		{"not fresh, zero auth_time", false, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := auth.Claims{Subject: "u", SessionID: "s", Fresh: tc.fresh, AuthTime: tc.auth, Methods: []string{auth.MethodPassword}}
			err := p.Check(c, now)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, auth.ErrFreshAuthRequired) {
				t.Fatalf("Check = %v; want ErrFreshAuthRequired", err)
			}
		})
	}
}

func TestPrincipalAccessors(t *testing.T) {
	p := auth.Principal{Claims: auth.Claims{Subject: "user-1", SessionID: "session-1"}}
	if p.UserID() != "user-1" || p.SessionID() != "session-1" {
		t.Fatalf("UserID, SessionID = %q, %q", p.UserID(), p.SessionID())
	}
}
