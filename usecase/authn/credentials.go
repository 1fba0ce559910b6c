package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// passwordCheck proves an email and password, for login and for
// reauthentication: the throttle, the constant-work answer for unknown
// accounts, the failure record, the hash upgrade, the account rules, and
// which second factors must follow.
type passwordCheck struct {
	users   PasswordAccounts
	hasher  PasswordHasher
	gate    *PasswordGate
	factors SecondFactors
	tx      Transactor
	rec     recorder
	clock   Clock
	obs     Observer
	// failures, when set, records wrong passwords off the request path.
	failures *FailureLog
}

// check finds the account and checks the password, recording a failure for
// an existing account, and upgrading the hash when the configured cost
// changed. The account throttle is keyed by the email as typed
// (normalized), whether or not an account has it, so its answers do not
// tell existing accounts from unknown ones.
//
// factors are the second-factor methods the account requires after its
// password. While one is required, the attempt stays counted in the
// throttle until the factor is proven too (see factorProof): otherwise each
// password success would wipe the count of wrong codes, and a thief with
// the password could guess codes without end.
//
// On success without factors the attempt is still counted: the caller
// takes it back with c.gate.clear(ctx, keys), in the transaction that
// uses the proof (login saves a commit that way), or on its own.
//
// device, when not "", names the known device the caller already proved
// (a step-up's session); otherwise a known-device proof in meta is looked
// at (see PasswordGate.keysFor). Either way the attempt is counted for that
// device, apart from the account-wide ceiling.
func (c passwordCheck) check(ctx context.Context, in Credentials, meta Meta, device string) (u user.User, factors []string, keys throttleKeys, err error) {
	email, ok := user.NormalizeEmail(in.Email)
	if !ok {
		email = strings.ToLower(strings.TrimSpace(in.Email))
	}
	keys = gateKeys(email, meta.IP)
	switch {
	case device != "":
		keys = deviceKeys(email, device, meta.IP)
	case ok && c.gate.knowsDevices(meta):
		// Only a client holding a proof the gate can open pays for this
		// lookup; the answer does not depend on it.
		if known, err := c.users.ByEmail(ctx, email); err == nil {
			keys = c.gate.keysFor(known, meta)
		}
	}
	if err := c.gate.admit(ctx, keys); err != nil {
		return user.User{}, nil, keys, err
	}
	if !ok {
		c.hasher.VerifyDummy(ctx, in.Password)
		c.obs.LoginFailed()
		return user.User{}, nil, keys, auth.ErrInvalidCredentials
	}
	u, err = c.users.ByEmail(ctx, email)
	if errors.Is(err, user.ErrNotFound) {
		c.hasher.VerifyDummy(ctx, in.Password)
		c.obs.LoginFailed()
		return user.User{}, nil, keys, auth.ErrInvalidCredentials
	}
	if err != nil {
		c.gate.undoAttempt(ctx, keys)
		return user.User{}, nil, keys, err
	}
	if !u.HasPassword() {
		// An account made through another provider has no password yet:
		// the same answer, after the same work, as a wrong one.
		c.hasher.VerifyDummy(ctx, in.Password)
		c.obs.LoginFailed()
		if err := c.recordFailure(ctx, u.ID, meta); err != nil {
			return user.User{}, nil, keys, err
		}
		return user.User{}, nil, keys, auth.ErrInvalidCredentials
	}
	match, rehash, err := c.hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		c.gate.undoAttempt(ctx, keys)
		return user.User{}, nil, keys, fmt.Errorf("login: verify: %w", err)
	}
	if !match {
		c.obs.LoginFailed()
		if err := c.recordFailure(ctx, u.ID, meta); err != nil {
			return user.User{}, nil, keys, err
		}
		return user.User{}, nil, keys, auth.ErrInvalidCredentials
	}
	if rehash {
		c.upgradeHash(ctx, u, in.Password)
	}
	// Account rules that apply once the password is proven, before any
	// second factor: a disabled account is told so and asked for nothing.
	if err := u.CanSignIn(); err != nil {
		if cerr := c.gate.clear(ctx, keys); cerr != nil {
			return user.User{}, nil, keys, cerr
		}
		return user.User{}, nil, keys, err
	}
	if c.factors != nil {
		if factors, err = c.factors.LoginFactors(ctx, u.ID); err != nil {
			return user.User{}, nil, keys, err
		}
		if len(factors) > 0 {
			return u, factors, keys, nil
		}
	}
	return u, nil, keys, nil
}

// recordFailure records a wrong password of account userID. With a
// FailureLog it is queued (see FailureLog: the request then does the same
// database work as one for an unknown email); without, it is written in a
// transaction of its own, since the answer is an error and the record must
// outlive it.
func (c passwordCheck) recordFailure(ctx context.Context, userID string, meta Meta) error {
	now := nowUTC(c.clock)
	if c.failures != nil {
		return c.failures.Record(ctx, audit.Event{
			ID: id.New(), UserID: userID, Type: audit.LoginFailed, IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now,
		})
	}
	return c.tx.WithinTx(ctx, func(ctx context.Context) error {
		return c.rec.record(ctx, audit.LoginFailed, userID, "", meta, now)
	})
}

// upgradeHash re-hashes a password whose stored hash used other parameters.
// A failure only delays the upgrade to the next login, so it is not fatal.
// The store writes the hash alone, and only while the credential is the one
// just proven: never over a password change that committed meanwhile, and
// never over another column (an administrator's role change made during
// the two hashes stays).
func (c passwordCheck) upgradeHash(ctx context.Context, u user.User, plain string) {
	hash, err := c.hasher.Hash(ctx, plain)
	if err != nil {
		return
	}
	_ = c.users.UpgradeHash(ctx, u.ID, hash, u.CredentialVersion)
}

// factorProof checks and consumes an account's code or recovery code in the
// caller's transaction, for the second step of a login and for
// reauthentication.
type factorProof struct {
	factors SecondFactors
	gate    *PasswordGate
	rec     recorder
	clock   Clock
}

// prove checks and consumes u's code or recovery code in the caller's
// transaction, records the use of a recovery code, and clears the account's
// throttle: the login attempt that began with the password has now
// succeeded (the throttle records keys, those the attempt was counted in).
// A wrong code is recorded (mfa_failed) and counted against the
// account's ceiling in that transaction, and is mfa.ErrCodeInvalid: the
// caller commits the transaction all the same, or the failure would leave
// no trace.
func (f factorProof) prove(ctx context.Context, u user.User, sessionID, code, recoveryCode string, meta Meta, keys throttleKeys) error {
	usedRecovery, err := f.factors.VerifyCode(ctx, u.ID, code, recoveryCode)
	if errors.Is(err, mfa.ErrCodeInvalid) {
		if rerr := f.rec.record(ctx, audit.MFAFailed, u.ID, sessionID, meta, nowUTC(f.clock)); rerr != nil {
			return rerr
		}
		return err
	}
	if err != nil {
		return err
	}
	if usedRecovery {
		if err := f.rec.record(ctx, audit.RecoveryCodeUsed, u.ID, sessionID, meta, nowUTC(f.clock)); err != nil {
			return err
		}
	}
	return f.gate.clear(ctx, keys)
}
