package authn_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// The second-factor interactors, each built on its own from the ports it
// names, over the fake store.

const (
	goodCode     = "123456"
	goodRecovery = "recovery-1"
)

// totpFactors is an account with TOTP: goodCode verifies any number of
// times, goodRecovery once.
type totpFactors struct {
	mu       sync.Mutex
	userID   string
	usedUp   bool
	verified int
}

func (f *totpFactors) LoginFactors(_ context.Context, userID string) ([]string, error) {
	if userID == f.userID {
		return []string{auth.MethodOTP}, nil
	}
	return nil, nil
}

func (f *totpFactors) VerifyCode(_ context.Context, userID, code, recoveryCode string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case userID != f.userID:
		return false, mfa.ErrCodeInvalid
	case code == goodCode:
		f.verified++
		return false, nil
	case code == "" && recoveryCode == goodRecovery && !f.usedUp:
		f.usedUp = true
		f.verified++
		return true, nil
	}
	return false, mfa.ErrCodeInvalid
}

// challenges keeps pending logins in memory.
type challenges struct {
	mu sync.Mutex
	m  map[[32]byte]mfa.Challenge
}

func (c *challenges) Create(_ context.Context, ch mfa.Challenge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[ch.Hash] = ch
	return nil
}

func (c *challenges) Get(_ context.Context, hash [32]byte) (mfa.Challenge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[hash]
	if !ok {
		return mfa.Challenge{}, mfa.ErrCodeInvalid
	}
	return ch, nil
}

func (c *challenges) Update(_ context.Context, hash [32]byte, fn func(*mfa.Challenge) error) error {
	return fakes.UpdateIn(&c.mu, c.m, hash, mfa.ErrCodeInvalid, fn)
}

// outcomes counts what the interactors report.
type outcomes struct {
	mu                    sync.Mutex
	succeeded, failed, th int
}

func (o *outcomes) LoginSucceeded()       { o.mu.Lock(); o.succeeded++; o.mu.Unlock() }
func (o *outcomes) LoginFailed()          { o.mu.Lock(); o.failed++; o.mu.Unlock() }
func (o *outcomes) RefreshRotated()       {}
func (o *outcomes) RefreshReuseDetected() {}
func (o *outcomes) LoginThrottled()       { o.mu.Lock(); o.th++; o.mu.Unlock() }

type mfaEnv struct {
	*env
	ada     user.User
	factors *totpFactors
	pending *challenges
	obs     *outcomes
	login   *authn.PasswordLogin
	verify  *authn.MFAVerifier
}

func newMFAEnv(t *testing.T) *mfaEnv {
	e := newEnv(t)
	ada := e.register(adaEmail, adaPassword).User
	m := &mfaEnv{
		env: e, ada: ada, factors: &totpFactors{userID: ada.ID},
		pending: &challenges{m: map[[32]byte]mfa.Challenge{}}, obs: &outcomes{},
	}
	opener := authn.NewSessionOpener(authn.SessionOpenerDeps{
		Starter: e.store.Sessions, Capper: e.store.Sessions, Codec: fakes.NewCodec(), Tokens: e.tokens, Audit: e.store.Audit,
		Policy: session.Policy{IdleTTL: idleTTL, AbsoluteTTL: absoluteTTL, ReuseGrace: grace},
	})
	m.login = authn.NewPasswordLogin(authn.PasswordLoginDeps{
		Users: e.store.Users, Hasher: e.hasher, SignInDeps: authn.SignInDeps{Sessions: opener, Audit: e.store.Audit,
			Tx: e.store, Clock: e.clock, Observer: m.obs, Factors: m.factors, Challenges: m.pending},
	})
	m.verify = authn.NewMFAVerifier(authn.MFAVerifierDeps{
		Challenges: m.pending, Users: e.store.Users, Factors: m.factors, Sessions: opener,
		Audit: e.store.Audit, Tx: e.store, Clock: e.clock, Observer: m.obs,
	})
	return m
}

// startLogin proves Ada's password and returns the pending login's token.
func (m *mfaEnv) startLogin() string {
	m.t.Helper()
	p, err := m.login.Login(m.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta)
	if err != nil {
		m.t.Fatal(err)
	}
	if p.MFA == nil || p.AccessToken != "" || p.RefreshToken != "" || !slices.Equal(p.MFA.Methods, []string{auth.MethodOTP}) {
		m.t.Fatalf("a login with TOTP answered %+v; want only a challenge", p)
	}
	return p.MFA.Token
}

func TestPasswordLoginWithTOTPStartsNoSessionUntilTheCode(t *testing.T) {
	m := newMFAEnv(t)
	before := len(m.store.SessionsOf(m.ada.ID))
	tok := m.startLogin()
	if n := len(m.store.SessionsOf(m.ada.ID)); n != before {
		t.Fatalf("sessions after the password alone: %d, want %d", n, before)
	}
	p, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	if err != nil {
		t.Fatal(err)
	}
	c := m.claims(p.AccessToken)
	if c.AAL != auth.AAL2 || !slices.Equal(c.Methods, []string{auth.MethodPassword, auth.MethodOTP, auth.MethodMFA}) || !c.Fresh {
		t.Fatalf("claims after the code: aal %q amr %v fresh %v", c.AAL, c.Methods, c.Fresh)
	}
	if p.RefreshToken == "" || m.storedSession(p.Session.ID).UserID != m.ada.ID {
		t.Fatal("no session was started by the code")
	}
	// The token is used up.
	_, err = m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	wantErr(t, "the token a second time", err, mfa.ErrCodeInvalid)
	if m.obs.succeeded != 1 {
		t.Fatalf("logins reported: %d", m.obs.succeeded)
	}
}

func TestWrongCodesVoidThePendingLogin(t *testing.T) {
	m := newMFAEnv(t)
	tok := m.startLogin()
	for i := range mfa.MaxChallengeFailures {
		_, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: "000000"}, meta)
		wantErr(t, "wrong code", err, mfa.ErrCodeInvalid)
		if m.obs.failed != i+1 {
			t.Fatalf("failures reported: %d, want %d", m.obs.failed, i+1)
		}
	}
	_, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	wantErr(t, "right code after too many wrong ones", err, mfa.ErrCodeInvalid)
	for _, bad := range []string{"", "short", tok + "x"} {
		_, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: bad, Code: goodCode}, meta)
		wantErr(t, "malformed token", err, mfa.ErrCodeInvalid)
	}
}

func TestRecoveryCodeFinishesALoginOnceAndIsRecorded(t *testing.T) {
	m := newMFAEnv(t)
	p, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: m.startLogin(), RecoveryCode: goodRecovery}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.store.EventsOfType(m.ada.ID, audit.RecoveryCodeUsed)); n != 1 {
		t.Fatalf("recovery-code events: %d", n)
	}
	if p.Session.ID == "" {
		t.Fatal("no session")
	}
	_, err = m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: m.startLogin(), RecoveryCode: goodRecovery}, meta)
	wantErr(t, "a used recovery code", err, mfa.ErrCodeInvalid)
}

// A password change between the password and the code voids the pending
// login, as it voids sessions.
func TestPasswordChangeVoidsThePendingLogin(t *testing.T) {
	m := newMFAEnv(t)
	tok := m.startLogin()
	if err := m.store.Users.BumpCredential(m.ctx, m.ada.ID); err != nil {
		t.Fatal(err)
	}
	_, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	wantErr(t, "code after a password change", err, mfa.ErrCodeInvalid)
}

func TestVerifyMFAWithoutFactorsRefusesEverything(t *testing.T) {
	m := newMFAEnv(t)
	tok := m.startLogin()
	off := authn.NewMFAVerifier(authn.MFAVerifierDeps{Users: m.store.Users, Audit: m.store.Audit, Tx: m.store, Clock: m.clock})
	_, err := off.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	wantErr(t, "second factors off", err, mfa.ErrCodeInvalid)
}

// passkeys answers every ceremony with one account.
type passkeys struct {
	userID   string
	verified bool
	err      error
}

func (p passkeys) FinishLogin(context.Context, string, []byte) (string, bool, error) {
	return p.userID, p.verified, p.err
}

func TestPasskeyLogin(t *testing.T) {
	e := newEnv(t)
	ada := e.register(adaEmail, adaPassword).User
	obs := &outcomes{}
	newLogin := func(v authn.PasskeyVerifier) *authn.PasskeyLogin {
		opener := authn.NewSessionOpener(authn.SessionOpenerDeps{
			Starter: e.store.Sessions, Capper: e.store.Sessions, Codec: fakes.NewCodec(), Tokens: e.tokens,
			Audit: e.store.Audit, Policy: session.Policy{IdleTTL: idleTTL, AbsoluteTTL: absoluteTTL},
		})
		return authn.NewPasskeyLogin(authn.PasskeyLoginDeps{
			Passkeys: v, Users: e.store.Users, Sessions: opener, Audit: e.store.Audit, Tx: e.store, Clock: e.clock, Observer: obs,
		})
	}
	for _, tc := range []struct {
		verified bool
		aal      string
		amr      []string
	}{
		{true, auth.AAL2, []string{auth.MethodHardwareKey, auth.MethodMFA}},
		{false, auth.AAL1, []string{auth.MethodHardwareKey}},
	} {
		p, err := newLogin(passkeys{userID: ada.ID, verified: tc.verified}).Login(e.ctx, "ceremony", []byte("{}"), meta)
		if err != nil {
			t.Fatal(err)
		}
		c := e.claims(p.AccessToken)
		if c.AAL != tc.aal || !slices.Equal(c.Methods, tc.amr) || c.Subject != ada.ID || p.RefreshToken == "" {
			t.Fatalf("user verified %v: aal %q amr %v sub %q", tc.verified, c.AAL, c.Methods, c.Subject)
		}
	}
	if obs.succeeded != 2 {
		t.Fatalf("logins reported: %d", obs.succeeded)
	}
	_, err := newLogin(passkeys{err: mfa.ErrPasskeyInvalid}).Login(e.ctx, "ceremony", []byte("{}"), meta)
	wantErr(t, "a failed assertion", err, mfa.ErrPasskeyInvalid)
	_, err = newLogin(nil).Login(e.ctx, "ceremony", []byte("{}"), meta)
	wantErr(t, "passkeys off", err, mfa.ErrPasskeyInvalid)
	_, err = newLogin(passkeys{userID: "00000000-0000-4000-8000-000000000000", verified: true}).Login(e.ctx, "ceremony", []byte("{}"), meta)
	wantErr(t, "a passkey of a deleted account", err, mfa.ErrPasskeyInvalid)
	if obs.failed != 2 {
		t.Fatalf("failures reported: %d, want 2", obs.failed)
	}
	u := e.storedUser(ada.ID)
	if _, err := e.store.Users.UpdateAdmin(e.ctx, u.ID, func(u *user.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = newLogin(passkeys{userID: ada.ID, verified: true}).Login(e.ctx, "ceremony", []byte("{}"), meta)
	wantErr(t, "a disabled account", err, user.ErrDisabled)
}

// The gate other packages' password checks use: counted before the check,
// taken back when unchecked, cleared when proven.
func TestPasswordGateForOtherUseCases(t *testing.T) {
	e := newEnv(t)
	clock, store := e.clock, e.store
	lt := &memThrottle{m: map[string]throttle.State{}}
	obs := &outcomes{}
	gate := authn.NewPasswordGate(authn.PasswordGateDeps{
		Throttle: lt, Tx: store, Clock: clock, Observer: obs,
		ClientPolicy: throttle.Policy{MaxFailures: 2, Window: time.Hour, Lockout: time.Hour},
	})
	ctx := context.Background()
	for range 3 {
		if err := gate.AdmitPassword(ctx, adaEmail, "203.0.113.7"); err != nil {
			t.Fatal(err)
		}
		gate.PasswordUnchecked(ctx, adaEmail, "203.0.113.7")
	}
	if err := gate.AdmitPassword(ctx, adaEmail, "203.0.113.7"); err != nil {
		t.Fatalf("after unchecked attempts: %v", err)
	}
	if err := gate.PasswordProven(ctx, adaEmail, "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	// Two wrong passwords (admitted, never proven) lock this client out.
	for range 2 {
		if err := gate.AdmitPassword(ctx, adaEmail, "203.0.113.7"); err != nil {
			t.Fatal(err)
		}
	}
	var limited *throttle.LimitedError
	if err := gate.AdmitPassword(ctx, adaEmail, "203.0.113.7"); !errors.As(err, &limited) || obs.th != 1 {
		t.Fatalf("third attempt: %v (throttled reported %d)", err, obs.th)
	}
	if err := gate.AdmitPassword(ctx, adaEmail, "198.51.100.4"); err != nil {
		t.Fatalf("another client: %v", err)
	}
}

// Every wrong second-factor code leaves an mfa_failed event, at the second
// step of a login and at a reauthentication alike: the transaction that
// counts it commits although the answer is an error.
func TestWrongCodesAreRecorded(t *testing.T) {
	m := newMFAEnv(t)
	tok := m.startLogin()
	_, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: "000000"}, meta)
	wantErr(t, "wrong code", err, mfa.ErrCodeInvalid)
	_, err = m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, RecoveryCode: "not-it"}, meta)
	wantErr(t, "wrong recovery code", err, mfa.ErrCodeInvalid)
	if n := len(m.store.EventsOfType(m.ada.ID, audit.MFAFailed)); n != 2 {
		t.Fatalf("mfa_failed events after two wrong codes at login: %d", n)
	}

	reauth := authn.NewReauthenticator(authn.ReauthenticatorDeps{
		Users: m.store.Users, Hasher: m.hasher, Sessions: m.store.Sessions, Tokens: m.tokens,
		Audit: m.store.Audit, Tx: m.store, Clock: m.clock, Factors: m.factors,
	})
	p, err := m.verify.VerifyMFA(m.ctx, authn.MFAVerifyInput{Token: tok, Code: goodCode}, meta)
	if err != nil {
		t.Fatal(err)
	}
	caller := m.principal(p.AccessToken)
	before := m.storedSession(p.Session.ID).AuthTime
	m.clock.Advance(time.Minute)
	_, err = reauth.Reauthenticate(m.ctx, caller, authn.ReauthInput{Password: adaPassword, Code: "000000"}, meta)
	wantErr(t, "reauthenticate with a wrong code", err, mfa.ErrCodeInvalid)
	evs := m.store.EventsOfType(m.ada.ID, audit.MFAFailed)
	if len(evs) != 3 || evs[2].SessionID != p.Session.ID {
		t.Fatalf("mfa_failed events after a wrong code at reauthentication: %+v", evs)
	}
	if got := m.storedSession(p.Session.ID).AuthTime; !got.Equal(before) || len(m.store.EventsOfType(m.ada.ID, audit.Reauthenticated)) != 0 {
		t.Fatalf("a wrong code stepped the session up: auth time %v (was %v)", got, before)
	}
	if _, err := reauth.Reauthenticate(m.ctx, caller, authn.ReauthInput{Password: adaPassword, Code: goodCode}, meta); err != nil {
		t.Fatalf("reauthenticate with the right code: %v", err)
	}
	if n := len(m.store.EventsOfType(m.ada.ID, audit.MFAFailed)); n != 3 {
		t.Fatalf("a right code was recorded as failed: %d events", n)
	}
}
