package authn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// ReauthUsers is what Reauthenticator needs of the accounts: the caller's
// account, and what a password check needs.
type ReauthUsers interface {
	UserReader
	PasswordAccounts
}

// ReauthenticatorDeps are the ports of a Reauthenticator.
type ReauthenticatorDeps struct {
	Users    ReauthUsers
	Hasher   PasswordHasher
	Gate     *PasswordGate
	Sessions SessionUpdater
	Tokens   TokenIssuer
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Observer is optional.
	Observer Observer
	// Factors, when set, asks for the account's second factor too.
	Factors SecondFactors
	// Failures, when set, records wrong passwords off the request path.
	Failures *FailureLog
}

// Reauthenticator is the step-up: it proves the caller again (password,
// and the second factor when the account has one) and moves the session's
// auth time and methods to now, so the fresh token it returns satisfies the
// step-up rule of the sensitive operations (auth.StepUpPolicy, checked
// by the use cases that need it: usecase/account, usecase/factors, usecase/admin).
type Reauthenticator struct {
	users    ReauthUsers
	check    passwordCheck
	proof    factorProof
	sessions SessionUpdater
	mint     minter
	rec      recorder
	tx       Transactor
	clock    Clock
}

// NewReauthenticator returns a Reauthenticator.
func NewReauthenticator(d ReauthenticatorDeps) *Reauthenticator {
	rec := recorder{d.Audit}
	return &Reauthenticator{
		users: d.Users,
		check: passwordCheck{
			users: d.Users, hasher: d.Hasher, gate: d.Gate, factors: d.Factors,
			tx: d.Tx, rec: rec, clock: d.Clock, obs: observerOr(d.Observer), failures: d.Failures,
		},
		proof:    factorProof{factors: d.Factors, gate: d.Gate, rec: rec, clock: d.Clock},
		sessions: d.Sessions, mint: minter{d.Tokens}, rec: rec, tx: d.Tx, clock: d.Clock,
	}
}

// ReauthInput is what a reauthentication presents: the password and, when
// the account has TOTP, a code or a recovery code.
type ReauthInput struct {
	Password     string
	Code         string
	RecoveryCode string
}

// Reauthenticate checks the caller's password (and second factor, when the
// account has one) again and returns a fresh access token for the same
// session; the session's auth time and methods move to now, so later
// refreshes carry them (still not fresh). A wrong password is
// ErrInvalidCredentials and is recorded as a failed login; with TOTP active
// a missing code is a validation error on "code".
func (r *Reauthenticator) Reauthenticate(ctx context.Context, p auth.Principal, in ReauthInput, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, err := r.users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return TokenPair{}, auth.ErrSessionRevoked
	}
	if err != nil {
		return TokenPair{}, err
	}
	// The caller's session proves this client signed in before: its
	// attempts are counted for the session, and back-off others caused on
	// the account does not keep the owner from stepping up.
	_, factors, keys, err := r.check.check(ctx, Credentials{Email: u.Email, Password: in.Password}, meta, "session:"+p.SessionID())
	if err != nil {
		return TokenPair{}, err
	}
	if len(factors) == 0 {
		if err := r.check.gate.clear(ctx, keys); err != nil {
			return TokenPair{}, err
		}
	}
	methods := passwordOnly
	if len(factors) > 0 {
		if in.Code == "" && in.RecoveryCode == "" {
			return TokenPair{}, user.Invalid("code", "is required: two-step verification is on")
		}
		methods = twoFactors
	}
	var (
		pair  TokenPair
		wrong bool
	)
	err = r.tx.WithinTx(ctx, func(ctx context.Context) error {
		if len(factors) > 0 {
			err := r.proof.prove(ctx, u, p.SessionID(), in.Code, in.RecoveryCode, meta, keys)
			if errors.Is(err, mfa.ErrCodeInvalid) {
				// Committed: the failure's record and count must stay.
				wrong = true
				return nil
			}
			if err != nil {
				return err
			}
		}
		now := nowUTC(r.clock)
		var sess session.Session
		err := r.sessions.Update(ctx, p.SessionID(), func(cur *session.Session) error {
			if !cur.Active(now) {
				return auth.ErrSessionRevoked
			}
			cur.AuthTime, cur.Methods = now, methods
			sess = *cur
			return nil
		})
		if errors.Is(err, session.ErrNotFound) {
			return auth.ErrSessionRevoked
		}
		if err != nil {
			return err
		}
		if err := r.rec.record(ctx, audit.Reauthenticated, u.ID, sess.ID, meta, now); err != nil {
			return err
		}
		pair, err = r.mint.pair(u, sess, "", true, now)
		if err != nil {
			return fmt.Errorf("reauthenticate: %w", err)
		}
		return nil
	})
	if err == nil && wrong {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	return pair, err
}
