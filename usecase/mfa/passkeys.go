package mfa

import (
	"context"
	"errors"
	"github.com/gatehouse/gatehouse/domain/federation"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
)

// defaultPasskeyName names a passkey registered without a name.
const defaultPasskeyName = "Passkey"

// BeginPasskeyRegistration starts registering a passkey for the caller and
// returns the creation options for the browser. The ceremony is kept in
// the store, so any instance can finish it.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p domauth.Principal, name string) ([]byte, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return nil, err
	}
	u, err := s.enrollable(ctx, p)
	if err != nil {
		return nil, err
	}
	existing, err := s.d.Passkeys.ListByUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	options, state, err := s.d.WebAuthn.BeginRegistration(u, existing)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := Ceremony{ID: id.New(), UserID: u.ID, Purpose: PurposeRegistration, Name: name, State: state, CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)}
	if err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error { return s.d.Ceremonies.Create(ctx, c) }); err != nil {
		return nil, err
	}
	return options, nil
}

// FinishPasskeyRegistration checks the browser's answer to the caller's
// newest registration ceremony and stores the passkey. The ceremony is
// used up whether or not the answer verifies. A failed, expired or missing
// ceremony is mfa.ErrPasskeyInvalid. opt.SignOutOthers ends every other
// session of the account with the passkey's addition.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p domauth.Principal, response []byte, name string, opt Enrolment, meta Meta) (mfa.Passkey, error) {
	if err := s.stepUp(ctx, p); err != nil {
		return mfa.Passkey{}, err
	}
	u, err := s.enrollable(ctx, p)
	if err != nil {
		return mfa.Passkey{}, err
	}
	c, err := s.take(ctx, func(ctx context.Context) (Ceremony, error) {
		return s.d.Ceremonies.TakeForUser(ctx, u.ID, PurposeRegistration)
	})
	if err != nil {
		return mfa.Passkey{}, err
	}
	existing, err := s.d.Passkeys.ListByUser(ctx, u.ID)
	if err != nil {
		return mfa.Passkey{}, err
	}
	credID, cred, err := s.d.WebAuthn.FinishRegistration(u, existing, c.State, response)
	if err != nil {
		return mfa.Passkey{}, err
	}
	if name == "" {
		name = c.Name
	}
	if name == "" {
		name = defaultPasskeyName
	}
	pk := mfa.Passkey{ID: id.New(), UserID: u.ID, Name: name, CredentialID: credID, Credential: cred, CreatedAt: s.now()}
	if opt.SignOutOthers {
		defer s.forget(u.ID)
	}
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// The address is read again in the transaction: it may have
		// changed (and be unverified) since the ceremony began.
		u, err := s.enrollable(ctx, p)
		if err != nil {
			return err
		}
		if err := s.d.Passkeys.Create(ctx, pk); err != nil {
			return err
		}
		return s.enrolled(ctx, p, u, audit.PasskeyAdded, outbox.KindPasskeyAdded, opt, meta)
	})
	if err != nil {
		return mfa.Passkey{}, err
	}
	return pk, nil
}

// take removes a ceremony in a transaction of its own, so it is used up
// even when the answer then fails to verify, and checks it has not expired.
func (s *Service) take(ctx context.Context, fn func(ctx context.Context) (Ceremony, error)) (Ceremony, error) {
	var c Ceremony
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		var err error
		c, err = fn(ctx)
		return err
	})
	if err != nil {
		return Ceremony{}, err
	}
	if !s.now().Before(c.ExpiresAt) {
		return Ceremony{}, mfa.ErrPasskeyInvalid
	}
	return c, nil
}

// ListPasskeys lists the caller's passkeys, oldest first.
func (s *Service) ListPasskeys(ctx context.Context, p domauth.Principal) ([]mfa.Passkey, error) {
	return s.d.Passkeys.ListByUser(ctx, p.UserID())
}

// DeletePasskey removes one of the caller's passkeys; mfa.ErrNotFound when
// the caller has none with that id.
func (s *Service) DeletePasskey(ctx context.Context, p domauth.Principal, passkeyID string, meta Meta) error {
	if err := s.stepUp(ctx, p); err != nil {
		return err
	}
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.d.Passkeys.Delete(ctx, p.UserID(), passkeyID); err != nil {
			return err
		}
		if err := s.keepsAWayIn(ctx, p.UserID()); err != nil {
			return err
		}
		if err := s.record(ctx, audit.PasskeyRemoved, p.UserID(), p.SessionID(), meta); err != nil {
			return err
		}
		return s.notifyCaller(ctx, p, outbox.KindPasskeyRemoved)
	})
}

// BeginPasskeyLogin starts a passwordless login: request options with an
// empty allow list (the authenticator offers the passkeys it holds) and
// the ceremony's id, to send back with the answer.
func (s *Service) BeginPasskeyLogin(ctx context.Context) (challengeID string, options []byte, err error) {
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
func (s *Service) FinishLogin(ctx context.Context, challengeID string, response []byte) (string, bool, error) {
	if !id.Valid(challengeID) {
		return "", false, mfa.ErrPasskeyInvalid
	}
	c, err := s.take(ctx, func(ctx context.Context) (Ceremony, error) {
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

// PurgeCeremonies deletes WebAuthn ceremonies that were begun and never
// finished, once expired.
func (s *Service) PurgeCeremonies(ctx context.Context) (int, error) {
	return s.d.Ceremonies.PurgeExpired(ctx, s.now())
}

// keepsAWayIn refuses, with federation.ErrLastSignInMethod, a change that
// left the account with no password, passkey or linked identity; it runs
// after the change, in its transaction, which then rolls back.
func (s *Service) keepsAWayIn(ctx context.Context, userID string) error {
	if s.d.Ways == nil {
		return nil
	}
	if err := s.d.Ways.LockAccount(ctx, userID); err != nil {
		return err
	}
	u, err := s.d.Users.ByID(ctx, userID)
	if err != nil || u.HasPassword() {
		return err
	}
	keys, err := s.d.Ways.CountPasskeys(ctx, userID)
	if err != nil || keys > 0 {
		return err
	}
	ids, err := s.d.Ways.CountIdentities(ctx, userID)
	if err != nil || ids > 0 {
		return err
	}
	return federation.ErrLastSignInMethod
}
