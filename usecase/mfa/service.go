package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Deps are the ports the second-factor interactors consume.
type Deps struct {
	Users         UserRepository
	TOTP          TOTPStore
	RecoveryCodes RecoveryCodeStore
	Passkeys      PasskeyStore
	Ceremonies    CeremonyStore
	OTP           OTP
	WebAuthn      WebAuthn
	Audit         AuditLog
	Tx            Transactor
	Clock         Clock
	// StepUp is the freshness rule for changing factors.
	StepUp domauth.StepUpPolicy
	// Issuer labels TOTP secrets in authenticator apps.
	Issuer string
}

// Service runs the second-factor use cases.
type Service struct{ d Deps }

// NewService returns a Service.
func NewService(d Deps) *Service { return &Service{d: d} }

// Meta describes the client of a request, for security events.
type Meta struct {
	IP        string
	UserAgent string
}

func (s *Service) now() time.Time { return s.d.Clock.Now().UTC() }

func (s *Service) record(ctx context.Context, t audit.Type, userID, sessionID string, meta Meta) error {
	return s.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, SessionID: sessionID, Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: s.now(),
	})
}

// hasFactor reports whether userID has an active second factor: a
// confirmed TOTP secret or a passkey.
func (s *Service) hasFactor(ctx context.Context, userID string) (bool, error) {
	t, err := s.d.TOTP.Get(ctx, userID)
	switch {
	case err == nil && t.Active():
		return true, nil
	case err != nil && !errors.Is(err, mfa.ErrNotFound):
		return false, err
	}
	if s.d.Passkeys == nil {
		return false, nil
	}
	list, err := s.d.Passkeys.ListByUser(ctx, userID)
	return len(list) > 0, err
}

// stepUp is the rule for every operation that changes factors: a fresh
// token and, once the account has a factor, an aal2 one, so a stolen
// password (or a session that never proved the factor) cannot remove or
// replace it.
func (s *Service) stepUp(ctx context.Context, p domauth.Principal) error {
	if err := s.d.StepUp.Check(p.Claims, s.now()); err != nil {
		return err
	}
	has, err := s.hasFactor(ctx, p.UserID())
	if err != nil {
		return err
	}
	return s.d.StepUp.CheckAAL2(p.Claims, has, s.now())
}

// user loads the caller's account; a vanished one means the session is gone.
func (s *Service) user(ctx context.Context, p domauth.Principal) (user.User, error) {
	u, err := s.d.Users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, domauth.ErrSessionRevoked
	}
	return u, err
}

// EnrollTOTP makes a new TOTP secret for the caller, pending until
// confirmed with a first code; it replaces any earlier pending one. An
// active secret stays in force until the new one is confirmed.
func (s *Service) EnrollTOTP(ctx context.Context, p domauth.Principal) (OTPKey, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return OTPKey{}, err
	}
	u, err := s.user(ctx, p)
	if err != nil {
		return OTPKey{}, err
	}
	key, err := s.d.OTP.NewKey(s.d.Issuer, u.Email)
	if err != nil {
		return OTPKey{}, fmt.Errorf("enrol totp: %w", err)
	}
	now := s.now()
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		return s.d.TOTP.Update(ctx, u.ID, func(t *mfa.TOTP) error {
			t.Pending, t.PendingCreatedAt = key.Secret, now
			return nil
		})
	})
	if err != nil {
		return OTPKey{}, err
	}
	return key, nil
}

// PendingTOTPTTL is how long an unconfirmed enrolment can be confirmed.
const PendingTOTPTTL = 15 * time.Minute

// ConfirmTOTP activates the pending secret with a first code from it and
// returns a new set of recovery codes (any earlier set is void). A wrong
// code, or no pending enrolment, is mfa.ErrCodeInvalid.
func (s *Service) ConfirmTOTP(ctx context.Context, p domauth.Principal, code string, meta Meta) ([]string, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return nil, err
	}
	now := s.now()
	codes := mfa.NewRecoveryCodes()
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		err := s.d.TOTP.Update(ctx, p.UserID(), func(t *mfa.TOTP) error {
			if t.Pending == "" || now.Sub(t.PendingCreatedAt) > PendingTOTPTTL {
				return mfa.ErrCodeInvalid
			}
			step, ok := s.d.OTP.Match(t.Pending, code, now)
			if !ok {
				return mfa.ErrCodeInvalid
			}
			t.Secret, t.ConfirmedAt, t.LastStep = t.Pending, now, step
			t.Pending, t.PendingCreatedAt = "", time.Time{}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.d.RecoveryCodes.Replace(ctx, p.UserID(), hashCodes(p.UserID(), codes), now); err != nil {
			return err
		}
		return s.record(ctx, audit.MFAEnabled, p.UserID(), p.SessionID(), meta)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func hashCodes(userID string, codes []string) [][32]byte {
	out := make([][32]byte, len(codes))
	for i, c := range codes {
		n, _ := mfa.NormalizeRecoveryCode(c)
		out[i] = mfa.HashRecoveryCode(userID, n)
	}
	return out
}

// DisableTOTP removes the caller's TOTP factor and recovery codes.
// mfa.ErrNotFound when TOTP is not active.
func (s *Service) DisableTOTP(ctx context.Context, p domauth.Principal, meta Meta) error {
	if err := s.stepUp(ctx, p); err != nil {
		return err
	}
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		err := s.d.TOTP.Update(ctx, p.UserID(), func(t *mfa.TOTP) error {
			if !t.Active() {
				return mfa.ErrNotFound
			}
			*t = mfa.TOTP{UserID: t.UserID}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.d.RecoveryCodes.DeleteAll(ctx, p.UserID()); err != nil {
			return err
		}
		return s.record(ctx, audit.MFADisabled, p.UserID(), p.SessionID(), meta)
	})
}

// RegenerateRecoveryCodes voids the caller's recovery codes and returns a
// new set. mfa.ErrNotFound when TOTP is not active.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p domauth.Principal, meta Meta) ([]string, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return nil, err
	}
	codes := mfa.NewRecoveryCodes()
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		t, err := s.d.TOTP.Get(ctx, p.UserID())
		if err != nil {
			return err
		}
		if !t.Active() {
			return mfa.ErrNotFound
		}
		if err := s.d.RecoveryCodes.Replace(ctx, p.UserID(), hashCodes(p.UserID(), codes), s.now()); err != nil {
			return err
		}
		return s.record(ctx, audit.RecoveryCodesRegenerated, p.UserID(), p.SessionID(), meta)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// LoginFactors lists the second-factor methods a password login of userID
// must be followed by: none, or "totp" and "recovery_code".
func (s *Service) LoginFactors(ctx context.Context, userID string) ([]string, error) {
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
func (s *Service) VerifyCode(ctx context.Context, userID, code, recoveryCode string) (usedRecovery bool, err error) {
	now := s.now()
	if code == "" {
		n, ok := mfa.NormalizeRecoveryCode(recoveryCode)
		if !ok {
			return false, mfa.ErrCodeInvalid
		}
		used, err := s.d.RecoveryCodes.Use(ctx, userID, mfa.HashRecoveryCode(userID, n), now)
		if err != nil {
			return false, err
		}
		if !used {
			return false, mfa.ErrCodeInvalid
		}
		return true, nil
	}
	err = s.d.TOTP.Update(ctx, userID, func(t *mfa.TOTP) error {
		if !t.Active() {
			return mfa.ErrCodeInvalid
		}
		step, ok := s.d.OTP.Match(t.Secret, code, now)
		if !ok || !mfa.AcceptStep(step, t.LastStep) {
			return mfa.ErrCodeInvalid
		}
		t.LastStep = step
		return nil
	})
	return false, err
}
