package factors

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
)

// defaultPasskeyName names a passkey registered without a name.
const defaultPasskeyName = "Passkey"

// PasskeyRegistrar registers passkeys: options first, then the browser's
// answer, in one ceremony kept in the store so any instance can finish it.
type PasskeyRegistrar struct {
	rules      *FactorRules
	passkeys   PasskeyStore
	ceremonies CeremonyStore
	webauthn   WebAuthn
	tx         Transactor
}

// NewPasskeyRegistrar returns a PasskeyRegistrar.
func NewPasskeyRegistrar(rules *FactorRules, passkeys PasskeyStore, ceremonies CeremonyStore, webauthn WebAuthn, tx Transactor) *PasskeyRegistrar {
	return &PasskeyRegistrar{rules: rules, passkeys: passkeys, ceremonies: ceremonies, webauthn: webauthn, tx: tx}
}

// BeginPasskeyRegistration starts registering a passkey for the caller and
// returns the creation options for the browser. The ceremony is kept in
// the store, so any instance can finish it.
func (s *PasskeyRegistrar) BeginPasskeyRegistration(ctx context.Context, p auth.Principal, name string) ([]byte, error) {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return nil, err
	}
	u, err := s.rules.enrollable(ctx, p)
	if err != nil {
		return nil, err
	}
	existing, err := s.passkeys.ListByUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	options, state, err := s.webauthn.BeginRegistration(u, existing)
	if err != nil {
		return nil, err
	}
	now := s.rules.now()
	c := Ceremony{ID: id.New(), UserID: u.ID, Purpose: PurposeRegistration, Name: name, State: state, CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)}
	if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return s.ceremonies.Create(ctx, c) }); err != nil {
		return nil, err
	}
	return options, nil
}

// FinishPasskeyRegistration checks the browser's answer to the caller's
// newest registration ceremony and stores the passkey. The ceremony is
// used up whether or not the answer verifies. A failed, expired or missing
// ceremony is mfa.ErrPasskeyInvalid. opt.SignOutOthers ends every other
// session of the account with the passkey's addition.
func (s *PasskeyRegistrar) FinishPasskeyRegistration(ctx context.Context, p auth.Principal, response []byte, name string, opt Enrolment, meta Meta) (mfa.Passkey, error) {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return mfa.Passkey{}, err
	}
	u, err := s.rules.enrollable(ctx, p)
	if err != nil {
		return mfa.Passkey{}, err
	}
	c, err := take(ctx, s.rules.d.Clock, func(ctx context.Context) (Ceremony, error) {
		return s.ceremonies.TakeForUser(ctx, u.ID, PurposeRegistration)
	})
	if err != nil {
		return mfa.Passkey{}, err
	}
	existing, err := s.passkeys.ListByUser(ctx, u.ID)
	if err != nil {
		return mfa.Passkey{}, err
	}
	credID, cred, err := s.webauthn.FinishRegistration(u, existing, c.State, response)
	if err != nil {
		return mfa.Passkey{}, err
	}
	if name == "" {
		name = c.Name
	}
	if name == "" {
		name = defaultPasskeyName
	}
	pk := mfa.Passkey{ID: id.New(), UserID: u.ID, Name: name, CredentialID: credID, Credential: cred, CreatedAt: s.rules.now()}
	if opt.SignOutOthers {
		defer s.rules.forget(u.ID)
	}
	err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
		// The address is read again in the transaction: it may have
		// changed (and be unverified) since the ceremony began.
		u, err := s.rules.enrollable(ctx, p)
		if err != nil {
			return err
		}
		if err := s.passkeys.Create(ctx, pk); err != nil {
			return err
		}
		return s.rules.enrolled(ctx, p, u, audit.PasskeyAdded, outbox.KindPasskeyAdded, opt, meta)
	})
	if err != nil {
		return mfa.Passkey{}, err
	}
	return pk, nil
}

// take removes a ceremony with fn, one statement committed at once, so it
// is used up even when the answer then fails to verify, and checks it has
// not expired.
func take(ctx context.Context, clock Clock, fn func(ctx context.Context) (Ceremony, error)) (Ceremony, error) {
	c, err := fn(ctx)
	if err != nil {
		return Ceremony{}, err
	}
	if !clock.Now().UTC().Before(c.ExpiresAt) {
		return Ceremony{}, mfa.ErrPasskeyInvalid
	}
	return c, nil
}

// PasskeyLister lists the caller's passkeys.
type PasskeyLister struct{ passkeys PasskeyStore }

// NewPasskeyLister returns a PasskeyLister.
func NewPasskeyLister(passkeys PasskeyStore) *PasskeyLister {
	return &PasskeyLister{passkeys: passkeys}
}

// ListPasskeys lists the caller's passkeys, oldest first.
func (s *PasskeyLister) ListPasskeys(ctx context.Context, p auth.Principal) ([]mfa.Passkey, error) {
	return s.passkeys.ListByUser(ctx, p.UserID())
}

// PasskeyRemover removes passkeys.
type PasskeyRemover struct {
	rules    *FactorRules
	passkeys PasskeyStore
	tx       Transactor
	ways     SignInWays
}

// SignInWays counts an account's ways in besides the password.
type SignInWays interface {
	// LockAccount holds the account's row until the transaction ends, so
	// that this check and an identity's unlink run one after the other.
	LockAccount(ctx context.Context, userID string) error
	CountPasskeys(ctx context.Context, userID string) (int, error)
	CountIdentities(ctx context.Context, userID string) (int, error)
}

// NewPasskeyRemover returns a PasskeyRemover. ways, when not nil, keeps an
// account without a password from removing its last passkey while no
// identity of another provider is linked.
func NewPasskeyRemover(rules *FactorRules, passkeys PasskeyStore, tx Transactor, ways SignInWays) *PasskeyRemover {
	return &PasskeyRemover{rules: rules, passkeys: passkeys, tx: tx, ways: ways}
}

// DeletePasskey removes one of the caller's passkeys; mfa.ErrNotFound when
// the caller has none with that id.
func (s *PasskeyRemover) DeletePasskey(ctx context.Context, p auth.Principal, passkeyID string, meta Meta) error {
	if err := s.rules.stepUp(ctx, p); err != nil {
		return err
	}
	return s.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.passkeys.Delete(ctx, p.UserID(), passkeyID); err != nil {
			return err
		}
		if err := s.keepsAWayIn(ctx, p.UserID()); err != nil {
			return err
		}
		if err := s.rules.record(ctx, audit.PasskeyRemoved, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.rules.notifyCaller(ctx, p, outbox.KindPasskeyRemoved)
	})
}

// PasskeyLoginDeps are the ports of a PasskeyAuthenticator.
type PasskeyLoginDeps struct {
	Users      UserRepository
	Passkeys   PasskeyStore
	Ceremonies CeremonyStore
	WebAuthn   WebAuthn
	Tx         Transactor
	Clock      Clock
}

// PasskeyAuthenticator runs the ceremony of a passwordless login: the
// options, then the check of the assertion (for the auth use cases).
type PasskeyAuthenticator struct{ d PasskeyLoginDeps }

// NewPasskeyAuthenticator returns a PasskeyAuthenticator.
func NewPasskeyAuthenticator(d PasskeyLoginDeps) *PasskeyAuthenticator {
	return &PasskeyAuthenticator{d: d}
}

func (s *PasskeyAuthenticator) now() time.Time { return s.d.Clock.Now().UTC() }

// BeginPasskeyLogin starts a passwordless login: request options with an
// empty allow list (the authenticator offers the passkeys it holds) and
// the ceremony's id, to send back with the answer.
func (s *PasskeyAuthenticator) BeginPasskeyLogin(ctx context.Context) (challengeID string, options []byte, err error) {
	options, state, err := s.d.WebAuthn.BeginLogin()
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	c := Ceremony{ID: id.New(), Purpose: PurposeLogin, State: state, CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)}
	if err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error { return s.d.Ceremonies.Create(ctx, c) }); err != nil {
		return "", nil, err
	}
	return c.ID, options, nil
}

// FinishLogin checks an assertion against login ceremony challengeID (used
// up either way) and records the passkey's use (sign counter, flags, last
// use). It returns the account and whether the user was verified. Every
// failure is mfa.ErrPasskeyInvalid, whether the ceremony is unknown,
// expired or of another kind, or the credential is unknown or does not
// verify.
func (s *PasskeyAuthenticator) FinishLogin(ctx context.Context, challengeID string, response []byte) (string, bool, error) {
	if !id.Valid(challengeID) {
		return "", false, mfa.ErrPasskeyInvalid
	}
	c, err := take(ctx, s.d.Clock, func(ctx context.Context) (Ceremony, error) {
		return s.d.Ceremonies.Take(ctx, challengeID, PurposeLogin)
	})
	if err != nil {
		return "", false, err
	}
	find := func(credentialID, userHandle []byte) (user.User, []mfa.Passkey, error) {
		k, err := s.d.Passkeys.ByCredentialID(ctx, credentialID)
		if errors.Is(err, mfa.ErrNotFound) {
			return user.User{}, nil, mfa.ErrPasskeyInvalid
		}
		if err != nil {
			return user.User{}, nil, err
		}
		// The user handle the authenticator returns must be the account
		// the credential was registered to.
		if string(userHandle) != k.UserID {
			return user.User{}, nil, mfa.ErrPasskeyInvalid
		}
		u, err := s.d.Users.ByID(ctx, k.UserID)
		if errors.Is(err, user.ErrNotFound) {
			return user.User{}, nil, mfa.ErrPasskeyInvalid
		}
		if err != nil {
			return user.User{}, nil, err
		}
		keys, err := s.d.Passkeys.ListByUser(ctx, u.ID)
		return u, keys, err
	}
	used, verified, err := s.d.WebAuthn.FinishLogin(c.State, response, find)
	if err != nil {
		return "", false, err
	}
	used.LastUsedAt = s.now()
	if err := s.d.Passkeys.Update(ctx, used); err != nil {
		return "", false, err
	}
	return used.UserID, verified, nil
}

// CeremonyPurger deletes expired WebAuthn ceremonies.
type CeremonyPurger struct {
	ceremonies CeremonyStore
	clock      Clock
}

// NewCeremonyPurger returns a CeremonyPurger.
func NewCeremonyPurger(ceremonies CeremonyStore, clock Clock) *CeremonyPurger {
	return &CeremonyPurger{ceremonies: ceremonies, clock: clock}
}

// PurgeCeremonies deletes WebAuthn ceremonies that were begun and never
// finished, once expired, and returns how many; safe on several instances
// at once.
func (s *CeremonyPurger) PurgeCeremonies(ctx context.Context) (int, error) {
	return s.ceremonies.PurgeExpired(ctx, s.clock.Now().UTC())
}

// keepsAWayIn refuses, with federation.ErrLastSignInMethod, a change that
// left the account with no password, passkey or linked identity; it runs
// after the change, in its transaction, which then rolls back.
func (s *PasskeyRemover) keepsAWayIn(ctx context.Context, userID string) error {
	if s.ways == nil {
		return nil
	}
	if err := s.ways.LockAccount(ctx, userID); err != nil {
		return err
	}
	u, err := s.rules.d.Users.ByID(ctx, userID)
	if err != nil || u.HasPassword() {
		return err
	}
	keys, err := s.ways.CountPasskeys(ctx, userID)
	if err != nil || keys > 0 {
		return err
	}
	ids, err := s.ways.CountIdentities(ctx, userID)
	if err != nil || ids > 0 {
		return err
	}
	return federation.ErrLastSignInMethod
}
