package authn

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// SecondFactors is what login and reauthentication ask of the
// second-factor use cases.
type SecondFactors interface {
	// LoginFactors lists the methods a password login of userID must be
	// followed by; empty when the account has no second factor.
	LoginFactors(ctx context.Context, userID string) ([]string, error)
	// VerifyCode checks and consumes a TOTP code, or when code is empty a
	// recovery code, in the caller's transaction; mfa.ErrCodeInvalid when
	// it does not verify.
	VerifyCode(ctx context.Context, userID, code, recoveryCode string) (usedRecovery bool, err error)
}

// MFAChallengeStore keeps logins awaiting their second factor: every
// challenge port, what a store implements.
type MFAChallengeStore interface {
	ChallengeIssuer
	ChallengeTaker
	ChallengePurger
}

// ChallengeIssuer stores a pending login (password proven, factor asked).
type ChallengeIssuer interface {
	Create(ctx context.Context, c mfa.Challenge) error
}

// ChallengeTaker finds and settles pending logins.
type ChallengeTaker interface {
	// Get finds the challenge with hash; mfa.ErrCodeInvalid when there is none.
	Get(ctx context.Context, hash [32]byte) (mfa.Challenge, error)
	// Update loads the challenge with hash, locks it until the transaction
	// ends, calls fn and stores what fn leaves (Failures, UsedAt) unless fn
	// fails. mfa.ErrCodeInvalid when there is none.
	Update(ctx context.Context, hash [32]byte, fn func(*mfa.Challenge) error) error
}

// ChallengePurger deletes pending logins that expired.
type ChallengePurger interface {
	// PurgeExpired deletes challenges that expired before before.
	PurgeExpired(ctx context.Context, before time.Time) (int, error)
}

// PasskeyVerifier finishes passkey logins.
type PasskeyVerifier interface {
	// FinishLogin consumes login ceremony challengeID (even when the
	// answer fails) and checks the assertion credential against it,
	// updating the passkey's sign counter. Called outside any transaction.
	// It returns the account and whether the user was verified;
	// mfa.ErrPasskeyInvalid on any failure.
	FinishLogin(ctx context.Context, challengeID string, credential []byte) (userID string, userVerified bool, err error)
}

// MFAChallenge is the answer to a password login that needs a second
// factor: a single-use token for /auth/mfa/verify and the methods it takes.
type MFAChallenge struct {
	Token     string
	Methods   []string
	ExpiresAt time.Time
}

// The amr of logins with two factors.
var (
	twoFactors        = []string{auth.MethodPassword, auth.MethodOTP, auth.MethodMFA}
	passkeyVerified   = []string{auth.MethodHardwareKey, auth.MethodMFA}
	passkeyUnverified = []string{auth.MethodHardwareKey}
)

// withSecondFactor is the amr of a login whose first step proved first
// (none recorded: a password) and whose second a code.
func withSecondFactor(first []string) []string {
	if len(first) == 0 {
		return twoFactors
	}
	return append(append([]string(nil), first...), auth.MethodOTP, auth.MethodMFA)
}

// firstMethod is the login_succeeded method of a login whose first step
// proved first: "" for a password.
func firstMethod(first []string) string {
	if slices.Contains(first, auth.MethodEmail) {
		return audit.MethodEmailCode
	}
	return ""
}

// MFAVerifyInput is the second step of a login: the mfaToken and a TOTP
// code or a recovery code.
type MFAVerifyInput struct {
	Token        string
	Code         string
	RecoveryCode string
}

// MFAVerifierDeps are the ports of an MFAVerifier.
type MFAVerifierDeps struct {
	Challenges ChallengeTaker
	Users      MFAUsers
	Factors    SecondFactors
	Gate       *PasswordGate
	Sessions   *SessionOpener
	Audit      AuditLog
	Tx         Transactor
	Clock      Clock
	// Observer is optional.
	Observer Observer
}

// MFAUsers is what finishing a login whose proof came first (a second
// factor, a passkey) needs of the accounts: read one, and hold its
// credential while the session starts.
type MFAUsers interface {
	UserReader
	CredentialLocker
}

// MFAVerifier finishes a password login that awaits its second factor
// (the second step of PasswordLogin). Without Challenges or Factors every
// attempt is mfa.ErrCodeInvalid.
type MFAVerifier struct {
	challenges ChallengeTaker
	users      MFAUsers
	proof      factorProof
	sessions   *SessionOpener
	rec        recorder
	tx         Transactor
	clock      Clock
	obs        Observer
}

// NewMFAVerifier returns an MFAVerifier.
func NewMFAVerifier(d MFAVerifierDeps) *MFAVerifier {
	return &MFAVerifier{
		challenges: d.Challenges, users: d.Users,
		proof:    factorProof{factors: d.Factors, gate: d.Gate, rec: recorder{d.Audit}, clock: d.Clock},
		sessions: d.Sessions, rec: recorder{d.Audit}, tx: d.Tx, clock: d.Clock, obs: observerOr(d.Observer),
	}
}

// VerifyMFA finishes a login that proved its password: with a valid code
// it starts a session whose tokens are aal2. Every attempt counts in the
// account's login throttle (a success clears it); a wrong code counts
// against the token too, which dies after mfa.MaxChallengeFailures. Any
// unknown, used, expired or exhausted token, and any wrong code, is
// mfa.ErrCodeInvalid.
func (m *MFAVerifier) VerifyMFA(ctx context.Context, in MFAVerifyInput, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	hash, ok := emailtoken.HashSecret(in.Token) // the shape newChallengeToken makes
	if !ok || m.challenges == nil || m.proof.factors == nil {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	// Find the account first (without a lock) for its throttle key: the
	// attempt must be counted before the code is checked, in its own
	// transaction, so parallel guesses cannot slip past the count.
	now := nowUTC(m.clock)
	c, err := m.challenges.Get(ctx, hash)
	if err != nil {
		return TokenPair{}, err
	}
	if !c.Usable(now) {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	u, err := m.users.ByID(ctx, c.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	if err != nil {
		return TokenPair{}, err
	}
	// Counted where the login's password attempt was: the known device's
	// record when the client proves one, else the client's and the
	// account's.
	keys := m.proof.gate.keysFor(u, meta)
	if err := m.proof.gate.admit(ctx, keys); err != nil {
		return TokenPair{}, err
	}
	var (
		pair  TokenPair
		wrong bool
	)
	err = m.tx.WithinTx(ctx, func(ctx context.Context) error {
		return m.challenges.Update(ctx, hash, func(c *mfa.Challenge) error {
			if c.UserID != u.ID || !c.Usable(now) {
				return mfa.ErrCodeInvalid
			}
			// A password change since the password was proven voids the
			// pending login, as it would a session (the credential version
			// is locked so a change cannot commit in between). An account
			// disabled since then (which also moves the version) is told
			// so rather than that its code is wrong.
			v, err := m.users.LockCredential(ctx, u.ID)
			if errors.Is(err, user.ErrNotFound) {
				return mfa.ErrCodeInvalid
			}
			if err != nil {
				return err
			}
			cur, err := m.users.ByID(ctx, u.ID)
			if errors.Is(err, user.ErrNotFound) {
				return mfa.ErrCodeInvalid
			}
			if err != nil {
				return err
			}
			if err := cur.CanSignIn(); err != nil {
				return err
			}
			if v != c.CredentialVersion {
				return mfa.ErrCodeInvalid
			}
			err = m.proof.prove(ctx, u, "", in.Code, in.RecoveryCode, meta, keys)
			if errors.Is(err, mfa.ErrCodeInvalid) {
				// Committed: the wrong code counts against the token, and
				// prove recorded it and counted it against the account.
				c.Failures++
				wrong = true
				return nil
			}
			if err != nil {
				return err
			}
			c.UsedAt = now
			pair, err = m.sessions.openVia(ctx, u, now, meta, withSecondFactor(c.Methods), c.IdP)
			if err != nil {
				return err
			}
			return m.rec.log.Append(ctx, signInEvent(u.ID, pair.Session.ID, firstMethod(c.Methods), c.IdP, meta, now))
		})
	})
	if err != nil {
		return TokenPair{}, err
	}
	if wrong {
		m.obs.LoginFailed()
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	m.obs.LoginSucceeded()
	return pair, nil
}

// PasskeyLoginDeps are the ports of a PasskeyLogin.
type PasskeyLoginDeps struct {
	// Passkeys is optional; without it every attempt is
	// mfa.ErrPasskeyInvalid.
	Passkeys PasskeyVerifier
	Users    MFAUsers
	Sessions *SessionOpener
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Observer is optional.
	Observer Observer
}

// PasskeyLogin finishes passwordless logins with a passkey.
type PasskeyLogin struct {
	passkeys PasskeyVerifier
	users    MFAUsers
	sessions *SessionOpener
	rec      recorder
	tx       Transactor
	clock    Clock
	obs      Observer
}

// NewPasskeyLogin returns a PasskeyLogin.
func NewPasskeyLogin(d PasskeyLoginDeps) *PasskeyLogin {
	return &PasskeyLogin{
		passkeys: d.Passkeys, users: d.Users, sessions: d.Sessions, rec: recorder{d.Audit},
		tx: d.Tx, clock: d.Clock, obs: observerOr(d.Observer),
	}
}

// Login finishes a passwordless login with a passkey and starts a
// session. A passkey with user verification (a PIN or biometric on the
// authenticator) is two factors, aal2; without it, one (hwk, aal1).
func (l *PasskeyLogin) Login(ctx context.Context, challengeID string, credential []byte, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	if l.passkeys == nil {
		return TokenPair{}, mfa.ErrPasskeyInvalid
	}
	// The ceremony is checked (and used up) before the session's
	// transaction: a failed answer must consume it too.
	userID, verified, err := l.passkeys.FinishLogin(ctx, challengeID, credential)
	if err != nil {
		if errors.Is(err, mfa.ErrPasskeyInvalid) {
			l.obs.LoginFailed()
		}
		return TokenPair{}, err
	}
	now := nowUTC(l.clock)
	var pair TokenPair
	err = l.tx.WithinTx(ctx, func(ctx context.Context) error {
		// Like a password login: the credential is held so a password
		// change or reset (which revokes every session) either committed
		// before or waits until this session exists, and the account is
		// read under that hold.
		if _, err := l.users.LockCredential(ctx, userID); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return mfa.ErrPasskeyInvalid
			}
			return err
		}
		u, err := l.users.ByID(ctx, userID)
		if errors.Is(err, user.ErrNotFound) {
			return mfa.ErrPasskeyInvalid
		}
		if err != nil {
			return err
		}
		// The passkey proved the person; a disabled account still may not
		// sign in.
		if err := u.CanSignIn(); err != nil {
			return err
		}
		methods := passkeyUnverified
		if verified {
			methods = passkeyVerified
		}
		pair, err = l.sessions.open(ctx, u, now, meta, methods)
		if err != nil {
			return err
		}
		return l.rec.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
	})
	if err != nil {
		if errors.Is(err, mfa.ErrPasskeyInvalid) {
			l.obs.LoginFailed()
		}
		return TokenPair{}, err
	}
	l.obs.LoginSucceeded()
	return pair, nil
}
