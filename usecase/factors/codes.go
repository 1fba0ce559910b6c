package factors

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
)

// CodeVerifierDeps are the ports and settings of a CodeVerifier.
type CodeVerifierDeps struct {
	Users UserRepository
	TOTP  TOTPStore
	Codes RecoveryCodeStore
	OTP   OTP
	Clock Clock
	// Mail, when set, mails the owner when the failure ceiling is reached.
	Mail FactorMail
	// MaxFailures is MFA_MAX_FAILURES; zero means mfa.DefaultMaxFailures
	// (there is no "off").
	MaxFailures mfa.FailureCeiling
}

// CodeVerifier is the second step of a password login: which factors it
// needs, and the check of a code. The auth use cases call it.
type CodeVerifier struct{ d CodeVerifierDeps }

// NewCodeVerifier returns a CodeVerifier.
func NewCodeVerifier(d CodeVerifierDeps) *CodeVerifier {
	if d.MaxFailures <= 0 {
		d.MaxFailures = mfa.DefaultMaxFailures
	}
	return &CodeVerifier{d: d}
}

// LoginFactors lists the second-factor methods a password login of userID
// must be followed by: none, or "totp" and "recovery_code".
func (s *CodeVerifier) LoginFactors(ctx context.Context, userID string) ([]string, error) {
	t, err := s.d.TOTP.Get(ctx, userID)
	if errors.Is(err, mfa.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !t.Active() {
		return nil, nil
	}
	return []string{mfa.MethodTOTP, mfa.MethodRecoveryCode}, nil
}

// VerifyCode checks a TOTP code (or, when code is empty, a recovery code)
// of userID and consumes it: the TOTP step is remembered so the code is
// refused if presented again, a recovery code is marked used. Run it in
// the caller's transaction so the consumption commits with what the proof
// buys. mfa.ErrCodeInvalid when it does not verify.
//
// A failed code is counted in that transaction too, so the caller must
// commit it even though the answer is an error. Past the account's
// failure ceiling a TOTP code is refused unchecked, with the very answer a
// wrong code gets (the ceiling must not tell a right code from a wrong
// one); a recovery code still works, and like any success it starts the
// count over. The failure that reaches the ceiling mails the owner.
func (s *CodeVerifier) VerifyCode(ctx context.Context, userID, code, recoveryCode string) (usedRecovery bool, err error) {
	now := s.d.Clock.Now().UTC()
	if code == "" {
		used := false
		if n, ok := mfa.NormalizeRecoveryCode(recoveryCode); ok {
			used, err = s.d.Codes.Use(ctx, userID, mfa.HashRecoveryCode(userID, n), now)
			if err != nil {
				return false, err
			}
		}
		if !used {
			return false, s.failed(ctx, userID)
		}
		return true, s.d.TOTP.ClearFailures(ctx, userID)
	}
	// Read under the factor's lock: parallel checks of one account take
	// turns, each seeing the failures counted before it, so no more than
	// the ceiling's worth of codes is ever checked.
	hadFailures := false
	err = s.d.TOTP.Update(ctx, userID, func(t *mfa.TOTP) error {
		if !t.Active() || s.d.MaxFailures.Refuses(t.Failures) {
			return mfa.ErrCodeInvalid
		}
		step, ok := s.d.OTP.Match(t.Secret, code, now)
		if !ok || !mfa.AcceptStep(step, t.LastStep) {
			return mfa.ErrCodeInvalid
		}
		t.LastStep = step
		hadFailures = t.Failures > 0
		return nil
	})
	if errors.Is(err, mfa.ErrCodeInvalid) {
		return false, s.failed(ctx, userID)
	}
	if err != nil || !hadFailures {
		return false, err
	}
	return false, s.d.TOTP.ClearFailures(ctx, userID)
}

// failed counts a failed code of userID and returns mfa.ErrCodeInvalid;
// the failure that reaches the ceiling queues the owner's notice.
func (s *CodeVerifier) failed(ctx context.Context, userID string) error {
	n, err := s.d.TOTP.AddFailure(ctx, userID)
	if err != nil {
		return err
	}
	if s.d.MaxFailures.ReachedBy(n) && s.d.Mail != nil {
		u, err := s.d.Users.ByID(ctx, userID)
		if err != nil {
			return err
		}
		if err := notify(ctx, s.d.Mail, u, outbox.KindMFALocked); err != nil {
			return err
		}
	}
	return mfa.ErrCodeInvalid
}
