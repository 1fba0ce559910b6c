package authn

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
)

// PasswordLoginDeps are the ports and settings of a PasswordLogin.
type PasswordLoginDeps struct {
	Users  PasswordAccounts
	Hasher PasswordHasher
	Gate   *PasswordGate
	// SignInDeps end the login: its session, or the pending login of an
	// account with a second factor.
	SignInDeps
	// RequireVerifiedEmail refuses login, after the password was proven, to
	// accounts whose address is not verified.
	RequireVerifiedEmail bool
	// Failures, when set, records wrong passwords off the request path.
	Failures *FailureLog
}

// PasswordLogin checks an email and password and starts a session, or,
// when the account has a second factor, a pending login that MFAVerifier
// finishes.
type PasswordLogin struct {
	check  passwordCheck
	in     signIn
	verify bool
}

// NewPasswordLogin returns a PasswordLogin.
func NewPasswordLogin(d PasswordLoginDeps) *PasswordLogin {
	in := newSignIn(d.SignInDeps, d.Users)
	return &PasswordLogin{
		check: passwordCheck{
			users: d.Users, hasher: d.Hasher, gate: d.Gate, factors: d.Factors,
			tx: d.Tx, rec: in.rec, clock: d.Clock, obs: in.obs, failures: d.Failures,
		},
		in: in, verify: d.RequireVerifiedEmail,
	}
}

// Login checks credentials and starts a new session. Unknown emails and
// wrong passwords get the same error after the same amount of hashing work.
func (l *PasswordLogin) Login(ctx context.Context, in Credentials, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, factors, keys, err := l.check.check(ctx, in, meta, "")
	if err != nil {
		return TokenPair{}, err
	}
	// Only after the password was proven, so the answer tells nothing to
	// someone who does not know it; and before any second factor is asked.
	if l.verify && !u.EmailVerified {
		return TokenPair{}, emailtoken.ErrEmailNotVerified
	}
	if len(factors) > 0 {
		return l.in.challengeAlone(ctx, u, factors, mfa.Challenge{})
	}
	// The attempt is taken back with the session it made, in one commit;
	// if the session cannot start, it stays counted.
	return l.in.start(ctx, u, meta, passwordOnly, "", auth.ErrInvalidCredentials, func(ctx context.Context) error {
		return l.check.gate.clear(ctx, keys)
	})
}
