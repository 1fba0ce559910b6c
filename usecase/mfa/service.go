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
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Deps are the ports the second-factor interactors consume.
type Deps struct {
	// Events is optional: mfa.enabled and mfa.disabled.
	Events        Events
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
	// Mail, when set, mails a notice of every factor added or removed and
	// of the failure ceiling; while it is enabled, enrolment needs a
	// verified address.
	Mail FactorMail
	// Sessions ends the other sessions when an enrolment asks for it;
	// Cache, when set, is told of that revocation.
	Sessions SessionRevoker
	Cache    SessionCache
	// StepUp is the freshness rule for changing factors.
	StepUp domauth.StepUpPolicy
	// Issuer labels TOTP secrets in authenticator apps.
	Issuer string
	// MaxFailures is MFA_MAX_FAILURES; zero means mfa.DefaultMaxFailures
	// (there is no "off").
	MaxFailures mfa.FailureCeiling
}

// Service runs the second-factor use cases.
type Service struct{ d Deps }

// NewService returns a Service.
func NewService(d Deps) *Service {
	if d.MaxFailures <= 0 {
		d.MaxFailures = mfa.DefaultMaxFailures
	}
	return &Service{d: d}
}

// Meta describes the client of a request, for security events.
type Meta struct {
	IP        string
	UserAgent string
}

// Enrolment is what the step that adds a factor (TOTP confirmation, a
// passkey registration) may ask for besides the proof.
type Enrolment struct {
	// SignOutOthers revokes every other session of the account in the
	// same transaction, the caller's excepted, as a password change does:
	// sessions opened before a first factor never proved it.
	SignOutOthers bool
}

func (s *Service) now() time.Time { return s.d.Clock.Now().UTC() }

func (s *Service) record(ctx context.Context, t audit.Type, userID, sessionID string, meta Meta) error {
	err := s.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, SessionID: sessionID, Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: s.now(),
	})
	if err != nil || s.d.Events == nil {
		return err
	}
	// A factor added or removed is also told to the app (mfa.enabled,
	// mfa.disabled), in the same transaction.
	if f, found := eventFactors[t]; found {
		return s.d.Events.Publish(ctx, webhook.NewMFAChanged(id.New(), userID, f.factor, f.enabled, s.now()))
	}
	return nil
}

// eventFactors are the security events that are factor changes, with the
// factor and direction their webhook event reports.
var eventFactors = map[audit.Type]struct {
	factor  string
	enabled bool
}{
	audit.MFAEnabled:     {webhook.FactorTOTP, true},
	audit.MFADisabled:    {webhook.FactorTOTP, false},
	audit.PasskeyAdded:   {webhook.FactorPasskey, true},
	audit.PasskeyRemoved: {webhook.FactorPasskey, false},
}

// totpActive reports whether userID has a confirmed TOTP secret.
func (s *Service) totpActive(ctx context.Context, userID string) (bool, error) {
	t, err := s.d.TOTP.Get(ctx, userID)
	switch {
	case err == nil:
		return t.Active(), nil
	case errors.Is(err, mfa.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// stepUp is the rule for every operation that changes factors: a fresh
// token and, once TOTP is active, an aal2 one, so a stolen password (or a
// session that never proved the code) cannot remove or replace it. A
// passkey does not raise the bar: it is another way to sign in, not a
// second step of the password login, so the password's owner can remove a
// passkey someone else added (the contract's "Second factors").
func (s *Service) stepUp(ctx context.Context, p domauth.Principal) error {
	if err := s.d.StepUp.Check(p.Claims, s.now()); err != nil {
		return err
	}
	has, err := s.totpActive(ctx, p.UserID())
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

// enrollable loads the caller's account and checks it may take a new
// factor: while mail is on (an address can be proven), only a verified
// address may. Otherwise whoever registered someone else's address could
// plant a factor that outlives the owner's taking the account back with a
// password reset (account pre-hijacking, Sudhodanan and Paverd 2022).
func (s *Service) enrollable(ctx context.Context, p domauth.Principal) (user.User, error) {
	u, err := s.user(ctx, p)
	if err != nil {
		return user.User{}, err
	}
	if s.d.Mail != nil && s.d.Mail.Enabled() && !u.EmailVerified {
		return user.User{}, recovery.ErrEmailNotVerified
	}
	return u, nil
}

// notify queues a notice of kind to u's address, in the caller's
// transaction, so it goes out if and only if the change commits.
func (s *Service) notify(ctx context.Context, u user.User, kind outbox.Kind) error {
	if s.d.Mail == nil {
		return nil
	}
	return s.d.Mail.Notice(ctx, u.Email, kind)
}

// enrolled finishes, in the enrolment's transaction, what every added
// factor does besides storing it: the security event, the notice, and the
// other sessions' end when asked for.
func (s *Service) enrolled(ctx context.Context, p domauth.Principal, u user.User, ev audit.Type, kind outbox.Kind, opt Enrolment, meta Meta) error {
	if err := s.record(ctx, ev, u.ID, p.SessionID(), meta); err != nil {
		return err
	}
	if err := s.notify(ctx, u, kind); err != nil {
		return err
	}
	if !opt.SignOutOthers || s.d.Sessions == nil {
		return nil
	}
	_, err := s.d.Sessions.RevokeAllForUser(ctx, u.ID, p.SessionID(), session.ReasonFactorAdded, s.now())
	return err
}

// forget drops what this instance cached of userID's sessions, after a
// revocation committed.
func (s *Service) forget(userID string) {
	if s.d.Cache != nil {
		s.d.Cache.ForgetUser(userID)
	}
}

// EnrollTOTP makes a new TOTP secret for the caller, pending until
// confirmed with a first code; it replaces any earlier pending one. An
// active secret stays in force until the new one is confirmed.
func (s *Service) EnrollTOTP(ctx context.Context, p domauth.Principal) (OTPKey, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return OTPKey{}, err
	}
	u, err := s.enrollable(ctx, p)
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
// code, or no pending enrolment, is mfa.ErrCodeInvalid. The new secret
// starts with no failed codes. opt.SignOutOthers ends every other session.
func (s *Service) ConfirmTOTP(ctx context.Context, p domauth.Principal, code string, opt Enrolment, meta Meta) ([]string, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return nil, err
	}
	now := s.now()
	codes := mfa.NewRecoveryCodes()
	if opt.SignOutOthers {
		defer s.forget(p.UserID())
	}
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// Checked again here: the address may have changed since the
		// enrolment began.
		u, err := s.enrollable(ctx, p)
		if err != nil {
			return err
		}
		err = s.d.TOTP.Update(ctx, u.ID, func(t *mfa.TOTP) error {
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
		if err := s.d.TOTP.ClearFailures(ctx, u.ID); err != nil {
			return err
		}
		if err := s.d.RecoveryCodes.Replace(ctx, u.ID, hashCodes(u.ID, codes), now); err != nil {
			return err
		}
		return s.enrolled(ctx, p, u, audit.MFAEnabled, outbox.KindTOTPEnabled, opt, meta)
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
		if err := s.record(ctx, audit.MFADisabled, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.notifyCaller(ctx, p, outbox.KindTOTPDisabled)
	})
}

// notifyCaller queues a notice of kind to the caller's address, in the
// caller's transaction.
func (s *Service) notifyCaller(ctx context.Context, p domauth.Principal, kind outbox.Kind) error {
	if s.d.Mail == nil {
		return nil
	}
	u, err := s.user(ctx, p)
	if err != nil {
		return err
	}
	return s.notify(ctx, u, kind)
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
		if err := s.record(ctx, audit.RecoveryCodesRegenerated, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.notifyCaller(ctx, p, outbox.KindRecoveryCodesRegenerated)
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
//
// A failed code is counted in that transaction too, so the caller must
// commit it even though the answer is an error. Past the account's
// failure ceiling a TOTP code is refused unchecked, with the very answer a
// wrong code gets (the ceiling must not tell a right code from a wrong
// one); a recovery code still works, and like any success it starts the
// count over. The failure that reaches the ceiling mails the owner.
func (s *Service) VerifyCode(ctx context.Context, userID, code, recoveryCode string) (usedRecovery bool, err error) {
	now := s.now()
	if code == "" {
		used := false
		if n, ok := mfa.NormalizeRecoveryCode(recoveryCode); ok {
			used, err = s.d.RecoveryCodes.Use(ctx, userID, mfa.HashRecoveryCode(userID, n), now)
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
func (s *Service) failed(ctx context.Context, userID string) error {
	n, err := s.d.TOTP.AddFailure(ctx, userID)
	if err != nil {
		return err
	}
	if s.d.MaxFailures.ReachedBy(n) && s.d.Mail != nil {
		u, err := s.d.Users.ByID(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.notify(ctx, u, outbox.KindMFALocked); err != nil {
			return err
		}
	}
	return mfa.ErrCodeInvalid
}
