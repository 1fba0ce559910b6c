package main

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpCode is what an authenticator app shows for secret at now+offset.
func totpCode(t testing.TB, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(offset), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type mfaRequired struct {
	MFARequired bool     `json:"mfaRequired"`
	MFAToken    string   `json:"mfaToken"`
	Methods     []string `json:"methods"`
}

// claimsOf decodes the access token's aal and amr.
func claimsOf(t testing.TB, tok string) (aal string, amr []string, fresh bool) {
	t.Helper()
	_, c := decodeJWT(t, tok)
	aal, _ = c["aal"].(string)
	for _, m := range c["amr"].([]any) {
		amr = append(amr, m.(string))
	}
	fresh, _ = c["fresh"].(bool)
	return aal, amr, fresh
}

// enableTOTP enrols and confirms TOTP for c's account (c.bearer must be a
// fresh token) and returns the secret and the recovery codes. The
// confirming code is the previous step's, so later code checks in the test
// (now, then +30s) are of later steps.
func enableTOTP(t *testing.T, c *client) (string, []string) {
	t.Helper()
	r := c.do("POST", "/auth/mfa/totp", nil)
	expect(t, r, 200, "")
	var enr struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauthUri"`
		QRCode     string `json:"qrCode"`
	}
	r.data(t, &enr)
	if !strings.HasPrefix(enr.OTPAuthURI, "otpauth://totp/") || !strings.Contains(enr.OTPAuthURI, "secret="+enr.Secret) {
		t.Fatalf("enrolment %+v", enr)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(enr.QRCode, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("qrCode is not a PNG data URL: %.40s", enr.QRCode)
	}
	expect(t, c.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": "000000x"}), 401, "MFA_CODE_INVALID")
	r = c.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": totpCode(t, enr.Secret, -30*time.Second)})
	expect(t, r, 200, "")
	var rc struct {
		RecoveryCodes []string `json:"recoveryCodes"`
	}
	r.data(t, &rc)
	if len(rc.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes", len(rc.RecoveryCodes))
	}
	return enr.Secret, rc.RecoveryCodes
}

// startMFALogin logs in with the password of an account with TOTP and
// checks the answer holds nothing but the mfaToken.
func startMFALogin(t *testing.T, s *server, email, password string) mfaRequired {
	t.Helper()
	c := s.client()
	r := c.do("POST", "/auth/login", map[string]any{"email": email, "password": password})
	expect(t, r, 200, "")
	var m mfaRequired
	r.data(t, &m)
	if !m.MFARequired || len(m.MFAToken) != 43 || !slices.Equal(m.Methods, []string{"totp", "recovery_code"}) {
		t.Fatalf("login answer %s", r.Env.Data)
	}
	if len(r.Cookies) != 0 || strings.Contains(string(r.Env.Data), "accessToken") || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("an mfaRequired answer carried tokens or cookies: %v %s", r.Cookies, r.Env.Data)
	}
	return m
}

func TestSecondFactorTOTP(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		// The throttle has its own test; here it must not get in the way.
		env["LOGIN_MAX_FAILURES"], env["LOGIN_BACKOFF_AFTER"] = "1000", "1000"
		s := startServer(t, env)
		const email, password = "two@example.com", "two factor password"
		owner := s.client()
		reg := owner.register(email, password)
		if aal, amr, _ := claimsOf(t, reg.AccessToken); aal != "aal1" || !slices.Equal(amr, []string{"pwd"}) {
			t.Fatalf("password token: aal %q amr %v", aal, amr)
		}
		// Nothing to confirm yet.
		expect(t, owner.do("POST", "/auth/mfa/totp/confirm", map[string]any{"code": "123456"}), 401, "MFA_CODE_INVALID")
		expect(t, owner.do("DELETE", "/auth/mfa/totp", nil), 404, "NOT_FOUND")
		expect(t, owner.do("POST", "/auth/mfa/recovery-codes", nil), 404, "NOT_FOUND")
		secret, codes := enableTOTP(t, owner)

		// A wrong password answers as for any account: nothing tells that
		// this one has a second factor.
		_, bad := s.client().login(email, "not the password", "")
		expect(t, bad, 401, "INVALID_CREDENTIALS")

		var totpLogin tokenPair
		var usedCode string
		t.Run("password then TOTP code", func(t *testing.T) {
			m := startMFALogin(t, s, email, password)
			c := s.client()
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": "000000"}), 401, "MFA_CODE_INVALID")
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken}), 400, "VALIDATION_FAILED")
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": "1", "recoveryCode": "x"}), 400, "VALIDATION_FAILED")
			usedCode = totpCode(t, secret, 0)
			r := c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": usedCode, "refreshTokenTransport": "body"})
			expect(t, r, 200, "")
			r.data(t, &totpLogin)
			aal, amr, fresh := claimsOf(t, totpLogin.AccessToken)
			if aal != "aal2" || !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) || !fresh {
				t.Fatalf("TOTP login: aal %q amr %v fresh %v", aal, amr, fresh)
			}
			// The token is single-use, and the code cannot be replayed.
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": usedCode}), 401, "MFA_CODE_INVALID")
			m2 := startMFALogin(t, s, email, password)
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m2.MFAToken, "code": usedCode}), 401, "MFA_CODE_INVALID")
			// A refresh keeps the session's assurance, not fresh.
			rr := c.do("POST", "/auth/refresh", map[string]any{"refreshToken": totpLogin.RefreshToken})
			expect(t, rr, 200, "")
			var p tokenPair
			rr.data(t, &p)
			if aal, amr, fresh := claimsOf(t, p.AccessToken); aal != "aal2" || !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) || fresh {
				t.Fatalf("refreshed: aal %q amr %v fresh %v", aal, amr, fresh)
			}
		})

		t.Run("password then recovery code", func(t *testing.T) {
			m := startMFALogin(t, s, email, password)
			c := s.client()
			r := c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": strings.ToUpper(codes[0])})
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			if aal, amr, _ := claimsOf(t, p.AccessToken); aal != "aal2" || !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
				t.Fatalf("recovery login: aal %q amr %v", aal, amr)
			}
			if r.cookie("refresh_token") == nil {
				t.Error("cookie transport set no cookie")
			}
			m2 := startMFALogin(t, s, email, password)
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m2.MFAToken, "recoveryCode": codes[0]}), 401, "MFA_CODE_INVALID")
			c.bearer = p.AccessToken
			ev := c.do("GET", "/users/me/security-events", nil)
			if !strings.Contains(string(ev.Body), "recovery_code_used") || !strings.Contains(string(ev.Body), "mfa_enabled") {
				t.Errorf("security events lack recovery_code_used or mfa_enabled: %s", ev.Env.Data)
			}
		})

		t.Run("five wrong codes void the token", func(t *testing.T) {
			m := startMFALogin(t, s, email, password)
			c := s.client()
			for range 5 {
				expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": "aaaa-aaaa-aaaa-aaaa"}), 401, "MFA_CODE_INVALID")
			}
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": codes[1]}), 401, "MFA_CODE_INVALID")
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": "not-a-token", "code": "123456"}), 401, "MFA_CODE_INVALID")
		})

		t.Run("changing factors needs aal2", func(t *testing.T) {
			// The registration session is fresh but aal1: it never proved the code.
			r := owner.do("POST", "/auth/mfa/recovery-codes", nil)
			expect(t, r, 403, "FRESH_AUTH_REQUIRED")
			if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `acr_values="aal2"`) || !strings.Contains(h, "insufficient_user_authentication") {
				t.Fatalf("WWW-Authenticate = %q", h)
			}
			expect(t, owner.do("DELETE", "/auth/mfa/totp", nil), 403, "FRESH_AUTH_REQUIRED")
			expect(t, owner.do("POST", "/auth/mfa/totp", nil), 403, "FRESH_AUTH_REQUIRED")

			// Reauthenticate needs the code now.
			r = owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password})
			expect(t, r, 400, "VALIDATION_FAILED")
			if !strings.Contains(string(r.Body), `"field":"code"`) {
				t.Errorf("validation does not name code: %s", r.Body)
			}
			expect(t, owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password, "code": usedCode}), 401, "MFA_CODE_INVALID")
			r = owner.do("POST", "/auth/reauthenticate", map[string]any{"password": password, "code": totpCode(t, secret, 30*time.Second)})
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			if aal, amr, fresh := claimsOf(t, p.AccessToken); aal != "aal2" || !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) || !fresh {
				t.Fatalf("reauthenticated: aal %q amr %v fresh %v", aal, amr, fresh)
			}
			owner.bearer = p.AccessToken
			r = owner.do("POST", "/auth/mfa/recovery-codes", nil)
			expect(t, r, 200, "")
			var rc struct {
				RecoveryCodes []string `json:"recoveryCodes"`
			}
			r.data(t, &rc)
			// The old set is void, the new one works.
			m := startMFALogin(t, s, email, password)
			c := s.client()
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": codes[2]}), 401, "MFA_CODE_INVALID")
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": rc.RecoveryCodes[0]}), 200, "")

			// Removal: login is back to one step.
			expect(t, owner.do("DELETE", "/auth/mfa/totp", nil), 200, "")
			p2, lr := s.client().login(email, password, "")
			expect(t, lr, 200, "")
			if aal, _, _ := claimsOf(t, p2.AccessToken); aal != "aal1" {
				t.Fatalf("login after removal: aal %q", aal)
			}
			ev := owner.do("GET", "/users/me/security-events?limit=100", nil)
			for _, want := range []string{"mfa_disabled", "recovery_codes_regenerated"} {
				if !strings.Contains(string(ev.Body), want) {
					t.Errorf("security events lack %s", want)
				}
			}
		})
	})
}

// Wrong codes count in the account's login throttle: a thief with the
// password cannot guess codes without end by logging in again.
func TestSecondFactorThrottle(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["LOGIN_MAX_FAILURES"] = "4"
		env["LOGIN_BACKOFF_AFTER"] = "0"
		s := startServer(t, env)
		const email, password = "throttled@example.com", "throttled password"
		owner := s.client()
		owner.register(email, password)
		enableTOTP(t, owner)

		m := startMFALogin(t, s, email, password) // 1: the password attempt stays counted
		c := s.client()
		for range 3 { // 2..4
			expect(t, c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": "000000"}), 401, "MFA_CODE_INVALID")
		}
		r := c.do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "code": "000000"})
		expect(t, r, 429, "TOO_MANY_REQUESTS")
		if r.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		_, lr := s.client().login(email, password, "")
		expect(t, lr, 429, "TOO_MANY_REQUESTS")
	})
}

// The passkey routes answer bad input with PASSKEY_INVALID, NOT_FOUND or
// VALIDATION_FAILED, never a 500; the ceremonies with a real authenticator
// are driven in Chromium (e2e).
func TestPasskeyBadInput(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		c := s.client()
		c.register("keys@example.com", "passkey password")

		r := c.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "Laptop"})
		expect(t, r, 200, "")
		var creation struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
			AuthenticatorSelection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		}
		r.data(t, &creation)
		if len(creation.Challenge) < 43 || creation.AuthenticatorSelection.ResidentKey != "required" ||
			creation.AuthenticatorSelection.UserVerification != "required" {
			t.Fatalf("creation options %s", r.Env.Data)
		}
		expect(t, c.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "bad\x01name"}), 400, "VALIDATION_FAILED")
		expect(t, c.do("POST", "/auth/passkeys/registration", map[string]any{"credential": "not an object"}), 400, "VALIDATION_FAILED")
		expect(t, c.do("POST", "/auth/passkeys/registration", map[string]any{}), 400, "VALIDATION_FAILED")
		// A forged answer fails, and uses the ceremony up.
		forged := map[string]any{"id": "AQID", "rawId": "AQID", "type": "public-key",
			"response": map[string]any{"clientDataJSON": "e30", "attestationObject": "oA"}}
		expect(t, c.do("POST", "/auth/passkeys/registration", map[string]any{"credential": forged}), 401, "PASSKEY_INVALID")
		expect(t, c.do("POST", "/auth/passkeys/registration", map[string]any{"credential": forged}), 401, "PASSKEY_INVALID")

		r = c.do("GET", "/auth/passkeys", nil)
		expect(t, r, 200, "")
		if string(r.Env.Data) != "[]" {
			t.Fatalf("passkeys of a new account: %s", r.Env.Data)
		}
		expect(t, c.do("DELETE", "/auth/passkeys/0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", nil), 404, "NOT_FOUND")
		expect(t, c.do("DELETE", "/auth/passkeys/not-a-uuid", nil), 404, "NOT_FOUND")

		anon := s.client()
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		expect(t, r, 200, "")
		var lo struct {
			ChallengeID string `json:"challengeId"`
			Options     struct {
				Challenge        string `json:"challenge"`
				AllowCredentials []any  `json:"allowCredentials"`
			} `json:"options"`
		}
		r.data(t, &lo)
		if lo.ChallengeID == "" || lo.Options.Challenge == "" || len(lo.Options.AllowCredentials) != 0 {
			t.Fatalf("login options %s", r.Env.Data)
		}
		assertion := map[string]any{"id": "AQID", "rawId": "AQID", "type": "public-key",
			"response": map[string]any{"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": "AA"}}
		for name, body := range map[string]map[string]any{
			"unknown challenge":   {"challengeId": "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", "credential": assertion},
			"malformed challenge": {"challengeId": "x", "credential": assertion},
			"forged assertion":    {"challengeId": lo.ChallengeID, "credential": assertion},
			"used challenge":      {"challengeId": lo.ChallengeID, "credential": assertion},
		} {
			t.Run(name, func(t *testing.T) {
				r := anon.do("POST", "/auth/passkeys/login", body)
				expect(t, r, 401, "PASSKEY_INVALID")
				if len(r.Cookies) != 0 {
					t.Error("a failed passkey login set a cookie")
				}
			})
		}
		expect(t, anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo.ChallengeID}), 400, "VALIDATION_FAILED")
		expect(t, anon.do("POST", "/auth/passkeys/login/options", map[string]any{"x": 1}), 400, "VALIDATION_FAILED")
	})
}

// A password change between the password and the code voids the pending
// login: the mfaToken was bought with the old password.
func TestSecondFactorPasswordChangeVoidsToken(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s := startServer(t, testEnv(dbURL(t)))
		const email, password = "changed@example.com", "first password 123"
		owner := s.client()
		owner.register(email, password)
		_, codes := enableTOTP(t, owner)
		m := startMFALogin(t, s, email, password)
		expect(t, owner.do("PUT", "/users/me/password", map[string]any{"currentPassword": password, "newPassword": "second password 456"}), 200, "")
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": codes[0]}), 401, "MFA_CODE_INVALID")
		m2 := startMFALogin(t, s, email, "second password 456")
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m2.MFAToken, "recoveryCode": codes[0]}), 200, "")
	})
}

// An account disabled between its password and its code gets no session,
// and a disabled account with a second factor is told USER_DISABLED after
// the password, before any code is asked for (no mfaToken).
func TestSecondFactorDisabledAccount(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		s := startServer(t, env)
		const rootPW = "correct horse battery"
		if code, out, errOut := cli(t, env, rootPW+"\n", "users", "create", "--email", "root@example.com", "--role", "admin", "--role", "user"); code != 0 {
			t.Fatalf("users create: %d %q %q", code, out, errOut)
		}
		root := s.client()
		if _, r := root.login("root@example.com", rootPW, "body"); r.Status != 200 {
			t.Fatalf("root login: %s", r.Body)
		}
		const email, password = "disabled@example.com", "disabled password 1"
		owner := s.client()
		reg := owner.register(email, password)
		_, codes := enableTOTP(t, owner)

		m := startMFALogin(t, s, email, password)
		expect(t, root.do("PATCH", "/admin/users/"+reg.User.ID, map[string]any{"disabled": true}), 200, "")
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m.MFAToken, "recoveryCode": codes[0]}), 403, "USER_DISABLED")
		r := s.client().do("POST", "/auth/login", map[string]any{"email": email, "password": password})
		expect(t, r, 403, "USER_DISABLED")
		if strings.Contains(string(r.Body), "mfaToken") {
			t.Fatalf("a disabled account was asked for a code: %s", r.Body)
		}

		// Enabled again, the recovery code was not used up by the refusal.
		expect(t, root.do("PATCH", "/admin/users/"+reg.User.ID, map[string]any{"disabled": false}), 200, "")
		m2 := startMFALogin(t, s, email, password)
		expect(t, s.client().do("POST", "/auth/mfa/verify", map[string]any{"mfaToken": m2.MFAToken, "recoveryCode": codes[0]}), 200, "")
	})
}
