package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// EmailCodeInput is a sign-in with an emailed code: Email and Code, or
// Token (the link's).
type EmailCodeInput struct {
	Email string
	Code  string
	Token string
}

// EmailCodeUsers is what signing in with a code needs of the accounts:
// find one, hold its credential while the session starts, mark its address
// proven and, with sign-up by code, create one.
type EmailCodeUsers interface {
	UserCreator
	UserReader
	CredentialLocker
	// ByEmail finds an account by normalized email; user.ErrNotFound if none.
	ByEmail(ctx context.Context, email string) (user.User, error)
	// MarkEmailVerified records the address email proven, only while the
	// account has it; user.ErrNotFound otherwise.
	MarkEmailVerified(ctx context.Context, id, email string, now time.Time) error
}

// SignupHook is asked before an account is created (the before-signup
// hook, built apart): an error refuses the sign-up and is returned as is.
// It is asked before the transaction that takes the code, with nothing
// written yet, and only for a right code or link of an address without an
// account, so nobody can make the service call it with guesses.
type SignupHook interface {
	BeforeSignup(ctx context.Context, in SignupAttempt) error
}

// SignupAttempt describes an account about to be created.
type SignupAttempt struct {
	Email, Name, Method, Provider, IP string
}

// EmailCodeLoginDeps are the ports and settings of an EmailCodeLogin.
type EmailCodeLoginDeps struct {
	Codes  EmailCodeStore
	Users  EmailCodeUsers
	Sealer *emailcode.Sealer
	Gate   *PasswordGate
	// SignInDeps end the sign-in: its session, or the pending login of an
	// account with a second factor.
	SignInDeps
	// Signup lets a code mailed to an address with no account create it
	// (EMAIL_CODE_SIGNUP).
	Signup bool
	// Hook, when set, is asked before an account is created.
	Hook SignupHook
	// Events is optional: an account the code creates is user.created
	// (method email_code), in the transaction that creates it.
	Events Events
}

// EmailCodeLogin serves POST /auth/email-code/verify: it checks an emailed
// code (with its address) or link and starts a session, or, when the
// account has a second factor, a pending login MFAVerifier finishes.
type EmailCodeLogin struct {
	codes  EmailCodeStore
	users  EmailCodeUsers
	sealer *emailcode.Sealer
	gate   *PasswordGate
	in     signIn
	signup bool
	hook   SignupHook
	events Events
}

// NewEmailCodeLogin returns an EmailCodeLogin.
func NewEmailCodeLogin(d EmailCodeLoginDeps) *EmailCodeLogin {
	return &EmailCodeLogin{
		codes: d.Codes, users: d.Users, sealer: d.Sealer, gate: d.Gate, in: newSignIn(d.SignInDeps, d.Users),
		signup: d.Signup, hook: d.Hook, events: d.Events,
	}
}

// emailOnly is the amr of an emailed code or link.
var emailOnly = []string{auth.MethodEmail}

// Verify signs in with a code or a link. Both are single use; a wrong
// code counts against the pending code (void after
// emailcode.MaxFailures) and in the account's login throttle, as a wrong
// password does. Every wrong, used, void or expired code or link is
// emailcode.ErrCodeInvalid; a disabled account gets user.ErrDisabled
// after its code. The sign-in proves the mailbox: the address becomes
// verified.
func (l *EmailCodeLogin) Verify(ctx context.Context, in EmailCodeInput, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	if in.Token != "" {
		return l.byLink(ctx, in.Token, meta)
	}
	return l.byCode(ctx, in.Email, in.Code, meta)
}

// byLink signs in with the link's token: 256 random bits, so no throttle.
func (l *EmailCodeLogin) byLink(ctx context.Context, token string, meta Meta) (TokenPair, error) {
	hash, ok := emailtoken.HashSecret(token)
	if !ok {
		return TokenPair{}, emailcode.ErrCodeInvalid
	}
	now := nowUTC(l.in.clock)
	if l.hook != nil && l.signup {
		if p, err := l.codes.ByToken(ctx, hash); err == nil && p.UserID == "" && p.Usable(now) {
			if err := l.askHook(ctx, p.Email, meta); err != nil {
				return TokenPair{}, err
			}
		}
	}
	var pair TokenPair
	err := l.in.tx.WithinTx(ctx, func(ctx context.Context) error {
		p, err := l.codes.TakeByToken(ctx, hash)
		if err != nil {
			return err
		}
		if !p.Usable(now) {
			return emailcode.ErrCodeInvalid
		}
		pair, err = l.finish(ctx, p, now, meta)
		return err
	})
	return l.outcome(pair, err)
}

// byCode signs in with an address and its code. The attempt is counted
// in the account throttle before the code is checked, in a transaction of
// its own, so parallel guesses cannot slip past the count.
func (l *EmailCodeLogin) byCode(ctx context.Context, rawEmail, code string, meta Meta) (TokenPair, error) {
	email, ok := user.NormalizeEmail(rawEmail)
	if !ok {
		return TokenPair{}, user.Invalid("email", "must be a valid email address")
	}
	keys := gateKeys(email, meta.IP)
	if l.gate.knowsDevices(meta) {
		if known, err := l.users.ByEmail(ctx, email); err == nil {
			keys = l.gate.keysFor(known, meta)
		}
	}
	if err := l.gate.admit(ctx, keys); err != nil {
		return TokenPair{}, err
	}
	now := nowUTC(l.in.clock)
	if l.hook != nil && l.signup {
		p, err := l.codes.ByEmail(ctx, email)
		if err == nil && p.UserID == "" && p.Usable(now) && l.sealer.Matches(p, code) {
			if err := l.askHook(ctx, email, meta); err != nil {
				return TokenPair{}, err
			}
		}
	}
	var (
		pair  TokenPair
		wrong bool
		// owner is the account of a code guessed wrong, for its event.
		owner string
	)
	err := l.in.tx.WithinTx(ctx, func(ctx context.Context) error {
		err := l.codes.Update(ctx, email, func(p *emailcode.Pending) (bool, error) {
			if !p.Usable(now) {
				return false, emailcode.ErrCodeInvalid
			}
			if !l.sealer.Matches(*p, code) {
				// Committed: the wrong code counts against the pending
				// code, which dies with the last allowed failure.
				p.Failures++
				wrong, owner = true, p.UserID
				return p.Failures >= emailcode.MaxFailures, nil
			}
			var err error
			pair, err = l.finish(ctx, *p, now, meta)
			return true, err
		})
		if err != nil || owner == "" {
			return err
		}
		return l.in.rec.record(ctx, audit.LoginFailed, owner, "", meta, now)
	})
	if err == nil && wrong {
		err = emailcode.ErrCodeInvalid
	}
	if err == nil && pair.MFA == nil {
		// The code proved the mailbox: this client's failures at the
		// account are forgiven, as after a correct password. With a second
		// factor to come the attempt stays counted until it is proven.
		_ = l.gate.clear(ctx, keys)
	}
	return l.outcome(pair, err)
}

// outcome tells the observer how a sign-in ended.
func (l *EmailCodeLogin) outcome(pair TokenPair, err error) (TokenPair, error) {
	switch {
	case errors.Is(err, emailcode.ErrCodeInvalid):
		l.in.obs.LoginFailed()
	case err == nil && pair.MFA == nil:
		l.in.obs.LoginSucceeded()
	}
	return pair, err
}

// finish signs in to the account of the used code p, in the caller's
// transaction: the account (created when p was mailed to an address with
// none), the address proven, then a session, or a pending login when a
// second factor must follow.
func (l *EmailCodeLogin) finish(ctx context.Context, p emailcode.Pending, now time.Time, meta Meta) (TokenPair, error) {
	u, err := l.account(ctx, p, now, meta)
	if err != nil {
		return TokenPair{}, err
	}
	if !u.EmailVerified {
		if err := l.users.MarkEmailVerified(ctx, u.ID, u.Email, now); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return TokenPair{}, emailcode.ErrCodeInvalid
			}
			return TokenPair{}, err
		}
		u.EmailVerified, u.UpdatedAt = true, now
		if err := l.in.rec.record(ctx, audit.EmailVerified, u.ID, "", meta, now); err != nil {
			return TokenPair{}, err
		}
	}
	factors, err := l.in.secondFactors(ctx, u.ID)
	if err != nil {
		return TokenPair{}, err
	}
	if len(factors) > 0 {
		// The code was the first step.
		return l.in.challenge(ctx, u, factors, mfa.Challenge{Methods: emailOnly}, now)
	}
	pair, err := l.in.sessions.open(ctx, u, now, meta, emailOnly)
	if err != nil {
		return TokenPair{}, err
	}
	return pair, l.in.rec.log.Append(ctx, signInEvent(u.ID, pair.Session.ID, audit.MethodEmailCode, "", meta, now))
}

// account is the account p signs in to, its credential held until the
// transaction ends so a password change or reset either committed before
// or waits for this session. A code mailed to an account is void once the
// account's address or credential changed (a disable moves the credential
// too, but is told as such); one mailed to an address with no account
// creates it, while sign-up by code is allowed.
func (l *EmailCodeLogin) account(ctx context.Context, p emailcode.Pending, now time.Time, meta Meta) (user.User, error) {
	if p.UserID == "" {
		return l.signUp(ctx, p.Email, now, meta)
	}
	v, err := l.users.LockCredential(ctx, p.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, emailcode.ErrCodeInvalid
	}
	if err != nil {
		return user.User{}, err
	}
	u, err := l.users.ByID(ctx, p.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, emailcode.ErrCodeInvalid
	}
	if err != nil {
		return user.User{}, err
	}
	if err := u.CanSignIn(); err != nil {
		return user.User{}, err
	}
	if u.Email != p.Email || v != p.CredentialVersion {
		return user.User{}, emailcode.ErrCodeInvalid
	}
	return u, nil
}

// signUp creates the account of a code mailed to an address that had
// none. If an account took the address since, the code proved its
// mailbox, which is what signing in by code means: it signs in to that one.
func (l *EmailCodeLogin) signUp(ctx context.Context, email string, now time.Time, meta Meta) (user.User, error) {
	if !l.signup {
		return user.User{}, emailcode.ErrCodeInvalid
	}
	if existing, err := l.users.ByEmail(ctx, email); err == nil {
		if _, err := l.users.LockCredential(ctx, existing.ID); err != nil {
			return user.User{}, err
		}
		return existing, existing.CanSignIn()
	} else if !errors.Is(err, user.ErrNotFound) {
		return user.User{}, err
	}
	// The before-signup hook, when set, was asked before the transaction
	// (askHook).
	u := user.User{
		ID: id.New(), Email: email, Roles: []string{user.RoleUser}, Locale: user.DefaultLocale,
		EmailVerified: true, CreatedAt: now, UpdatedAt: now,
	}
	if err := l.users.Create(ctx, u); err != nil {
		return user.User{}, err
	}
	if err := publish(ctx, l.events, webhook.NewUserCreated(id.New(), u, webhook.MethodEmailCode, now)); err != nil {
		return user.User{}, err
	}
	return u, l.in.rec.record(ctx, audit.EmailVerified, u.ID, "", meta, now)
}

// askHook asks the before-signup hook whether email may get an account,
// unless an account has it already (then the code signs in to that one).
func (l *EmailCodeLogin) askHook(ctx context.Context, email string, meta Meta) error {
	if _, err := l.users.ByEmail(ctx, email); !errors.Is(err, user.ErrNotFound) {
		return err
	}
	return l.hook.BeforeSignup(ctx, SignupAttempt{Email: email, Method: audit.MethodEmailCode, IP: meta.IP})
}
