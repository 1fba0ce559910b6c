package httpadapter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/usecase/admin"
)

// The account, recovery and second-factor routes check what they are sent
// before any use case runs: these servers have none behind those routes, so
// a request that got past the checks would fail the test with a 500.
func TestAccountRecoveryAndFactorRoutesRejectBadInput(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		tok                      string
		field                    string
		msg                      string
	}{
		{"profile without a field", http.MethodPatch, "/users/me", `{}`, tokStale, "name", "is required (or locale)"},
		{"profile NUL in name", http.MethodPatch, "/users/me", `{"name":"A\u0000"}`, tokStale, "name", "must not contain NUL characters"},
		{"profile unknown field", http.MethodPatch, "/users/me", `{"name":"A","roles":["admin"]}`, tokStale, "roles", "is not a known field"},
		{"profile locale too long", http.MethodPatch, "/users/me", `{"locale":"` + strings.Repeat("a", 36) + `"}`, tokStale, "locale", "must be at most 35 characters"},
		{"events limit zero", http.MethodGet, "/users/me/security-events?limit=0", "", tokStale, "limit", "between 1 and 100"},
		{"events limit too large", http.MethodGet, "/users/me/security-events?limit=101", "", tokStale, "limit", "between 1 and 100"},
		{"events limit not a number", http.MethodGet, "/users/me/security-events?limit=ten", "", tokStale, "limit", "between 1 and 100"},
		{"password change missing current", http.MethodPut, "/users/me/password", `{"newPassword":"correct horse"}`, tokFresh, "currentPassword", "is required"},
		{"password change short new", http.MethodPut, "/users/me/password", `{"currentPassword":"x","newPassword":"short"}`, tokFresh, "newPassword", "must be at least 8 characters"},
		{"email change missing", http.MethodPut, "/users/me/email", `{}`, tokFresh, "email", "is required"},
		{"verify without token", http.MethodPost, "/auth/email/verify", `{}`, "", "token", "is required"},
		{"verify token too long", http.MethodPost, "/auth/email/verify", `{"token":"` + strings.Repeat("t", 257) + `"}`, "", "token", "must be at most 256 characters"},
		{"forgot without email", http.MethodPost, "/auth/password/forgot", `{}`, "", "email", "is required"},
		{"reset short password", http.MethodPost, "/auth/password/reset", `{"token":"t","newPassword":"short"}`, "", "newPassword", "must be at least 8 characters"},
		{"totp confirm without code", http.MethodPost, "/auth/mfa/totp/confirm", `{}`, tokFresh, "code", "is required"},
		{"passkey name with control characters", http.MethodPost, "/auth/passkeys/registration/options", `{"name":"key\u0007"}`, tokFresh, "name", "without control characters"},
		{"passkey name too long", http.MethodPost, "/auth/passkeys/registration/options", `{"name":"` + strings.Repeat("é", 65) + `"}`, tokFresh, "name", "1 to 64 characters"},
		{"passkey registration without credential", http.MethodPost, "/auth/passkeys/registration", `{}`, tokFresh, "credential", "is required"},
		{"passkey registration credential not an object", http.MethodPost, "/auth/passkeys/registration", `{"credential":[1]}`, tokFresh, "credential", "JSON object"},
		{"passkey registration bad name", http.MethodPost, "/auth/passkeys/registration", `{"credential":{},"name":"a\nb"}`, tokFresh, "name", "without control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			var opts []reqOpt
			if tc.tok != "" {
				opts = append(opts, bearer(tc.tok))
			}
			r := s.do(tc.method, tc.path, tc.body, opts...)
			if r.Code != 400 || r.errCode() != CodeValidationFailed || !r.detail(tc.field) {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if !strings.Contains(string(r.Body), tc.msg) {
				t.Errorf("message %q missing: %s", tc.msg, r.Body)
			}
		})
	}
}

// adminFactors says every administrator has a second factor.
type adminFactors struct{}

func (adminFactors) HasSecondFactor(context.Context, string) (bool, error) { return true, nil }

type fixedClock struct{}

func (fixedClock) Now() time.Time { return testNow }

// withAdmin serves /admin with the use case's write rule (fresh, and aal2
// for an administrator with a second factor) and nothing else behind it.
func withAdmin(d *Deps, o *Options) {
	d.Admin = &AdminInteractors{Guard: admin.NewWriteGuard(&o.StepUp, adminFactors{}, fixedClock{})}
}

// The admin routes: a malformed user ID names no account (404), a bad limit
// is a 400, and a write needs an administrator with a fresh token at aal2
// (their account has a second factor), each refusal with its challenge.
func TestAdminRoutesRefuse(t *testing.T) {
	const uid = testUserID
	freshChallenge := `Bearer error="insufficient_user_authentication", error_description="A recent password proof is required", max_age=300`
	cases := []struct {
		name, method, path, body string
		tok                      string
		status                   int
		code, field, challenge   string
	}{
		{"search limit", http.MethodGet, "/admin/users?limit=0", "", tokAdmin, 400, CodeValidationFailed, "limit", ""},
		{"get malformed id", http.MethodGet, "/admin/users/42", "", tokAdmin, 404, CodeNotFound, "", ""},
		{"events malformed id", http.MethodGet, "/admin/users/42/security-events", "", tokAdmin, 404, CodeNotFound, "", ""},
		{"events limit", http.MethodGet, "/admin/users/" + uid + "/security-events?limit=101", "", tokAdmin, 400, CodeValidationFailed, "limit", ""},
		{"update stale", http.MethodPatch, "/admin/users/" + uid, `{"disabled":true}`, tokAdminStale, 403, CodeFreshAuthRequired, "", freshChallenge},
		{"update by non-admin", http.MethodPatch, "/admin/users/" + uid, `{"disabled":true}`, tokFresh, 403, CodeForbidden, "", `Bearer realm="gatehouse", error="insufficient_scope"`},
		{"update without second factor", http.MethodPatch, "/admin/users/" + uid, `{"disabled":true}`, tokAdmin, 403, CodeFreshAuthRequired, "", aal2Challenge},
		{"rotate without second factor", http.MethodPost, "/admin/keys/rotate", "", tokAdmin, 403, CodeFreshAuthRequired, "", aal2Challenge},
		{"revoke without second factor", http.MethodPost, "/admin/users/" + uid + "/revoke-sessions", "", tokAdmin, 403, CodeFreshAuthRequired, "", aal2Challenge},
		{"delete stale", http.MethodDelete, "/admin/users/" + uid, "", tokAdminStale, 403, CodeFreshAuthRequired, "", freshChallenge},
		{"update malformed id", http.MethodPatch, "/admin/users/42", `{"disabled":true}`, tokAdminAAL2, 404, CodeNotFound, "", ""},
		{"revoke malformed id", http.MethodPost, "/admin/users/42/revoke-sessions", "", tokAdminAAL2, 404, CodeNotFound, "", ""},
		{"delete malformed id", http.MethodDelete, "/admin/users/42", "", tokAdminAAL2, 404, CodeNotFound, "", ""},
		{"update name too long", http.MethodPatch, "/admin/users/" + uid, `{"name":"` + strings.Repeat("n", 101) + `"}`, tokAdminAAL2, 400, CodeValidationFailed, "name", ""},
		{"update unknown field", http.MethodPatch, "/admin/users/" + uid, `{"password":"x"}`, tokAdminAAL2, 400, CodeValidationFailed, "password", ""},
		{"update wrong type", http.MethodPatch, "/admin/users/" + uid, `{"disabled":"yes"}`, tokAdminAAL2, 400, CodeMalformedJSON, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, withAdmin)
			r := s.do(tc.method, tc.path, tc.body, bearer(tc.tok))
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if tc.field != "" && !r.detail(tc.field) {
				t.Errorf("no detail for %s: %s", tc.field, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
		})
	}
}

// Without an admin service there are no admin routes.
func TestAdminRoutesOff(t *testing.T) {
	s := newTestServer(t)
	if r := s.do(http.MethodGet, "/admin/users", "", bearer(tokAdmin)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("%d %s", r.Code, r.Body)
	}
}
