package mfa_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
	mfauc "github.com/gatehouse/gatehouse/usecase/mfa"
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
	if err := fn(&t); err != nil {
		return err
	}
	if t.Secret == "" && t.Pending == "" {
		delete(f.rows, userID)
		return nil
	}
	f.rows[userID] = t
	return nil
}

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

func (otpFake) NewKey(issuer, account string) (mfauc.OTPKey, error) {
	return mfauc.OTPKey{Secret: "SECRET" + strconv.Itoa(len(account)), URI: "otpauth://totp/" + issuer + ":" + account, QRPNG: []byte("png")}, nil
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
	svc   *mfauc.Service
	clock *fakes.Clock
	u     user.User
	totp  *totpStore
	codes *codeStore
	keys  *passkeys
	audit *auditLog
}

var t0 = time.Date(2026, 12, 1, 2, 0, 15, 0, time.UTC)

func newEnv() *env {
	u := user.User{ID: id.New(), Email: "ada@example.com"}
	e := &env{clock: fakes.NewClock(t0), u: u, totp: &totpStore{rows: map[string]mfa.TOTP{}},
		codes: &codeStore{}, keys: &passkeys{}, audit: &auditLog{}}
	e.svc = mfauc.NewService(mfauc.Deps{
		Users: &users{u: u}, TOTP: e.totp, RecoveryCodes: e.codes, Passkeys: e.keys,
		OTP: otpFake{}, Audit: e.audit, Tx: tx{}, Clock: e.clock,
		StepUp: domauth.StepUpPolicy{MaxAge: 10 * time.Minute}, Issuer: "Gatehouse",
	})
	return e
}

func (e *env) principal(aal string, fresh bool) domauth.Principal {
	return domauth.Principal{Claims: domauth.Claims{Subject: e.u.ID, SessionID: id.New(), Fresh: fresh, AuthTime: e.clock.Now(), AAL: aal}}
}

func step(at time.Time) string { return strconv.FormatInt(at.Unix()/30, 10) }

func (e *env) enable(t *testing.T) []string {
	t.Helper()
	p := e.principal(domauth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	codes, err := e.svc.ConfirmTOTP(context.Background(), p, step(e.clock.Now()), mfauc.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

func TestEnrolmentAndConfirmation(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	p := e.principal(domauth.AAL1, true)
	if _, err := e.svc.EnrollTOTP(ctx, e.principal(domauth.AAL1, false)); !errors.Is(err, domauth.ErrFreshAuthRequired) {
		t.Fatalf("enrol with a refreshed token: %v", err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, step(t0), mfauc.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("confirm without enrolment: %v", err)
	}
	k, err := e.svc.EnrollTOTP(ctx, p)
	if err != nil || k.Secret == "" || k.URI != "otpauth://totp/Gatehouse:ada@example.com" {
		t.Fatalf("enrol: %+v, %v", k, err)
	}
	if f, _ := e.svc.LoginFactors(ctx, e.u.ID); len(f) != 0 {
		t.Fatalf("a pending enrolment already asks for codes: %v", f)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, "12", mfauc.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	// A pending enrolment expires.
	e.clock.Advance(mfauc.PendingTOTPTTL + time.Second)
	if _, err := e.svc.ConfirmTOTP(ctx, e.principal(domauth.AAL1, true), step(e.clock.Now()), mfauc.Meta{}); !errors.Is(err, mfa.ErrCodeInvalid) {
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
	aal1 := e.principal(domauth.AAL1, true)
	if _, err := e.svc.RegenerateRecoveryCodes(ctx, aal1, mfauc.Meta{}); !errors.Is(err, domauth.ErrSecondFactorRequired) {
		t.Fatalf("regenerate at aal1: %v", err)
	}
	if err := e.svc.DisableTOTP(ctx, aal1, mfauc.Meta{}); !errors.Is(err, domauth.ErrSecondFactorRequired) {
		t.Fatalf("disable at aal1: %v", err)
	}
	if _, err := e.svc.EnrollTOTP(ctx, aal1); !errors.Is(err, domauth.ErrSecondFactorRequired) {
		t.Fatalf("re-enrol at aal1: %v", err)
	}
	if _, err := e.svc.BeginPasskeyRegistration(ctx, aal1, ""); !errors.Is(err, domauth.ErrSecondFactorRequired) {
		t.Fatalf("add a passkey at aal1: %v", err)
	}
	aal2 := e.principal(domauth.AAL2, true)
	fresh, err := e.svc.RegenerateRecoveryCodes(ctx, aal2, mfauc.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", codes[0]); !errors.Is(err, mfa.ErrCodeInvalid) {
		t.Fatalf("a code of the old set: %v", err)
	}
	if _, err := e.svc.VerifyCode(ctx, e.u.ID, "", fresh[0]); err != nil {
		t.Fatalf("a code of the new set: %v", err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, mfauc.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DisableTOTP(ctx, aal2, mfauc.Meta{}); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("disable twice: %v", err)
	}
	// With only a passkey, it counts as a factor too.
	e.keys.list = []mfa.Passkey{{ID: id.New(), UserID: e.u.ID}}
	if err := e.svc.DeletePasskey(ctx, aal1, e.keys.list[0].ID, mfauc.Meta{}); !errors.Is(err, domauth.ErrSecondFactorRequired) {
		t.Fatalf("delete a passkey at aal1: %v", err)
	}
	if err := e.svc.DeletePasskey(ctx, aal2, e.keys.list[0].ID, mfauc.Meta{}); err != nil {
		t.Fatal(err)
	}
	want := []audit.Type{audit.MFAEnabled, audit.RecoveryCodesRegenerated, audit.MFADisabled, audit.PasskeyRemoved}
	if len(e.audit.types) != len(want) {
		t.Fatalf("events %v, want %v", e.audit.types, want)
	}
	for i := range want {
		if e.audit.types[i] != want[i] {
			t.Fatalf("events %v, want %v", e.audit.types, want)
		}
	}
}
