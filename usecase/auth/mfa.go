package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
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

// MFAChallengeStore keeps logins awaiting their second factor.
type MFAChallengeStore interface {
	Create(ctx context.Context, c mfa.Challenge) error
	// Get finds the challenge with hash; mfa.ErrCodeInvalid when there is none.
	Get(ctx context.Context, hash [32]byte) (mfa.Challenge, error)
	// Update loads the challenge with hash, locks it until the transaction
	// ends, calls fn and stores what fn leaves (Failures, UsedAt) unless fn
	// fails. mfa.ErrCodeInvalid when there is none.
	Update(ctx context.Context, hash [32]byte, fn func(*mfa.Challenge) error) error
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
	twoFactors        = []string{domauth.MethodPassword, domauth.MethodOTP, domauth.MethodMFA}
	passkeyVerified   = []string{domauth.MethodHardwareKey, domauth.MethodMFA}
	passkeyUnverified = []string{domauth.MethodHardwareKey}
)

// mfaTokenBytes is the entropy of an mfaToken: 256 bits.
const mfaTokenBytes = 32

// challenge stores a pending login for u and returns its token. No session
// exists yet: nothing usable is issued until the second factor is proven.
func (s *Service) challenge(ctx context.Context, u user.User, factors []string) (TokenPair, error) {
	var b [mfaTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	c := mfa.Challenge{Hash: sha256.Sum256([]byte(tok)), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(mfa.ChallengeTTL),
		CredentialVersion: u.CredentialVersion}
	if err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error { return s.d.MFAChallenges.Create(ctx, c) }); err != nil {
		return TokenPair{}, err
	}
	return TokenPair{MFA: &MFAChallenge{Token: tok, Methods: factors, ExpiresAt: c.ExpiresAt}}, nil
}

// MFAVerifyInput is the second step of a login: the mfaToken and a TOTP
// code or a recovery code.
type MFAVerifyInput struct {
	Token        string
	Code         string
	RecoveryCode string
}

// VerifyMFA finishes a login that proved its password: with a valid code
// it starts a session whose tokens are aal2. Every attempt counts in the
// account's login throttle (a success clears it); a wrong code counts
// against the token too, which dies after mfa.MaxChallengeFailures. Any
// unknown, used, expired or exhausted token, and any wrong code, is
// mfa.ErrCodeInvalid.
func (s *Service) VerifyMFA(ctx context.Context, in MFAVerifyInput, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	if s.d.MFAChallenges == nil || s.d.Factors == nil || len(in.Token) != base64.RawURLEncoding.EncodedLen(mfaTokenBytes) {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	hash := sha256.Sum256([]byte(in.Token))
	// Find the account first (without a lock) for its throttle key: the
	// attempt must be counted before the code is checked, in its own
	// transaction, so parallel guesses cannot slip past the count.
	now := s.now()
	c, err := s.d.MFAChallenges.Get(ctx, hash)
	if err != nil {
		return TokenPair{}, err
	}
	if !c.Usable(now) {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	u, err := s.d.Users.ByID(ctx, c.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.admit(ctx, s.throttleKeys(u.Email, meta.IP)); err != nil {
		return TokenPair{}, err
	}
	var (
		pair  TokenPair
		wrong bool
	)
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		return s.d.MFAChallenges.Update(ctx, hash, func(c *mfa.Challenge) error {
			if c.UserID != u.ID || !c.Usable(now) {
				return mfa.ErrCodeInvalid
			}
			// A password change since the password was proven voids the
			// pending login, as it would a session (the credential version
			// is locked so a change cannot commit in between). An account
			// disabled since then (which also moves the version) is told
			// so rather than that its code is wrong.
			v, err := s.d.Users.LockCredential(ctx, u.ID)
			if errors.Is(err, user.ErrNotFound) {
				return mfa.ErrCodeInvalid
			}
			if err != nil {
				return err
			}
			cur, err := s.d.Users.ByID(ctx, u.ID)
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
			err = s.proveFactor(ctx, u, "", in.Code, in.RecoveryCode, meta)
			if errors.Is(err, mfa.ErrCodeInvalid) {
				// Kept: the wrong code counts against the token.
				c.Failures++
				wrong = true
				return nil
			}
			if err != nil {
				return err
			}
			c.UsedAt = now
			pair, err = s.startSession(ctx, u, now, meta, twoFactors)
			if err != nil {
				return err
			}
			return s.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
		})
	})
	if err != nil {
		return TokenPair{}, err
	}
	if wrong {
		s.d.Observer.LoginFailed()
		return TokenPair{}, mfa.ErrCodeInvalid
	}
	s.d.Observer.LoginSucceeded()
	return pair, nil
}

// proveFactor checks and consumes u's code or recovery code in the
// caller's transaction, records the use of a recovery code, and clears the
// account's throttle: the login attempt that began with the password has
// now succeeded.
func (s *Service) proveFactor(ctx context.Context, u user.User, sessionID, code, recoveryCode string, meta Meta) error {
	usedRecovery, err := s.d.Factors.VerifyCode(ctx, u.ID, code, recoveryCode)
	if err != nil {
		return err
	}
	if usedRecovery {
		if err := s.record(ctx, audit.RecoveryCodeUsed, u.ID, sessionID, meta, s.now()); err != nil {
			return err
		}
	}
	return s.clearThrottle(ctx, s.throttleKeys(u.Email, meta.IP))
}

// PasskeyLogin finishes a passwordless login with a passkey and starts a
// session. A passkey with user verification (a PIN or biometric on the
// authenticator) is two factors, aal2; without it, one (hwk, aal1).
func (s *Service) PasskeyLogin(ctx context.Context, challengeID string, credential []byte, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	if s.d.Passkeys == nil {
		return TokenPair{}, mfa.ErrPasskeyInvalid
	}
	// The ceremony is checked (and used up) before the session's
	// transaction: a failed answer must consume it too.
	userID, verified, err := s.d.Passkeys.FinishLogin(ctx, challengeID, credential)
	if err != nil {
		if errors.Is(err, mfa.ErrPasskeyInvalid) {
			s.d.Observer.LoginFailed()
		}
		return TokenPair{}, err
	}
	now := s.now()
	var pair TokenPair
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// Like a password login: the credential is held so a password
		// change or reset (which revokes every session) either committed
		// before or waits until this session exists, and the account is
		// read under that hold.
		if _, err := s.d.Users.LockCredential(ctx, userID); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return mfa.ErrPasskeyInvalid
			}
			return err
		}
		u, err := s.d.Users.ByID(ctx, userID)
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
		pair, err = s.startSession(ctx, u, now, meta, methods)
		if err != nil {
			return err
		}
		return s.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
	})
	if err != nil {
		if errors.Is(err, mfa.ErrPasskeyInvalid) {
			s.d.Observer.LoginFailed()
		}
		return TokenPair{}, err
	}
	s.d.Observer.LoginSucceeded()
	return pair, nil
}
