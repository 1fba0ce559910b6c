package factors

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
)

// TOTPEnroller starts TOTP enrolments.
type TOTPEnroller struct {
	rules  *FactorRules
	totp   TOTPStore
	otp    OTP
	issuer string
	tx     Transactor
}

// NewTOTPEnroller returns a TOTPEnroller; issuer labels the secrets in
// authenticator apps.
func NewTOTPEnroller(rules *FactorRules, totp TOTPStore, otp OTP, issuer string, tx Transactor) *TOTPEnroller {
	return &TOTPEnroller{rules: rules, totp: totp, otp: otp, issuer: issuer, tx: tx}
}

// EnrollTOTP makes a new TOTP secret for the caller, pending until
// confirmed with a first code; it replaces any earlier pending one. An
// active secret stays in force until the new one is confirmed.
func (s *TOTPEnroller) EnrollTOTP(ctx context.Context, p auth.Principal) (OTPKey, error) {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return OTPKey{}, err
	}
	u, err := s.rules.enrollable(ctx, p)
	if err != nil {
		return OTPKey{}, err
	}
	key, err := s.otp.NewKey(s.issuer, u.Email)
	if err != nil {
		return OTPKey{}, fmt.Errorf("enrol totp: %w", err)
	}
	now := s.rules.now()
	err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
		return s.totp.Update(ctx, u.ID, func(t *mfa.TOTP) error {
			t.Pending, t.PendingCreatedAt = key.Secret, now
			return nil
		})
	})
	if err != nil {
		return OTPKey{}, err
	}
	return key, nil
}

// TOTPConfirmer activates pending TOTP secrets.
type TOTPConfirmer struct {
	rules *FactorRules
	totp  TOTPStore
	codes RecoveryCodeStore
	otp   OTP
	tx    Transactor
}

// NewTOTPConfirmer returns a TOTPConfirmer.
func NewTOTPConfirmer(rules *FactorRules, totp TOTPStore, codes RecoveryCodeStore, otp OTP, tx Transactor) *TOTPConfirmer {
	return &TOTPConfirmer{rules: rules, totp: totp, codes: codes, otp: otp, tx: tx}
}

// PendingTOTPTTL is how long an unconfirmed enrolment can be confirmed.
const PendingTOTPTTL = 15 * time.Minute

// ConfirmTOTP activates the pending secret with a first code from it and
// returns a new set of recovery codes (any earlier set is void). A wrong
// code, or no pending enrolment, is mfa.ErrCodeInvalid. The new secret
// starts with no failed codes. opt.SignOutOthers ends every other session.
func (s *TOTPConfirmer) ConfirmTOTP(ctx context.Context, p auth.Principal, code string, opt Enrolment, meta Meta) ([]string, error) {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return nil, err
	}
	now := s.rules.now()
	codes := mfa.NewRecoveryCodes()
	if opt.SignOutOthers {
		defer s.rules.forget(p.UserID())
	}
	err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
		// Checked again here: the address may have changed since the
		// enrolment began.
		u, err := s.rules.enrollable(ctx, p)
		if err != nil {
			return err
		}
		err = s.totp.Update(ctx, u.ID, func(t *mfa.TOTP) error {
			if t.Pending == "" || now.Sub(t.PendingCreatedAt) > PendingTOTPTTL {
				return mfa.ErrCodeInvalid
			}
			step, ok := s.otp.Match(t.Pending, code, now)
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
		if err := s.totp.ClearFailures(ctx, u.ID); err != nil {
			return err
		}
		if err := s.codes.Replace(ctx, u.ID, hashCodes(u.ID, codes), now); err != nil {
			return err
		}
		return s.rules.enrolled(ctx, p, u, audit.MFAEnabled, outbox.KindTOTPEnabled, opt, meta)
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

// TOTPDisabler removes TOTP factors.
type TOTPDisabler struct {
	rules *FactorRules
	totp  TOTPStore
	codes RecoveryCodeStore
	tx    Transactor
}

// NewTOTPDisabler returns a TOTPDisabler.
func NewTOTPDisabler(rules *FactorRules, totp TOTPStore, codes RecoveryCodeStore, tx Transactor) *TOTPDisabler {
	return &TOTPDisabler{rules: rules, totp: totp, codes: codes, tx: tx}
}

// DisableTOTP removes the caller's TOTP factor and recovery codes.
// mfa.ErrNotFound when TOTP is not active.
func (s *TOTPDisabler) DisableTOTP(ctx context.Context, p auth.Principal, meta Meta) error {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return err
	}
	return s.tx.WithinTx(ctx, func(ctx context.Context) error {
		err := s.totp.Update(ctx, p.UserID(), func(t *mfa.TOTP) error {
			if !t.Active() {
				return mfa.ErrNotFound
			}
			*t = mfa.TOTP{UserID: t.UserID}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.codes.DeleteAll(ctx, p.UserID()); err != nil {
			return err
		}
		if err := s.rules.record(ctx, audit.MFADisabled, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.rules.notifyCaller(ctx, p, outbox.KindTOTPDisabled)
	})
}

// RecoveryCodeRegenerator replaces recovery codes.
type RecoveryCodeRegenerator struct {
	rules *FactorRules
	totp  TOTPReader
	codes RecoveryCodeStore
	tx    Transactor
}

// NewRecoveryCodeRegenerator returns a RecoveryCodeRegenerator.
func NewRecoveryCodeRegenerator(rules *FactorRules, totp TOTPReader, codes RecoveryCodeStore, tx Transactor) *RecoveryCodeRegenerator {
	return &RecoveryCodeRegenerator{rules: rules, totp: totp, codes: codes, tx: tx}
}

// RegenerateRecoveryCodes voids the caller's recovery codes and returns a
// new set. mfa.ErrNotFound when TOTP is not active.
func (s *RecoveryCodeRegenerator) RegenerateRecoveryCodes(ctx context.Context, p auth.Principal, meta Meta) ([]string, error) {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return nil, err
	}
	codes := mfa.NewRecoveryCodes()
	err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
		t, err := s.totp.Get(ctx, p.UserID())
		if err != nil {
			return err
		}
		if !t.Active() {
			return mfa.ErrNotFound
		}
		if err := s.codes.Replace(ctx, p.UserID(), hashCodes(p.UserID(), codes), s.rules.now()); err != nil {
			return err
		}
		if err := s.rules.record(ctx, audit.RecoveryCodesRegenerated, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.rules.notifyCaller(ctx, p, outbox.KindRecoveryCodesRegenerated)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}
