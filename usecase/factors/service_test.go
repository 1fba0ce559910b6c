package factors_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/factors"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// Fakes: each keeps its state in memory; Tx runs fn directly (the tests are
// sequential), so what the use case stores is what the fakes hold.

type users struct{ u user.User }

func (f *users) ByID(_ context.Context, userID string) (user.User, error) {
	if userID != f.u.ID {
		return user.User{}, user.ErrNotFound
	}
	return f.u, nil
}

type totpStore struct {
	mu   sync.Mutex
	rows map[string]mfa.TOTP
}

func (f *totpStore) Get(_ context.Context, userID string) (mfa.TOTP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.rows[userID]
	if !ok {
		return mfa.TOTP{}, mfa.ErrNotFound
	}
	return t, nil
}

func (f *totpStore) Update(_ context.Context, userID string, fn func(*mfa.TOTP) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.rows[userID]
	if !ok {
		t = mfa.TOTP{UserID: userID}
	}
	failures := t.Failures
	if err := fn(&t); err != nil {
		return err
	}
	if t.Secret == "" && t.Pending == "" {
		delete(f.rows, userID)
		return nil
	}
	t.Failures = failures // the count is written only by the two below
	f.rows[userID] = t
	return nil
}

func (f *totpStore) AddFailure(_ context.Context, userID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.rows[userID]
	if !ok {
		return 0, nil
	}
	t.Failures++
	f.rows[userID] = t
	return t.Failures, nil
}

func (f *totpStore) ClearFailures(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.rows[userID]; ok {
		t.Failures = 0
		f.rows[userID] = t
	}
	return nil
}

// mailbox records the notices queued, as "kind to address".
type mailbox struct {
	enabled bool
	sent    []string
}

func (f *mailbox) Enabled() bool { return f.enabled }

func (f *mailbox) Notice(_ context.Context, to string, kind outbox.Kind) error {
	if f.enabled {
		f.sent = append(f.sent, string(kind)+" to "+to)
	}
	return nil
}

// revoker records RevokeAllForUser calls, as "user except reason".
type revoker struct {
	calls     []string
	forgotten []string
}

func (f *revoker) RevokeAllForUser(_ context.Context, userID, exceptID, reason string, _ time.Time) ([]string, error) {
	f.calls = append(f.calls, userID+" "+exceptID+" "+reason)
	return nil, nil
}

func (f *revoker) ForgetUser(userID string) { f.forgotten = append(f.forgotten, userID) }

type codeStore struct{ codes map[[32]byte]bool } // hash -> used

func (f *codeStore) Replace(_ context.Context, _ string, hashes [][32]byte, _ time.Time) error {
	f.codes = map[[32]byte]bool{}
	for _, h := range hashes {
		f.codes[h] = false
	}
	return nil
}

func (f *codeStore) Use(_ context.Context, _ string, h [32]byte, _ time.Time) (bool, error) {
	used, ok := f.codes[h]
	if !ok || used {
		return false, nil
	}
	f.codes[h] = true
	return true, nil
}

func (f *codeStore) DeleteAll(context.Context, string) error { f.codes = nil; return nil }

type passkeys struct{ list []mfa.Passkey }

func (f *passkeys) Create(_ context.Context, p mfa.Passkey) error {
	f.list = append(f.list, p)
	return nil
}
func (f *passkeys) ListByUser(context.Context, string) ([]mfa.Passkey, error) {
	return f.list, nil
}
func (f *passkeys) ByCredentialID(context.Context, []byte) (mfa.Passkey, error) {
	return mfa.Passkey{}, mfa.ErrNotFound
}
func (f *passkeys) Update(context.Context, mfa.Passkey) error { return nil }
func (f *passkeys) Delete(context.Context, string, string) error {
	if len(f.list) == 0 {
		return mfa.ErrNotFound
	}
	f.list = f.list[1:]
	return nil
}

type auditLog struct{ types []audit.Type }

func (f *auditLog) Append(_ context.Context, e audit.Event) error {
	f.types = append(f.types, e.Type)
	return nil
}

type tx struct{}

func (tx) WithinTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// otpFake accepts "step:N" style codes: the code is the decimal step, so
// tests choose which step a code matches.
type otpFake struct{}

func (otpFake) NewKey(issuer, account string) (factors.OTPKey, error) {
	return factors.OTPKey{Secret: "SECRET" + strconv.Itoa(len(account)), URI: "otpauth://totp/" + issuer + ":" + account, QRPNG: []byte("png")}, nil
}

func (otpFake) Match(_, code string, now time.Time) (int64, bool) {
	step, err := strconv.ParseInt(code, 10, 64)
	cur := now.Unix() / 30
	if err != nil || step < cur-1 || step > cur+1 {
		return 0, false
	}
	return step, true
}

type env struct {
	svc      interactors
	clock    *fakes.Clock
	u        user.User
	users    *users
	totp     *totpStore
	codes    *codeStore
	keys     *passkeys
	audit    *auditLog
	mail     *mailbox
	sessions *revoker
}

var t0 = time.Date(2026, 12, 1, 2, 0, 15, 0, time.UTC)

// deps are the ports and settings the second-factor interactors of a test
// are built from; each interactor takes the ones it calls.
type deps struct {
	Users         factors.UserRepository
	TOTP          factors.TOTPStore
	RecoveryCodes factors.RecoveryCodeStore
	Passkeys      factors.PasskeyStore
	Ceremonies    factors.CeremonyStore
	OTP           factors.OTP
	WebAuthn      factors.WebAuthn
	Audit         factors.AuditLog
	Tx            factors.Transactor
	Clock         factors.Clock
	Mail          factors.FactorMail
	Sessions      factors.SessionRevoker
	Cache         factors.SessionCache
	StepUp        auth.StepUpPolicy
	Issuer        string
	MaxFailures   mfa.FailureCeiling
	Events        factors.Events
}

// interactors are the second-factor interactors the tests act through.
type interactors struct {
	*factors.TOTPEnroller
	*factors.TOTPConfirmer
	*factors.TOTPDisabler
	*factors.RecoveryCodeRegenerator
	*factors.CodeVerifier
	*factors.PasskeyRegistrar
	*factors.PasskeyLister
	*factors.PasskeyRemover
	*factors.PasskeyAuthenticator
	*factors.CeremonyPurger
}

func newInteractors(d deps) interactors {
	rules := factors.NewFactorRules(factors.FactorRulesDeps{
		Users: d.Users, TOTP: d.TOTP, Audit: d.Audit, Clock: d.Clock, Mail: d.Mail,
		Sessions: d.Sessions, Cache: d.Cache, StepUp: d.StepUp, Events: d.Events,
	})
	return interactors{
		TOTPEnroller:            factors.NewTOTPEnroller(rules, d.TOTP, d.OTP, d.Issuer, d.Tx),
		TOTPConfirmer:           factors.NewTOTPConfirmer(rules, d.TOTP, d.RecoveryCodes, d.OTP, d.Tx),
		TOTPDisabler:            factors.NewTOTPDisabler(rules, d.TOTP, d.RecoveryCodes, d.Tx),
		RecoveryCodeRegenerator: factors.NewRecoveryCodeRegenerator(rules, d.TOTP, d.RecoveryCodes, d.Tx),
		CodeVerifier: factors.NewCodeVerifier(factors.CodeVerifierDeps{
			Users: d.Users, TOTP: d.TOTP, Codes: d.RecoveryCodes, OTP: d.OTP, Clock: d.Clock,
			Mail: d.Mail, MaxFailures: d.MaxFailures,
		}),
		PasskeyRegistrar: factors.NewPasskeyRegistrar(rules, d.Passkeys, d.Ceremonies, d.WebAuthn, d.Tx),
		PasskeyLister:    factors.NewPasskeyLister(d.Passkeys),
		PasskeyRemover:   factors.NewPasskeyRemover(rules, d.Passkeys, d.Tx, nil),
		PasskeyAuthenticator: factors.NewPasskeyAuthenticator(factors.PasskeyLoginDeps{
			Users: d.Users, Passkeys: d.Passkeys, Ceremonies: d.Ceremonies, WebAuthn: d.WebAuthn, Tx: d.Tx, Clock: d.Clock,
		}),
		CeremonyPurger: factors.NewCeremonyPurger(d.Ceremonies, d.Clock),
	}
}

// newEnv is a verified account with mail on and the default ceiling;
// with changes deps before the service is built.
func newEnv(with ...func(*deps)) *env {
	u := user.User{ID: id.New(), Email: "ada@example.com", EmailVerified: true}
	e := &env{clock: fakes.NewClock(t0), u: u, users: &users{u: u}, totp: &totpStore{rows: map[string]mfa.TOTP{}},
		codes: &codeStore{}, keys: &passkeys{}, audit: &auditLog{}, mail: &mailbox{enabled: true}, sessions: &revoker{}}
	d := deps{
		Users: e.users, TOTP: e.totp, RecoveryCodes: e.codes, Passkeys: e.keys,
		OTP: otpFake{}, Audit: e.audit, Tx: tx{}, Clock: e.clock,
		Mail: e.mail, Sessions: e.sessions, Cache: e.sessions, WebAuthn: webauthnFake{},
		Ceremonies: &ceremonies{},
		StepUp:     auth.StepUpPolicy{MaxAge: 10 * time.Minute}, Issuer: "Gatehouse",
	}
	for _, w := range with {
		w(&d)
	}
	e.svc = newInteractors(d)
	return e
}

// webauthnFake accepts any registration answer as credential "cred".
type webauthnFake struct{}

func (webauthnFake) BeginRegistration(user.User, []mfa.Passkey) ([]byte, []byte, error) {
	return []byte(`{"challenge":"c"}`), []byte("state"), nil
}
func (webauthnFake) FinishRegistration(_ user.User, _ []mfa.Passkey, _, _ []byte) ([]byte, []byte, error) {
	return []byte("cred"), []byte("serialized"), nil
}
func (webauthnFake) BeginLogin() ([]byte, []byte, error) { return nil, nil, errors.New("unused") }
func (webauthnFake) FinishLogin([]byte, []byte, func([]byte, []byte) (user.User, []mfa.Passkey, error)) (mfa.Passkey, bool, error) {
	return mfa.Passkey{}, false, errors.New("unused")
}

type ceremonies struct{ list []factors.Ceremony }

func (f *ceremonies) Create(_ context.Context, c factors.Ceremony) error {
	f.list = append(f.list, c)
	return nil
}
func (f *ceremonies) Take(context.Context, string, string) (factors.Ceremony, error) {
	return factors.Ceremony{}, mfa.ErrPasskeyInvalid
}
func (f *ceremonies) TakeForUser(_ context.Context, userID, purpose string) (factors.Ceremony, error) {
	for i, c := range f.list {
		if c.UserID == userID && c.Purpose == purpose {
			f.list = append(f.list[:i], f.list[i+1:]...)
			return c, nil
		}
	}
	return factors.Ceremony{}, mfa.ErrPasskeyInvalid
}
func (f *ceremonies) PurgeExpired(context.Context, time.Time) (int, error) { return 0, nil }

func (e *env) principal(aal string, fresh bool) auth.Principal {
	return auth.Principal{Claims: auth.Claims{Subject: e.u.ID, SessionID: id.New(), Fresh: fresh, AuthTime: e.clock.Now(), AAL: aal}}
}

func step(at time.Time) string { return strconv.FormatInt(at.Unix()/30, 10) }

func (e *env) enable(t *testing.T) []string {
	t.Helper()
	p := e.principal(auth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	codes, err := e.svc.ConfirmTOTP(context.Background(), p, step(e.clock.Now()), factors.Enrolment{}, factors.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

func TestEnrolmentAndConfirmation(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	p := e.principal(auth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(ctx, e.principal(auth.AAL1, false)); !errors.Is(err, auth.ErrFreshAuthRequired) {
		t.Fatalf("enrol with a refreshed token: %v", err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, step(t0), factors.Enrolment{}, factors.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("confirm without enrolment: %v", err)
	}
	k, err := e.svc.EnrollTOTP(ctx, p)
	if err != nil || k.Secret == "" || k.URI != "otpauth://totp/Gatehouse:ada@example.com" {
		t.Fatalf("enrol: %+v, %v", k, err)
	}
	if f, _ := e.svc.LoginFactors(ctx, e.u.ID); len(f) != 0 {
		t.Fatalf("a pending enrolment already asks for codes: %v", f)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, "12", factors.Enrolment{}, factors.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	// A pending enrolment expires.
	e.clock.Advance(factors.PendingTOTPTTL + time.Second)
	if _, err := e.svc.ConfirmTOTP(ctx, e.principal(auth.AAL1, true), step(e.clock.Now()), factors.Enrolment{}, factors.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("confirm after the enrolment expired: %v", err)
	}
	codes := e.enable(t)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if f, _ := e.svc.LoginFactors(ctx, e.u.ID); len(f) != 2 {
		t.Fatalf("login factors after confirmation: %v", f)
	}
	if e.audit.types[len(e.audit.types)-1] != audit.MFAEnabled {
		t.Fatalf("events %v", e.audit.types)
	}
}

func TestVerifyCodeRefusesReplay(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	e.enable(t) // consumed the current step
	now := e.clock.Now()
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, step(now), ""); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("the confirming code again: %v", err)
	}
	next := step(now.Add(30 * time.Second))
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, next, ""); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, next, ""); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("replayed code: %v", err)
	}
	// An older code still inside the drift window is refused after a newer one.
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, step(now), ""); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("older code after a newer one: %v", err)
	}
	if _, err := e.svc.VerifyCode(ctx, id.New(), next, ""); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("code of an account without TOTP: %v", err)
	}
}

func TestRecoveryCodesSingleUse(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	codes := e.enable(t)
	used, err := e.svc.VerifyCode(ctx, e.u.ID, "", " "+codes[3]+" ")
	if err != nil || !used {
		t.Fatalf("recovery code: %v, %v", used, err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", codes[3]); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("used recovery code: %v", err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", "not a code"); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestChangingFactorsNeedsAAL2(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	codes := e.enable(t)
	aal1 := e.principal(auth.AAL1, true)
	if _, err := e.svc.RegenerateRecoveryCodes(ctx, aal1, factors.Meta{}); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("regenerate at aal1: %v", err)
	}
	if err := e.svc.DisableTOTP(ctx, aal1, factors.Meta{}); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("disable at aal1: %v", err)
	}
	if _, err := e.svc.EnrollTOTP(ctx, aal1); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("re-enrol at aal1: %v", err)
	}
	if _, err := e.svc.BeginPasskeyRegistration(ctx, aal1, ""); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("add a passkey at aal1: %v", err)
	}
	aal2 := e.principal(auth.AAL2, true)
	fresh, err := e.svc.RegenerateRecoveryCodes(ctx, aal2, factors.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", codes[0]); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("a code of the old set: %v", err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", fresh[0]); err != nil {
		t.Fatalf("a code of the new set: %v", err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, factors.Meta{}); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("disable twice: %v", err)
	}
	// A passkey alone does not raise the bar: it is another way to sign
	// in, so the password's owner (fresh, aal1) removes one they did not
	// add. A refreshed token still may not.
	e.keys.list = []mfa.Passkey{{ID: id.New(), UserID: e.u.ID}, {ID: id.New(), UserID: e.u.ID}}
	if err := e.svc.DeletePasskey(ctx, e.principal(auth.AAL1, false), e.keys.list[0].ID, factors.Meta{}); !errors.Is(err, auth.ErrFreshAuthRequired) {
		t.Fatalf("delete a passkey with a refreshed token: %v", err)
	}
	if err := e.svc.DeletePasskey(ctx, aal1, e.keys.list[0].ID, factors.Meta{}); err != nil {
		t.Fatalf("delete a passkey at aal1 without TOTP: %v", err)
	}
	// Once TOTP is on, every factor change takes aal2 again.
	e.enable(t)
	if err := e.svc.DeletePasskey(ctx, e.principal(auth.AAL1, true), e.keys.list[0].ID, factors.Meta{}); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("delete a passkey at aal1 with TOTP on: %v", err)
	}
	if err := e.svc.DeletePasskey(ctx, e.principal(auth.AAL2, true), e.keys.list[0].ID, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	want := []audit.Type{audit.MFAEnabled, audit.RecoveryCodesRegenerated, audit.MFADisabled, audit.PasskeyRemoved, audit.MFAEnabled, audit.PasskeyRemoved}
	if len(e.audit.types) != len(want) {
		t.Fatalf("events %v, want %v", e.audit.types, want)
	}
	for i := range want {
		if e.audit.types[i] != want[i] {
			t.Fatalf("events %v, want %v", e.audit.types, want)
		}
	}
}

// While mail is on, a factor can be enrolled only on a proven address, at
// every step of the enrolment; with mail off (no address can be proven)
// it can.
func TestEnrolmentNeedsAVerifiedAddress(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	e.users.u.EmailVerified = false
	p := e.principal(auth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(ctx, p); !errors.Is(err, emailtoken.ErrEmailNotVerified) {
		t.Fatalf("enrol TOTP on an unverified address: %v", err)
	}
	if _, err := e.svc.BeginPasskeyRegistration(ctx, p, ""); !errors.Is(err, emailtoken.ErrEmailNotVerified) {
		t.Fatalf("begin a passkey on an unverified address: %v", err)
	}
	// Begun while verified, finished after the address changed: refused.
	e.users.u.EmailVerified = true
	if _, err := e.svc.EnrollTOTP(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BeginPasskeyRegistration(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	e.users.u.EmailVerified = false
	if _, err := e.svc.ConfirmTOTP(ctx, p, step(e.clock.Now()), factors.Enrolment{}, factors.Meta{}); !errors.Is(err, emailtoken.ErrEmailNotVerified) {
		t.Fatalf("confirm TOTP on an unverified address: %v", err)
	}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, p, []byte(`{}`), "", factors.Enrolment{}, factors.Meta{}); !errors.Is(err, emailtoken.ErrEmailNotVerified) {
		t.Fatalf("finish a passkey on an unverified address: %v", err)
	}
	if f, _ := e.svc.LoginFactors(ctx, e.u.ID); len(f) != 0 || len(e.keys.list) != 0 || len(e.mail.sent) != 0 {
		t.Fatalf("a refused enrolment left factors %v, passkeys %v or mail %v", f, e.keys.list, e.mail.sent)
	}

	off := newEnv()
	off.mail.enabled = false
	off.users.u.EmailVerified = false
	off.enable(t)
	if _, err := off.svc.BeginPasskeyRegistration(ctx, off.principal(auth.AAL2, true), ""); err != nil {
		t.Fatalf("mail off: %v", err)
	}
}

// Every factor added or removed queues a notice to the account's address,
// in the change's transaction.
func TestFactorChangesAreMailed(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	aal1 := e.principal(auth.AAL1, true)
	if _, err := e.svc.BeginPasskeyRegistration(ctx, aal1, "Laptop"); err != nil {
		t.Fatal(err)
	}
	pk, err := e.svc.FinishPasskeyRegistration(ctx, aal1, []byte(`{}`), "", factors.Enrolment{}, factors.Meta{})
	if err != nil || pk.Name != "Laptop" {
		t.Fatalf("passkey %+v, %v", pk, err)
	}
	if err := e.svc.DeletePasskey(ctx, aal1, pk.ID, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	e.enable(t)
	aal2 := e.principal(auth.AAL2, true)
	if _, err := e.svc.RegenerateRecoveryCodes(ctx, aal2, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"passkey_added to ada@example.com", "passkey_removed to ada@example.com", "totp_enabled to ada@example.com",
		"recovery_codes_regenerated to ada@example.com", "totp_disabled to ada@example.com"}
	if !slices.Equal(e.mail.sent, want) {
		t.Fatalf("notices %v, want %v", e.mail.sent, want)
	}
	// A refused change mails nothing.
	if err := e.svc.DisableTOTP(ctx, aal2, factors.Meta{}); !errors.Is(err, mfa.ErrNotFound) || len(e.mail.sent) != len(want) {
		t.Fatalf("disable twice: %v, notices %v", err, e.mail.sent)
	}
}

// Enrolling a factor can end every other session in the same step, the
// caller's excepted, as a password change does; by default it ends none.
func TestEnrolmentSignsOutOtherSessions(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	p := e.principal(auth.AAL1, true)
	if _, err := e.svc.BeginPasskeyRegistration(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, p, []byte(`{}`), "", factors.Enrolment{}, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	if len(e.sessions.calls) != 0 {
		t.Fatalf("a passkey without the option revoked sessions: %v", e.sessions.calls)
	}
	if _, err := e.svc.EnrollTOTP(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, step(e.clock.Now()), factors.Enrolment{SignOutOthers: true}, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	want := e.u.ID + " " + p.SessionID() + " " + session.ReasonFactorAdded
	if !slices.Equal(e.sessions.calls, []string{want}) || !slices.Equal(e.sessions.forgotten, []string{e.u.ID}) {
		t.Fatalf("revocations %v (want %q), forgotten %v", e.sessions.calls, want, e.sessions.forgotten)
	}
	aal2 := e.principal(auth.AAL2, true)
	if _, err := e.svc.BeginPasskeyRegistration(ctx, aal2, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, aal2, []byte(`{}`), "", factors.Enrolment{SignOutOthers: true}, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	if len(e.sessions.calls) != 2 || !strings.HasSuffix(e.sessions.calls[1], aal2.SessionID()+" "+session.ReasonFactorAdded) {
		t.Fatalf("revocations %v", e.sessions.calls)
	}
}

// Past the ceiling a right TOTP code gets the wrong code's answer; the
// owner is mailed once; a recovery code lifts the ceiling.
func TestFailureCeiling(t *testing.T) {
	ctx := context.Background()
	e := newEnv(func(d *deps) { d.MaxFailures = 3 })
	codes := e.enable(t)
	wrong := func(n int) {
		t.Helper()
		for range n {
			if _, err := e.svc.VerifyCode(ctx, e.u.ID, "000", ""); !errors.Is(err, mfa.ErrCodeInvalid) {
				t.Fatalf("wrong code: %v", err)
			}
		}
	}
	wrong(2)
	// A success below the ceiling starts the count over.
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, step(e.clock.Now()), ""); err != nil {
		t.Fatalf("right code after 2 failures: %v", err)
	}
	wrong(2)
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", "aaaa-aaaa-aaaa-aaaa"); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("wrong recovery code: %v", err)
	}
	// Three in a row (TOTP and recovery codes alike): the ceiling.
	locked := "mfa_locked to ada@example.com"
	if !slices.Equal(e.mail.sent, []string{"totp_enabled to ada@example.com", locked}) {
		t.Fatalf("notices %v", e.mail.sent)
	}
	e.clock.Advance(30 * time.Second)
	right := step(e.clock.Now())
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, right, ""); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("right code past the ceiling: %v", err)
	}
	wrong(5)
	if n := slices.Index(e.mail.sent, locked); n != 1 || len(e.mail.sent) != 2 {
		t.Fatalf("the owner was not mailed exactly once: %v", e.mail.sent)
	}
	if used, err := e.svc.VerifyCode(ctx, e.u.ID, "", codes[0]); err != nil || !used {
		t.Fatalf("recovery code past the ceiling: %v, %v", used, err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, right, ""); err != nil {
		t.Fatalf("right code after a recovery code: %v", err)
	}
	if got := e.totp.rows[e.u.ID].Failures; got != 0 {
		t.Fatalf("count after a success: %d", got)
	}
}

// published records webhook events as the outbox would.
type published struct{ events []webhook.Event }

func (p *published) Publish(_ context.Context, e webhook.Event) error {
	p.events = append(p.events, e)
	return nil
}

// TestFactorChangesArePublished: a confirmed TOTP and a passkey added, a
// TOTP removed, each told to the app (mfa.enabled, mfa.disabled) with the
// factor, and nothing for a pending enrolment.
func TestFactorChangesArePublished(t *testing.T) {
	ctx := context.Background()
	pub := &published{}
	e := newEnv(func(d *deps) { d.Events = pub })
	p := e.principal(auth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(ctx, p); err != nil {
		t.Fatal(err)
	}
	if len(pub.events) != 0 {
		t.Fatalf("a pending enrolment published %v", pub.events)
	}
	e.enable(t)
	aal2 := e.principal(auth.AAL2, true)
	if _, err := e.svc.BeginPasskeyRegistration(ctx, aal2, "key"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, aal2, []byte(`{}`), "key", factors.Enrolment{}, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, factors.Meta{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range pub.events {
		if ev.UserID != e.u.ID || ev.Data["userId"] != e.u.ID {
			t.Errorf("event for %q", ev.UserID)
		}
		got = append(got, string(ev.Type)+" "+ev.Data["method"].(string))
	}
	want := []string{"mfa.enabled totp", "mfa.enabled passkey", "mfa.disabled totp"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("published %v, want %v", got, want)
	}
}
