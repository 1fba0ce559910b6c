package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// SignInDeps are the ports of the step every sign-in by a first factor
// (password, emailed code, another provider) ends with; PasswordLoginDeps,
// EmailCodeLoginDeps and FederatedLoginDeps embed them.
type SignInDeps struct {
	Sessions *SessionOpener
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Observer is optional.
	Observer Observer
	// Factors, when set, makes the sign-in ask for the account's second
	// factor; Challenges then keeps the pending sign-ins.
	Factors    SecondFactors
	Challenges ChallengeIssuer
}

// signIn ends a sign-in whose first factor is proven: a pending sign-in
// when the account has a second factor (MFAVerifier finishes it), or else
// a session.
type signIn struct {
	users      CredentialLocker
	sessions   *SessionOpener
	rec        recorder
	tx         Transactor
	clock      Clock
	obs        Observer
	factors    SecondFactors
	challenges ChallengeIssuer
}

func newSignIn(d SignInDeps, users CredentialLocker) signIn {
	return signIn{users: users, sessions: d.Sessions, rec: recorder{d.Audit}, tx: d.Tx, clock: d.Clock,
		obs: observerOr(d.Observer), factors: d.Factors, challenges: d.Challenges}
}

// secondFactors lists the methods userID must prove next; none when the
// account has no second factor, or second factors are not configured.
func (s signIn) secondFactors(ctx context.Context, userID string) ([]string, error) {
	if s.factors == nil || s.challenges == nil {
		return nil, nil
	}
	return s.factors.LoginFactors(ctx, userID)
}

// challenge stores, in the caller's transaction, a pending sign-in of u
// awaiting one of factors, and returns its token. first carries what the
// first factor was when not a password (Methods, IdP). No session exists
// yet: nothing usable is issued until the second factor is proven.
func (s signIn) challenge(ctx context.Context, u user.User, factors []string, first mfa.Challenge, now time.Time) (TokenPair, error) {
	tok, hash := newChallengeToken()
	c := mfa.Challenge{Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(mfa.ChallengeTTL),
		CredentialVersion: u.CredentialVersion, Methods: first.Methods, IdP: first.IdP}
	if err := s.challenges.Create(ctx, c); err != nil {
		return TokenPair{}, err
	}
	return TokenPair{MFA: &MFAChallenge{Token: tok, Methods: factors, ExpiresAt: c.ExpiresAt}}, nil
}

// challengeAlone is challenge in a transaction of its own, for a first
// factor checked outside any.
func (s signIn) challengeAlone(ctx context.Context, u user.User, factors []string, first mfa.Challenge) (TokenPair, error) {
	var pair TokenPair
	err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
		var err error
		pair, err = s.challenge(ctx, u, factors, first, nowUTC(s.clock))
		return err
	})
	return pair, err
}

// start starts u's session (amr methods, through identity provider idp
// when not empty) and records login_succeeded, in a transaction of its
// own, for a first factor checked outside it. The credential is locked
// first: a change that committed since (or is committing) must win, or
// the session would miss its "revoke every other session"; such a change,
// or the account gone, is stale. then, when not nil, runs last in the
// transaction.
func (s signIn) start(ctx context.Context, u user.User, meta Meta, methods []string, idp string,
	stale error, then func(ctx context.Context) error) (TokenPair, error) {
	now := nowUTC(s.clock)
	var pair TokenPair
	err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
		v, err := s.users.LockCredential(ctx, u.ID)
		if errors.Is(err, user.ErrNotFound) || err == nil && v != u.CredentialVersion {
			return stale
		}
		if err != nil {
			return err
		}
		if pair, err = s.sessions.openVia(ctx, u, now, meta, methods, idp); err != nil {
			return err
		}
		if err := s.rec.log.Append(ctx, signInEvent(u.ID, pair.Session.ID, "", idp, meta, now)); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(ctx)
	})
	if err != nil {
		return TokenPair{}, err
	}
	s.obs.LoginSucceeded()
	return pair, nil
}

// newChallengeToken returns a new mfaToken (of the shape MFAVerifier
// takes) and its hash.
func newChallengeToken() (string, [32]byte) { return emailtoken.NewSecret() }
