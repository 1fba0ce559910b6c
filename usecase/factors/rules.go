package factors

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

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

// FactorRulesDeps are the ports and settings of FactorRules.
type FactorRulesDeps struct {
	Users UserRepository
	TOTP  TOTPReader
	Audit AuditLog
	Clock Clock
	// Mail, when set, mails a notice of every factor added or removed;
	// while it is enabled, enrolment needs a verified address.
	Mail FactorMail
	// Sessions ends the other sessions when an enrolment asks for it;
	// Cache, when set, is told of that revocation.
	Sessions SessionRevoker
	Cache    SessionCache
	// StepUp is the freshness rule for changing factors.
	StepUp auth.StepUpPolicy
	// Events is optional: mfa.enabled and mfa.disabled (webhooks).
	Events Events
}

// FactorRules is what every interactor that changes factors shares: the
// step-up rule (aal2 once TOTP is active), who may enrol, and the event,
// notice and sign-out that go with a change.
type FactorRules struct{ d FactorRulesDeps }

// NewFactorRules returns FactorRules.
func NewFactorRules(d FactorRulesDeps) *FactorRules { return &FactorRules{d: d} }

func (s *FactorRules) now() time.Time { return s.d.Clock.Now().UTC() }

func (s *FactorRules) record(ctx context.Context, t audit.Type, userID, sessionID string, meta Meta) error {
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
func (s *FactorRules) totpActive(ctx context.Context, userID string) (bool, error) {
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
func (s *FactorRules) stepUp(ctx context.Context, p auth.Principal) error {
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
func (s *FactorRules) user(ctx context.Context, p auth.Principal) (user.User, error) {
	u, err := s.d.Users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, auth.ErrSessionRevoked
	}
	return u, err
}

// enrollable loads the caller's account and checks it may take a new
// factor: while mail is on (an address can be proven), only a verified
// address may. Otherwise whoever registered someone else's address could
// plant a factor that outlives the owner's taking the account back with a
// password reset (account pre-hijacking, Sudhodanan and Paverd 2022).
func (s *FactorRules) enrollable(ctx context.Context, p auth.Principal) (user.User, error) {
	u, err := s.user(ctx, p)
	if err != nil {
		return user.User{}, err
	}
	if s.d.Mail != nil && s.d.Mail.Enabled() && !u.EmailVerified {
		return user.User{}, emailtoken.ErrEmailNotVerified
	}
	return u, nil
}

// notify queues a notice of kind to u's address, in the caller's
// transaction, so it goes out if and only if the change commits.
func (s *FactorRules) notify(ctx context.Context, u user.User, kind outbox.Kind) error {
	return notify(ctx, s.d.Mail, u, kind)
}

// notify queues a notice of kind to u's address through mail (nil: none).
func notify(ctx context.Context, mail FactorMail, u user.User, kind outbox.Kind) error {
	if mail == nil {
		return nil
	}
	return mail.Notice(ctx, u.Email, kind)
}

// enrolled finishes, in the enrolment's transaction, what every added
// factor does besides storing it: the security event, the notice, and the
// other sessions' end when asked for.
func (s *FactorRules) enrolled(ctx context.Context, p auth.Principal, u user.User, ev audit.Type, kind outbox.Kind, opt Enrolment, meta Meta) error {
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
func (s *FactorRules) forget(userID string) {
	if s.d.Cache != nil {
		s.d.Cache.ForgetUser(userID)
	}
}

// notifyCaller queues a notice of kind to the caller's address, in the
// caller's transaction.
func (s *FactorRules) notifyCaller(ctx context.Context, p auth.Principal, kind outbox.Kind) error {
	if s.d.Mail == nil {
		return nil
	}
	u, err := s.user(ctx, p)
	if err != nil {
		return err
	}
	return s.notify(ctx, u, kind)
}
