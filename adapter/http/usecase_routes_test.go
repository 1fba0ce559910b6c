package httpadapter

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/factors"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// useCaseFakes stands for the account, recovery, factor and admin use
// cases: each operation records its call and answers err when set.
type useCaseFakes struct {
	mu    sync.Mutex
	calls []string
	err   error
	// pendingEmail makes an email change wait for its confirmation.
	pendingEmail bool
	profile      account.ProfileInput
	accMeta      account.Meta
	enrolment    factors.Enrolment
	passkeyName  string
	patch        admin.Patch
	// search is what the admin search was asked: q, cursor, limit.
	search struct {
		q, cursor string
		limit     int
	}
}

func (f *useCaseFakes) record(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.err
}

func (f *useCaseFakes) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Account.

func (f *useCaseFakes) Me(_ context.Context, p auth.Principal) (user.User, error) {
	u := testUser()
	u.Locale, u.Roles = "", nil // as read before either was stored
	return u, f.record("Me:" + p.UserID())
}

func (f *useCaseFakes) UpdateProfile(_ context.Context, p auth.Principal, in account.ProfileInput) (user.User, error) {
	f.profile = in
	u := testUser()
	if in.Name != nil {
		u.Name = *in.Name
	}
	return u, f.record("UpdateProfile")
}

func (f *useCaseFakes) ChangePassword(_ context.Context, p auth.Principal, current, next string, m account.Meta) error {
	f.accMeta = m
	return f.record("ChangePassword:" + current + ">" + next)
}

func (f *useCaseFakes) ChangeEmail(_ context.Context, p auth.Principal, email string, m account.Meta) (account.EmailChange, error) {
	u := testUser()
	u.Email, u.EmailVerified = email, false
	return account.EmailChange{User: u, Pending: f.pendingEmail}, f.record("ChangeEmail:" + email)
}

func (f *useCaseFakes) DeleteAccount(_ context.Context, p auth.Principal, m account.Meta) error {
	return f.record("DeleteAccount")
}

func testEvents() audit.Page {
	return audit.Page{Events: []audit.Event{
		{ID: "4b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", Type: "login_succeeded", SessionID: testSessionID, IP: "192.0.2.1", UserAgent: "ua", CreatedAt: testNow},
		{ID: "5b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", Type: "admin_roles_changed", ActorID: "cli", CreatedAt: testNow},
		{ID: "6b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", Type: "events_suppressed", Suppressed: 40, CreatedAt: testNow},
	}, NextCursor: "more"}
}

// SecurityEvents is the account's own listing.
func (f *useCaseFakes) SecurityEvents(context.Context, auth.Principal, string, int) (audit.Page, error) {
	return testEvents(), f.record("SecurityEvents")
}

// Recovery.

func (f *useCaseFakes) RequestVerification(context.Context, auth.Principal, recovery.Meta) error {
	return f.record("RequestVerification")
}

func (f *useCaseFakes) Verify(_ context.Context, raw string) (user.User, error) {
	return testUser(), f.record("Verify:" + raw)
}

func (f *useCaseFakes) ForgotPassword(_ context.Context, email string, _ recovery.Meta) error {
	return f.record("ForgotPassword:" + email)
}

func (f *useCaseFakes) ResetPassword(_ context.Context, raw, next string, _ recovery.Meta) error {
	return f.record("ResetPassword:" + raw)
}

// Factors.

func (f *useCaseFakes) EnrollTOTP(context.Context, auth.Principal) (factors.OTPKey, error) {
	return factors.OTPKey{Secret: "JBSWY3DPEHPK3PXP", URI: "otpauth://totp/Gatehouse:ada@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Gatehouse",
		QRPNG: []byte{0x89, 'P', 'N', 'G'}}, f.record("EnrollTOTP")
}

// loginChallenge is the ID of a passkey sign-in ceremony.
const loginChallenge = "9b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"

// recoveryCodes are n codes of the contract's shape.
func recoveryCodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		c := string(rune('a' + i))
		out[i] = strings.Repeat(c, 4) + "-" + strings.Repeat("b", 4) + "-" + strings.Repeat("c", 4) + "-" + strings.Repeat("d", 4)
	}
	return out
}

func (f *useCaseFakes) ConfirmTOTP(_ context.Context, _ auth.Principal, code string, e factors.Enrolment, _ factors.Meta) ([]string, error) {
	f.enrolment = e
	return recoveryCodes(10), f.record("ConfirmTOTP:" + code)
}

func (f *useCaseFakes) DisableTOTP(context.Context, auth.Principal, factors.Meta) error {
	return f.record("DisableTOTP")
}

func (f *useCaseFakes) RegenerateRecoveryCodes(context.Context, auth.Principal, factors.Meta) ([]string, error) {
	codes := recoveryCodes(10)
	codes[0] = "eeee-ffff-gggg-hhhh"
	return codes, f.record("RegenerateRecoveryCodes")
}

func (f *useCaseFakes) BeginPasskeyRegistration(_ context.Context, _ auth.Principal, name string) ([]byte, error) {
	f.passkeyName = name
	return []byte(`{"rp":{"id":"id.example.com","name":"Gatehouse"},"user":{"id":"dXNlcg","name":"ada@example.com","displayName":"Ada"},` +
		`"challenge":"Y2hhbGxlbmdl","pubKeyCredParams":[{"type":"public-key","alg":-8}]}`), f.record("BeginPasskeyRegistration")
}

func testPasskey() mfa.Passkey {
	return mfa.Passkey{ID: "7b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", UserID: testUserID, Name: "YubiKey", CreatedAt: testNow}
}

func (f *useCaseFakes) FinishPasskeyRegistration(_ context.Context, _ auth.Principal, _ []byte, name string, e factors.Enrolment, _ factors.Meta) (mfa.Passkey, error) {
	f.passkeyName, f.enrolment = name, e
	return testPasskey(), f.record("FinishPasskeyRegistration")
}

func (f *useCaseFakes) ListPasskeys(context.Context, auth.Principal) ([]mfa.Passkey, error) {
	used := testPasskey()
	used.ID, used.LastUsedAt = "8b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", testNow.Add(time.Hour)
	return []mfa.Passkey{testPasskey(), used}, f.record("ListPasskeys")
}

func (f *useCaseFakes) DeletePasskey(_ context.Context, _ auth.Principal, id string, _ factors.Meta) error {
	return f.record("DeletePasskey:" + id)
}

func (f *useCaseFakes) BeginPasskeyLogin(context.Context) (string, []byte, error) {
	return loginChallenge, []byte(`{"challenge":"Y2hhbGxlbmdl","rpId":"id.example.com","userVerification":"required"}`), f.record("BeginPasskeyLogin")
}

// Administration.

func (f *useCaseFakes) AuthorizeWrite(_ context.Context, a admin.Actor) error {
	if !a.Principal.User.HasRole(user.RoleAdmin) {
		return auth.ErrForbidden
	}
	return nil
}

func testView() admin.View {
	return admin.View{User: testUser(), Facts: admin.Facts{ActiveSessions: 2, MFAEnabled: true, Passkeys: 1}}
}

func (f *useCaseFakes) Search(_ context.Context, _ admin.Actor, q, cursor string, limit int) (admin.Page, error) {
	f.search.q, f.search.cursor, f.search.limit = q, cursor, limit
	seen := testView()
	seen.LastLoginAt = testNow
	return admin.Page{Items: []admin.View{testView(), seen}, NextCursor: "next"}, f.record("Search")
}

func (f *useCaseFakes) Get(_ context.Context, _ admin.Actor, id string) (admin.View, error) {
	return testView(), f.record("Get:" + id)
}

func (f *useCaseFakes) Update(_ context.Context, _ admin.Actor, id string, p admin.Patch) (admin.View, error) {
	f.patch = p
	return testView(), f.record("Update:" + id)
}

func (f *useCaseFakes) RevokeSessions(_ context.Context, _ admin.Actor, id string) error {
	return f.record("RevokeSessions:" + id)
}

func (f *useCaseFakes) Delete(_ context.Context, _ admin.Actor, id string) error {
	return f.record("Delete:" + id)
}

// adminEvents is the admin's listing of an account's events.
type adminEvents struct{ *useCaseFakes }

func (f adminEvents) SecurityEvents(_ context.Context, _ admin.Actor, userID, cursor string, limit int) (audit.Page, error) {
	return testEvents(), f.record("AdminSecurityEvents:" + userID)
}

func (f *useCaseFakes) Keys(context.Context, admin.Actor) ([]auth.KeyStatus, error) {
	return []auth.KeyStatus{
		{Key: auth.SigningKey{ID: "k1", Algorithm: "EdDSA", CreatedAt: testNow.Add(-48 * time.Hour), ActivatesAt: testNow.Add(-47 * time.Hour)}, State: auth.KeyActive, RetiresAt: testNow.Add(time.Hour)},
		{Key: auth.SigningKey{ID: "k2", Algorithm: "EdDSA"}, State: auth.KeyNext},
	}, f.record("Keys")
}

func (f *useCaseFakes) RotateKey(context.Context, admin.Actor) (auth.KeyStatus, error) {
	return auth.KeyStatus{Key: auth.SigningKey{ID: "k3", Algorithm: "EdDSA", CreatedAt: testNow, ActivatesAt: testNow.Add(time.Hour)},
		State: auth.KeyNext}, f.record("RotateKey")
}

// withUseCases serves the account, recovery, factor and admin routes with f.
func withUseCases(f *useCaseFakes) serverOpt {
	return func(d *Deps, _ *Options) {
		d.Account = AccountInteractors{Profile: f, Editor: f, Password: f, Email: f, Deleter: f, Events: f}
		d.Admin = &AdminInteractors{Guard: f, Search: f, Reader: f, Updater: f, Revoker: f, Deleter: f, Events: adminEvents{f}, Keys: f, Rotator: f}
		d.Recovery = RecoveryInteractors{Verification: f, Verifier: f, Forgot: f, Reset: f}
		d.MFA = FactorInteractors{TOTPEnroll: f, TOTPConfirm: f, TOTPDisable: f, Codes: f, PasskeyRegister: f,
			Passkeys: f, PasskeyRemove: f, PasskeyLogin: f}
	}
}

// newUseCaseServer is a test server with the use case fakes behind every
// account, admin, recovery and factor route.
func newUseCaseServer(t *testing.T) (*testServer, *useCaseFakes) {
	t.Helper()
	f := &useCaseFakes{}
	return newTestServer(t, withUseCases(f)), f
}

func TestAccountRoutes(t *testing.T) {
	s, f := newUseCaseServer(t)

	r := s.do(http.MethodGet, "/users/me", "", bearer(tokStale))
	u := dataOf[userDTO](t, r)
	if r.Code != 200 || u.ID != testUserID || u.Locale != user.DefaultLocale || u.Roles == nil || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("me: %d %s", r.Code, r.Body)
	}

	r = s.do(http.MethodPatch, "/users/me", `{"name":"Ada L."}`, bearer(tokStale))
	r.data(t, &u)
	if r.Code != 200 || u.Name != "Ada L." || f.profile.Name == nil || *f.profile.Name != "Ada L." || f.profile.Locale != nil {
		t.Errorf("update: %d %s %+v", r.Code, r.Body, f.profile)
	}

	r = s.do(http.MethodPut, "/users/me/password", `{"currentPassword":"old password","newPassword":"new password"}`, bearer(tokFresh), header("User-Agent", "ua/2"))
	if r.Code != 200 || !slices.Contains(f.called(), "ChangePassword:old password>new password") || f.accMeta.UserAgent != "ua/2" || f.accMeta.IP == "" {
		t.Errorf("password: %d %s %+v", r.Code, r.Body, f.accMeta)
	}

	// The new address in force at once, or waiting for its confirmation
	// with the same answer for every address.
	r = s.do(http.MethodPut, "/users/me/email", `{"email":"ada@new.example"}`, bearer(tokFresh))
	r.data(t, &u)
	if r.Code != 200 || u.Email != "ada@new.example" || u.EmailVerified {
		t.Errorf("email: %d %s", r.Code, r.Body)
	}
	f.pendingEmail = true
	r = s.do(http.MethodPut, "/users/me/email", `{"email":"ada@new.example"}`, bearer(tokFresh))
	if r.Code != http.StatusAccepted || string(r.Env.Data) != "null" {
		t.Errorf("pending email: %d %s", r.Code, r.Body)
	}

	r = s.do(http.MethodGet, "/users/me/security-events?limit=3&cursor=c", "", bearer(tokStale))
	ev := dataOf[pageDTO[securityEventDTO]](t, r)
	if r.Code != 200 || len(ev.Items) != 3 || ev.NextCursor == nil || *ev.NextCursor != "more" {
		t.Fatalf("events: %d %s", r.Code, r.Body)
	}
	if ev.Items[0].SessionID == nil || ev.Items[1].SessionID != nil || ev.Items[1].ActorID == nil || *ev.Items[1].ActorID != "cli" ||
		ev.Items[0].ActorID != nil || ev.Items[2].Suppressed != 40 {
		t.Errorf("event items %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"sessionId":null`) {
		t.Errorf("an event without a session has sessionId null: %s", r.Body)
	}

	// Deleting the account ends the browser's session too.
	r = s.do(http.MethodDelete, "/users/me", "", bearer(tokFresh))
	if ck := r.cookie(refreshCookieName); r.Code != 200 || ck == nil || ck.MaxAge >= 0 {
		t.Errorf("delete: %d cookie %v", r.Code, ck)
	}
}

func TestAccountRouteErrors(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		err                      error
		status                   int
		code                     string
	}{
		{"wrong current password", http.MethodPut, "/users/me/password", `{"currentPassword":"nope","newPassword":"new password"}`, user.Invalid("currentPassword", "is not the current password"), 400, CodeValidationFailed},
		{"address taken", http.MethodPut, "/users/me/email", `{"email":"bob@example.com"}`, user.ErrEmailTaken, 409, CodeEmailTaken},
		{"unsupported locale", http.MethodPatch, "/users/me", `{"locale":"xx"}`, &user.ValidationError{Fields: []user.FieldError{{Field: "locale", Message: "must be one of: en, de"}}}, 400, CodeValidationFailed},
		{"delete fails", http.MethodDelete, "/users/me", "", unavailableErr{}, 503, CodeServiceUnavailable},
		{"bad cursor", http.MethodGet, "/users/me/security-events?cursor=zz", "", &user.ValidationError{Fields: []user.FieldError{{Field: "cursor", Message: "is not a cursor this service issued"}}}, 400, CodeValidationFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, withUseCases(&useCaseFakes{err: tc.err}))
			r := s.do(tc.method, tc.path, tc.body, bearer(tokFresh))
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Errorf("%d %s", r.Code, r.Body)
			}
			if r.cookie(refreshCookieName) != nil {
				t.Errorf("cookie touched on failure")
			}
		})
	}
}

func TestRecoveryRoutes(t *testing.T) {
	s, f := newUseCaseServer(t)
	if r := s.do(http.MethodPost, "/auth/email/verification", "", bearer(tokStale)); r.Code != http.StatusAccepted {
		t.Errorf("request verification: %d %s", r.Code, r.Body)
	}
	r := s.do(http.MethodPost, "/auth/email/verify", `{"token":"link-token"}`)
	u := dataOf[userDTO](t, r)
	if r.Code != 200 || u.ID != testUserID || !slices.Contains(f.called(), "Verify:link-token") {
		t.Errorf("verify: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/password/forgot", `{"email":"ada@example.com"}`)
	if r.Code != http.StatusAccepted || string(r.Env.Data) != "null" {
		t.Errorf("forgot: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodPost, "/auth/password/reset", `{"token":"reset-token","newPassword":"new password"}`); r.Code != 200 {
		t.Errorf("reset: %d %s", r.Code, r.Body)
	}

	for _, tc := range []struct {
		name, path, body string
		opts             []reqOpt
		err              error
		status           int
		code             string
	}{
		{"mail off", "/auth/email/verification", "", []reqOpt{bearer(tokStale)}, emailtoken.ErrMailUnavailable, 503, CodeMailUnavailable},
		{"dead link", "/auth/email/verify", `{"token":"old"}`, nil, emailtoken.ErrLinkInvalid, 400, CodeEmailLinkInvalid},
		{"dead reset link", "/auth/password/reset", `{"token":"old","newPassword":"new password"}`, nil, emailtoken.ErrLinkInvalid, 400, CodeEmailLinkInvalid},
		{"forgot with the database down", "/auth/password/forgot", `{"email":"ada@example.com"}`, nil, unavailableErr{}, 503, CodeServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.err = tc.err
			r := s.do(http.MethodPost, tc.path, tc.body, tc.opts...)
			if r.Code != tc.status || r.errCode() != tc.code {
				t.Errorf("%d %s", r.Code, r.Body)
			}
		})
	}
}

// The factor routes: secrets and codes are never cached, the QR code is a
// PNG data URI, the enrolment options reach the use case, and a missing
// second factor is the aal2 challenge.
func TestFactorRoutes(t *testing.T) {
	s, f := newUseCaseServer(t)

	r := s.do(http.MethodPost, "/auth/mfa/totp", "", bearer(tokFresh))
	k := dataOf[totpEnrollmentDTO](t, r)
	if r.Code != 200 || k.Secret == "" || !strings.HasPrefix(k.OTPAuthURI, "otpauth://totp/") ||
		k.QRCode != "data:image/png;base64,iVBORw==" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("enroll: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/mfa/totp/confirm", `{"code":"123456","signOutOtherSessions":true}`, bearer(tokFresh))
	codes := dataOf[recoveryCodesDTO](t, r)
	if r.Code != 200 || len(codes.RecoveryCodes) != 10 || !f.enrolment.SignOutOthers || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("confirm: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/mfa/recovery-codes", "", bearer(tokAAL2))
	r.data(t, &codes)
	if r.Code != 200 || codes.RecoveryCodes[0] != "eeee-ffff-gggg-hhhh" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("regenerate: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodDelete, "/auth/mfa/totp", "", bearer(tokAAL2)); r.Code != 200 {
		t.Errorf("disable: %d %s", r.Code, r.Body)
	}

	r = s.do(http.MethodPost, "/auth/passkeys/registration/options", `{"name":"  YubiKey  "}`, bearer(tokFresh))
	var opts struct{ Challenge string }
	r.data(t, &opts)
	if r.Code != 200 || opts.Challenge != "Y2hhbGxlbmdl" || f.passkeyName != "YubiKey" {
		t.Errorf("passkey options: %d %s name %q", r.Code, r.Body, f.passkeyName)
	}
	r = s.do(http.MethodPost, "/auth/passkeys/registration", `{"credential":{"id":"abc"},"signOutOtherSessions":false}`, bearer(tokFresh))
	pk := dataOf[passkeyDTO](t, r)
	if r.Code != 201 || pk.Name != "YubiKey" || pk.LastUsedAt != nil || f.passkeyName != "" || f.enrolment.SignOutOthers {
		t.Errorf("passkey registration: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodGet, "/auth/passkeys", "", bearer(tokStale))
	list := dataOf[[]passkeyDTO](t, r)
	if r.Code != 200 || len(list) != 2 || list[0].LastUsedAt != nil || list[1].LastUsedAt == nil || *list[1].LastUsedAt != rfc3339(testNow.Add(time.Hour)) {
		t.Errorf("passkeys: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodDelete, "/auth/passkeys/"+pk.ID, "", bearer(tokAAL2)); r.Code != 200 || !slices.Contains(f.called(), "DeletePasskey:"+pk.ID) {
		t.Errorf("delete passkey: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/auth/passkeys/login/options", "")
	lo := dataOf[passkeyLoginOptionsDTO](t, r)
	if r.Code != 200 || lo.ChallengeID != loginChallenge || !json.Valid(lo.Options) || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login options: %d %s", r.Code, r.Body)
	}

	// Changing factors with a factor active needs aal2.
	for _, rt := range []struct{ method, path, body string }{
		{http.MethodDelete, "/auth/mfa/totp", ""},
		{http.MethodPost, "/auth/mfa/recovery-codes", ""},
		{http.MethodPost, "/auth/passkeys/registration/options", ""},
		{http.MethodDelete, "/auth/passkeys/" + pk.ID, ""},
	} {
		f.err = auth.ErrSecondFactorRequired
		r := s.do(rt.method, rt.path, rt.body, bearer(tokFresh))
		if r.Code != 403 || r.errCode() != CodeFreshAuthRequired || r.Header.Get("WWW-Authenticate") != aal2Challenge {
			t.Errorf("%s %s: %d %s %q", rt.method, rt.path, r.Code, r.Body, r.Header.Get("WWW-Authenticate"))
		}
	}
	f.err = mfa.ErrNotFound
	if r := s.do(http.MethodDelete, "/auth/passkeys/"+pk.ID, "", bearer(tokAAL2)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown passkey: %d %s", r.Code, r.Body)
	}
	f.err = mfa.ErrCodeInvalid
	if r := s.do(http.MethodPost, "/auth/mfa/totp/confirm", `{"code":"000000"}`, bearer(tokFresh)); r.Code != 401 || r.errCode() != CodeMFACodeInvalid {
		t.Errorf("wrong code: %d %s", r.Code, r.Body)
	}
	f.err = mfa.ErrPasskeyInvalid
	if r := s.do(http.MethodPost, "/auth/passkeys/registration", `{"credential":{"id":"abc"}}`, bearer(tokFresh)); r.Code != 401 || r.errCode() != CodePasskeyInvalid {
		t.Errorf("bad passkey: %d %s", r.Code, r.Body)
	}
	f.err = unavailableErr{}
	for _, rt := range []struct{ method, path string }{
		{http.MethodPost, "/auth/mfa/totp"}, {http.MethodGet, "/auth/passkeys"}, {http.MethodPost, "/auth/passkeys/login/options"},
	} {
		if r := s.do(rt.method, rt.path, "", bearer(tokAAL2)); r.Code != 503 {
			t.Errorf("%s %s down: %d %s", rt.method, rt.path, r.Code, r.Body)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	s, f := newUseCaseServer(t)
	r := s.do(http.MethodGet, "/admin/users?q=ada&cursor=c1&limit=2", "", bearer(tokAdmin))
	page := dataOf[pageDTO[adminUserDTO]](t, r)
	if r.Code != 200 || len(page.Items) != 2 || page.NextCursor == nil || *page.NextCursor != "next" ||
		page.Items[0].LastLoginAt != nil || page.Items[1].LastLoginAt == nil || !page.Items[0].MFAEnabled || page.Items[0].ActiveSessions != 2 {
		t.Errorf("search: %d %s", r.Code, r.Body)
	}
	if f.search.q != "ada" || f.search.cursor != "c1" || f.search.limit != 2 {
		t.Errorf("search asked %+v", f.search)
	}
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID, "", bearer(tokAdmin)); r.Code != 200 || !strings.Contains(string(r.Body), `"passkeys":1`) {
		t.Errorf("get: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPatch, "/admin/users/"+testUserID, `{"roles":["user","admin"],"disabled":false}`, bearer(tokAdminAAL2))
	if r.Code != 200 || !slices.Equal(f.patch.Roles, []string{"user", "admin"}) || f.patch.Disabled == nil || *f.patch.Disabled || f.patch.Name != nil {
		t.Errorf("update: %d %s %+v", r.Code, r.Body, f.patch)
	}
	for _, rt := range []struct{ method, path, call string }{
		{http.MethodPost, "/admin/users/" + testUserID + "/revoke-sessions", "RevokeSessions:" + testUserID},
		{http.MethodDelete, "/admin/users/" + testUserID, "Delete:" + testUserID},
	} {
		if r := s.do(rt.method, rt.path, "", bearer(tokAdminAAL2)); r.Code != 200 || !slices.Contains(f.called(), rt.call) {
			t.Errorf("%s %s: %d %s", rt.method, rt.path, r.Code, r.Body)
		}
	}
	r = s.do(http.MethodGet, "/admin/users/"+testUserID+"/security-events", "", bearer(tokAdmin))
	if r.Code != 200 || !strings.Contains(string(r.Body), `"actorId":"cli"`) {
		t.Errorf("events: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodGet, "/admin/keys", "", bearer(tokAdmin))
	keys := dataOf[[]signingKeyDTO](t, r)
	if r.Code != 200 || len(keys) != 2 || keys[0].State != "active" || keys[0].RetiresAt == nil || keys[1].CreatedAt != nil || keys[1].RetiresAt != nil {
		t.Errorf("keys: %d %s", r.Code, r.Body)
	}
	r = s.do(http.MethodPost, "/admin/keys/rotate", "", bearer(tokAdminAAL2))
	k := dataOf[signingKeyDTO](t, r)
	if r.Code != 200 || k.Kid != "k3" || k.State != "next" || k.ActivatesAt == nil {
		t.Errorf("rotate: %d %s", r.Code, r.Body)
	}

	f.err = auth.ErrLastAdmin
	r = s.do(http.MethodDelete, "/admin/users/"+testUserID, "", bearer(tokAdminAAL2))
	if r.Code != 403 || r.errCode() != CodeForbidden || !strings.Contains(r.Env.Message, "last enabled administrator") {
		t.Errorf("last admin: %d %s", r.Code, r.Body)
	}
	f.err = user.ErrNotFound
	if r := s.do(http.MethodGet, "/admin/users/"+otherSessionID, "", bearer(tokAdmin)); r.Code != 404 {
		t.Errorf("unknown user: %d %s", r.Code, r.Body)
	}
	f.err = auth.ErrForbidden
	if r := s.do(http.MethodGet, "/admin/users", "", bearer(tokStale)); r.Code != 403 || r.errCode() != CodeForbidden {
		t.Errorf("non-admin search: %d %s", r.Code, r.Body)
	}
}
