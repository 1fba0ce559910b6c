package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/user"
)

// PasswordLoginDeps are the ports and settings of a PasswordLogin.
type PasswordLoginDeps struct {
	Users    PasswordAccounts
	Hasher   PasswordHasher
	Gate     *PasswordGate
	Sessions *SessionOpener
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Observer is optional.
	Observer Observer
	// Factors, when set, makes login ask for the account's second factor;
	// Challenges then keeps the pending logins.
	Factors    SecondFactors
	Challenges ChallengeIssuer
	// RequireVerifiedEmail refuses login, after the password was proven, to
	// accounts whose address is not verified.
	RequireVerifiedEmail bool
	// Failures, when set, records wrong passwords off the request path.
	Failures *FailureLog
}

// PasswordLogin checks an email and password and starts a session, or,
// when the account has a second factor, a pending login that MFAVerifier
// finishes.
type PasswordLogin struct {
	check      passwordCheck
	users      CredentialLocker
	sessions   *SessionOpener
	challenges ChallengeIssuer
	rec        recorder
	tx         Transactor
	clock      Clock
	obs        Observer
	verify     bool
}

// NewPasswordLogin returns a PasswordLogin.
func NewPasswordLogin(d PasswordLoginDeps) *PasswordLogin {
	obs := observerOr(d.Observer)
	return &PasswordLogin{
		check: passwordCheck{
			users: d.Users, hasher: d.Hasher, gate: d.Gate, factors: d.Factors,
			tx: d.Tx, rec: recorder{d.Audit}, clock: d.Clock, obs: obs, failures: d.Failures,
		},
		users: d.Users, sessions: d.Sessions, challenges: d.Challenges, rec: recorder{d.Audit},
		tx: d.Tx, clock: d.Clock, obs: obs, verify: d.RequireVerifiedEmail,
	}
}

// Login checks credentials and starts a new session. Unknown emails and
// wrong passwords get the same error after the same amount of hashing work.
func (l *PasswordLogin) Login(ctx context.Context, in Credentials, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, factors, keys, err := l.check.check(ctx, in, meta, "")
	if err != nil {
		return TokenPair{}, err
	}
	// Only after the password was proven, so the answer tells nothing to
	// someone who does not know it; and before any second factor is asked.
	if l.verify && !u.EmailVerified {
		return TokenPair{}, recovery.ErrEmailNotVerified
	}
	if len(factors) > 0 {
		return l.challenge(ctx, u, factors)
	}
	now := nowUTC(l.clock)
	var pair TokenPair
	err = l.tx.WithinTx(ctx, func(ctx context.Context) error {
		// The password was checked outside this transaction; a credential
		// change that committed since (or is committing) must win, or the
		// session made here would miss its "revoke every other session".
		v, err := l.users.LockCredential(ctx, u.ID)
		if errors.Is(err, user.ErrNotFound) || err == nil && v != u.CredentialVersion {
			return domauth.ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		pair, err = l.sessions.open(ctx, u, now, meta, passwordOnly)
		if err != nil {
			return err
		}
		if err := l.rec.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now); err != nil {
			return err
		}
		// The attempt is taken back with the session it made, in one
		// commit; if the session cannot start, it stays counted.
		return l.check.gate.clear(ctx, keys)
	})
	if err != nil {
		return TokenPair{}, err
	}
	l.obs.LoginSucceeded()
	return pair, nil
}

// mfaTokenBytes is the entropy of an mfaToken: 256 bits.
const mfaTokenBytes = 32

// challenge stores a pending login for u and returns its token. No session
// exists yet: nothing usable is issued until the second factor is proven.
func (l *PasswordLogin) challenge(ctx context.Context, u user.User, factors []string) (TokenPair, error) {
	return issueChallenge(ctx, l.tx, l.clock, l.challenges, u, factors, mfa.Challenge{})
}

// issueChallenge stores a pending sign-in of u awaiting one of factors;
// first carries what the first factor was when not a password (Methods,
// IdP).
func issueChallenge(ctx context.Context, tx Transactor, clock Clock, challenges ChallengeIssuer, u user.User, factors []string, first mfa.Challenge) (TokenPair, error) {
	var b [mfaTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := nowUTC(clock)
	c := mfa.Challenge{Hash: sha256.Sum256([]byte(tok)), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(mfa.ChallengeTTL),
		CredentialVersion: u.CredentialVersion, Methods: first.Methods, IdP: first.IdP}
	if err := tx.WithinTx(ctx, func(ctx context.Context) error { return challenges.Create(ctx, c) }); err != nil {
		return TokenPair{}, err
	}
	return TokenPair{MFA: &MFAChallenge{Token: tok, Methods: factors, ExpiresAt: c.ExpiresAt}}, nil
}
