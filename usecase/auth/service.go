package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Deps are the ports the interactors of this package consume.
type Deps struct {
	Users    UserRepository
	Sessions SessionStore
	// Codec issues and checks refresh tokens under the server's key.
	Codec    *session.RefreshCodec
	Audit    AuditLog
	Tx       Transactor
	Hasher   PasswordHasher
	Tokens   TokenIssuer
	Verifier TokenVerifier
	Clock    Clock
	// Observer is optional.
	Observer Observer
	// Throttle is optional; without it password attempts are not throttled.
	// ThrottlePolicy applies per account and client (IP, IPv6 /64), so an
	// attacker elsewhere cannot lock the owner out; AccountPolicy, when its
	// BackoffAfter is set, applies per account across every client, as a
	// much higher ceiling that slows distributed guessing.
	Throttle       LoginThrottle
	ThrottlePolicy throttle.Policy
	AccountPolicy  throttle.Policy
	// Mail is optional; without it registration queues no mail.
	Mail AccountMail
	// RequireVerifiedEmail refuses login, after the password was proven, to
	// accounts whose address is not verified; registration then starts no
	// session (see RegisterPending).
	RequireVerifiedEmail bool
	// MaxSessionsPerUser, when positive, caps an account's active
	// sessions: starting one more revokes the oldest.
	MaxSessionsPerUser int
	// Factors, when set, makes login and reauthentication ask for the
	// account's second factor; MFAChallenges then keeps pending logins.
	Factors       SecondFactors
	MFAChallenges MFAChallengeStore
	// Passkeys, when set, finishes passkey logins.
	Passkeys PasskeyVerifier
	// LivenessCacheTTL, when positive (at most a second), lets Authenticate
	// reuse what the store said about a session for that long.
	LivenessCacheTTL time.Duration
}

// Service runs the authentication use cases.
type Service struct {
	d      Deps
	policy session.Policy
	live   *liveCache
}

// NewService returns a Service with the session lifetimes of policy.
func NewService(d Deps, policy session.Policy) *Service {
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	return &Service{d: d, policy: policy, live: newLiveCache(d.LivenessCacheTTL)}
}

// Meta describes the client of a request, for sessions and security events.
type Meta struct {
	IP        string
	UserAgent string
}

// TokenPair is what a successful credential or refresh exchange returns.
type TokenPair struct {
	AccessToken string
	ExpiresIn   time.Duration
	// RefreshToken is empty when the exchange issues none (reauthenticate).
	RefreshToken string
	User         user.User
	Session      session.Session
	// MFA is set, and everything else empty, when a login proved the
	// password and now awaits the account's second factor.
	MFA *MFAChallenge
}

// Credentials are an email and a password as the client sent them.
type Credentials struct {
	Email    string
	Password string
}

// RegisterInput is a new account's data.
type RegisterInput struct {
	Credentials
	Name string
}

// maxUserAgent bounds what is stored of a User-Agent header.
const maxUserAgent = 512

// clean bounds and repairs client-supplied metadata: PostgreSQL rejects
// invalid UTF-8 in text columns, and a cut may split a character.
func (m Meta) clean() Meta {
	if len(m.UserAgent) > maxUserAgent {
		m.UserAgent = m.UserAgent[:maxUserAgent]
	}
	m.UserAgent = strings.ToValidUTF8(m.UserAgent, "")
	m.IP = strings.ToValidUTF8(m.IP, "")
	return m
}

// Register creates an account and its first session.
func (s *Service) Register(ctx context.Context, in RegisterInput, meta Meta) (TokenPair, error) {
	return s.register(ctx, in, meta, true)
}

// register creates an account, queues its verification mail and, with
// withSession, starts its first session, all in one transaction.
func (s *Service) register(ctx context.Context, in RegisterInput, meta Meta, withSession bool) (TokenPair, error) {
	meta = meta.clean()
	email, ok := user.NormalizeEmail(in.Email)
	var emailErr, nameErr error
	if !ok {
		emailErr = user.Invalid("email", "must be a valid email address")
	}
	name := ""
	if in.Name != "" {
		name, nameErr = user.NormalizeName(in.Name)
	}
	if err := user.Join(emailErr, user.CheckPassword("password", in.Password, email), nameErr); err != nil {
		return TokenPair{}, err
	}
	// Hashing is costly and EMAIL_TAKEN tells accounts apart: both go
	// through the account throttle, a taken address counting as a failure.
	keys := s.throttleKeys(email, meta.IP)
	if err := s.admit(ctx, keys); err != nil {
		return TokenPair{}, err
	}
	hash, err := s.d.Hasher.Hash(ctx, in.Password)
	if err != nil {
		s.undoAttempt(ctx, keys)
		return TokenPair{}, fmt.Errorf("register: hash: %w", err)
	}
	now := s.now()
	u := user.User{
		ID: id.New(), Email: email, Name: name, Roles: []string{user.RoleUser},
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	var pair TokenPair
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.d.Users.Create(ctx, u); err != nil {
			return err
		}
		if s.d.Mail != nil {
			if err := s.d.Mail.Registered(ctx, u); err != nil {
				return err
			}
		}
		if !withSession {
			return nil
		}
		var err error
		pair, err = s.startSession(ctx, u, now, meta, passwordOnly)
		if err != nil {
			return err
		}
		// Registration proves the password and starts a session: the user's
		// event list starts with it.
		return s.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
	})
	if err != nil {
		if !errors.Is(err, user.ErrEmailTaken) {
			s.undoAttempt(ctx, keys)
		}
		return TokenPair{}, err
	}
	_ = s.clearThrottle(ctx, keys)
	return pair, nil
}

// VerificationRequired reports whether accounts must verify their address
// before they can log in; registration then uses RegisterPending.
func (s *Service) VerificationRequired() bool { return s.d.RequireVerifiedEmail }

// RegisterPending creates an account without starting a session, for when
// the address must be verified first. It answers the same for a new and an
// already registered address, after the same hashing; the owner of an
// existing one is told by mail instead.
func (s *Service) RegisterPending(ctx context.Context, in RegisterInput, meta Meta) error {
	_, err := s.register(ctx, in, meta, false)
	if !errors.Is(err, user.ErrEmailTaken) {
		return err
	}
	email, _ := user.NormalizeEmail(in.Email)
	if s.d.Mail == nil {
		return nil
	}
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		return s.d.Mail.RegisteredAgain(ctx, email)
	})
}

// Login checks credentials and starts a new session. Unknown emails and
// wrong passwords get the same error after the same amount of hashing work.
func (s *Service) Login(ctx context.Context, in Credentials, meta Meta) (TokenPair, error) {
	meta = meta.clean()
	u, factors, err := s.checkCredentials(ctx, in, meta)
	if err != nil {
		return TokenPair{}, err
	}
	// Only after the password was proven, so the answer tells nothing to
	// someone who does not know it; and before any second factor is asked.
	if s.d.RequireVerifiedEmail && !u.EmailVerified {
		return TokenPair{}, recovery.ErrEmailNotVerified
	}
	if len(factors) > 0 {
		return s.challenge(ctx, u, factors)
	}
	now := s.now()
	var pair TokenPair
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		// The password was checked outside this transaction; a credential
		// change that committed since (or is committing) must win, or the
		// session made here would miss its "revoke every other session".
		v, err := s.d.Users.LockCredential(ctx, u.ID)
		if errors.Is(err, user.ErrNotFound) || err == nil && v != u.CredentialVersion {
			return domauth.ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		pair, err = s.startSession(ctx, u, now, meta, passwordOnly)
		if err != nil {
			return err
		}
		return s.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
	})
	if err != nil {
		return TokenPair{}, err
	}
	s.d.Observer.LoginSucceeded()
	return pair, nil
}

// checkCredentials finds the account and checks the password, recording a
// failure for an existing account, and upgrading the hash when the
// configured cost changed. The account throttle is keyed by the email as
// typed (normalized), whether or not an account has it, so its answers do
// not tell existing accounts from unknown ones.
//
// factors are the second-factor methods the account requires after its
// password. While one is required, the attempt stays counted in the
// throttle until the factor is proven too (see proveFactor): otherwise
// each password success would wipe the count of wrong codes, and a thief
// with the password could guess codes without end.
func (s *Service) checkCredentials(ctx context.Context, in Credentials, meta Meta) (u user.User, factors []string, err error) {
	email, ok := user.NormalizeEmail(in.Email)
	if !ok {
		email = strings.ToLower(strings.TrimSpace(in.Email))
	}
	keys := s.throttleKeys(email, meta.IP)
	if err := s.admit(ctx, keys); err != nil {
		return user.User{}, nil, err
	}
	if !ok {
		s.d.Hasher.VerifyDummy(ctx, in.Password)
		s.d.Observer.LoginFailed()
		return user.User{}, nil, domauth.ErrInvalidCredentials
	}
	u, err = s.d.Users.ByEmail(ctx, email)
	if errors.Is(err, user.ErrNotFound) {
		s.d.Hasher.VerifyDummy(ctx, in.Password)
		s.d.Observer.LoginFailed()
		return user.User{}, nil, domauth.ErrInvalidCredentials
	}
	if err != nil {
		s.undoAttempt(ctx, keys)
		return user.User{}, nil, err
	}
	match, rehash, err := s.d.Hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		s.undoAttempt(ctx, keys)
		return user.User{}, nil, fmt.Errorf("login: verify: %w", err)
	}
	if !match {
		s.d.Observer.LoginFailed()
		// The failure is recorded in a transaction of its own: the answer is
		// an error, and the record must outlive it.
		if err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
			return s.record(ctx, audit.LoginFailed, u.ID, "", meta, s.now())
		}); err != nil {
			return user.User{}, nil, err
		}
		return user.User{}, nil, domauth.ErrInvalidCredentials
	}
	if rehash {
		s.upgradeHash(ctx, u, in.Password)
	}
	// Account rules that apply once the password is proven, before any
	// second factor: a disabled account is told so and asked for nothing.
	if err := u.CanSignIn(); err != nil {
		if cerr := s.clearThrottle(ctx, keys); cerr != nil {
			return user.User{}, nil, cerr
		}
		return user.User{}, nil, err
	}
	if s.d.Factors != nil {
		if factors, err = s.d.Factors.LoginFactors(ctx, u.ID); err != nil {
			return user.User{}, nil, err
		}
		if len(factors) > 0 {
			return u, factors, nil
		}
	}
	if err := s.clearThrottle(ctx, keys); err != nil {
		return user.User{}, nil, err
	}
	return u, nil, nil
}

// throttleKeys name the throttle records of a password attempt: the account
// (by normalized email, whether or not an account has it, so answers never
// tell existing accounts from unknown ones) together with the client, and
// the account alone.
type throttleKeys struct{ client, account string }

func (s *Service) throttleKeys(email, ip string) throttleKeys {
	return throttleKeys{
		client:  "account:" + email + "|client:" + throttle.ClientKey(ip),
		account: "account:" + email,
	}
}

// accountWide reports whether the all-clients ceiling is configured.
func (s *Service) accountWide() bool { return s.d.AccountPolicy.BackoffAfter > 0 }

// admit asks the throttle whether this attempt may proceed and, if so,
// counts it as a failure, for this client and for the account, before the
// password is checked. Counting first means parallel guesses cannot all slip
// past the check before any failure is recorded; a success takes the counts
// back. Both records are updated in one transaction, always in the same
// order, so a refusal by either counts nothing.
func (s *Service) admit(ctx context.Context, k throttleKeys) error {
	if s.d.Throttle == nil {
		return nil
	}
	now := s.now()
	step := func(ctx context.Context, key string, p throttle.Policy) error {
		return s.d.Throttle.Update(ctx, key, func(st *throttle.State) error {
			if wait, ok := p.Admit(*st, now); !ok {
				return &throttle.LimitedError{RetryAfter: wait}
			}
			*st = p.Fail(*st, now)
			return nil
		})
	}
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := step(ctx, k.client, s.d.ThrottlePolicy); err != nil {
			return err
		}
		if s.accountWide() {
			return step(ctx, k.account, s.d.AccountPolicy)
		}
		return nil
	})
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		s.d.Observer.LoginThrottled()
	}
	return err
}

// undoAttempt takes back the failure admit counted when the password could
// not be checked at all (store or hash unavailable). Best effort: with the
// store down it fails too, and the count then stands.
func (s *Service) undoAttempt(ctx context.Context, k throttleKeys) {
	if s.d.Throttle == nil {
		return
	}
	// The request's context may be what ran out; the undo gets a moment of
	// its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	_ = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.undo(ctx, k.client, s.d.ThrottlePolicy); err != nil {
			return err
		}
		if s.accountWide() {
			return s.undo(ctx, k.account, s.d.AccountPolicy)
		}
		return nil
	})
}

func (s *Service) undo(ctx context.Context, key string, p throttle.Policy) error {
	return s.d.Throttle.Update(ctx, key, func(st *throttle.State) error {
		*st = p.Undo(*st)
		return nil
	})
}

// undoTimeout bounds undoAttempt.
const undoTimeout = 2 * time.Second

// clearThrottle forgets this client's failures after a successful proof,
// and takes back the attempt's count from the account-wide record (whose
// other failures, from other clients, stand).
func (s *Service) clearThrottle(ctx context.Context, k throttleKeys) error {
	if s.d.Throttle == nil {
		return nil
	}
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.d.Throttle.Update(ctx, k.client, func(st *throttle.State) error {
			*st = throttle.State{}
			return nil
		}); err != nil {
			return err
		}
		if s.accountWide() {
			return s.undo(ctx, k.account, s.d.AccountPolicy)
		}
		return nil
	})
}

// AdmitPassword counts a password proof of another use case (a password
// change) for the account with email from ip, as a login attempt counts,
// before the password is checked; throttle.LimitedError when refused. The
// caller reports the outcome with PasswordProven, or PasswordUnchecked when
// the password could not be checked at all; a wrong password needs nothing
// more: it stays counted as a failure.
func (s *Service) AdmitPassword(ctx context.Context, email, ip string) error {
	return s.admit(ctx, s.throttleKeys(email, ip))
}

// PasswordProven clears what AdmitPassword counted.
func (s *Service) PasswordProven(ctx context.Context, email, ip string) error {
	return s.clearThrottle(ctx, s.throttleKeys(email, ip))
}

// PasswordUnchecked takes back what AdmitPassword counted.
func (s *Service) PasswordUnchecked(ctx context.Context, email, ip string) {
	s.undoAttempt(ctx, s.throttleKeys(email, ip))
}

// upgradeHash re-hashes a password whose stored hash used other parameters.
// A failure only delays the upgrade to the next login, so it is not fatal.
func (s *Service) upgradeHash(ctx context.Context, u user.User, plain string) {
	hash, err := s.d.Hasher.Hash(ctx, plain)
	if err != nil {
		return
	}
	u.PasswordHash = hash
	u.UpdatedAt = s.now()
	// Only while the credential is the one just proven: never over a
	// password change that committed meanwhile.
	_ = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if v, err := s.d.Users.LockCredential(ctx, u.ID); err != nil || v != u.CredentialVersion {
			return err
		}
		return s.d.Users.Update(ctx, u)
	})
}

// passwordOnly is the amr of a password proof alone.
var passwordOnly = []string{domauth.MethodPassword}

// startSession creates a session with its first refresh token and mints a
// fresh access token asserting methods. It runs inside the caller's
// transaction.
func (s *Service) startSession(ctx context.Context, u user.User, now time.Time, meta Meta, methods []string) (TokenPair, error) {
	sess := s.policy.Start(id.New(), u.ID, now, meta.UserAgent, meta.IP)
	sess.Methods = methods
	raw, hash, err := s.d.Codec.Issue(sess.ID, sess.Generation)
	if err != nil {
		return TokenPair{}, fmt.Errorf("start session: %w", err)
	}
	sess.TokenHash = hash
	if err := s.d.Sessions.Create(ctx, sess); err != nil {
		return TokenPair{}, err
	}
	if err := s.capSessions(ctx, u.ID, now, meta); err != nil {
		return TokenPair{}, err
	}
	return s.pair(u, sess, raw, true, now)
}

// capSessions revokes the oldest of the account's active sessions beyond
// MaxSessionsPerUser, in the transaction that started a new one, so the
// count one account holds (and what listing it costs) stays bounded.
func (s *Service) capSessions(ctx context.Context, userID string, now time.Time, meta Meta) error {
	if s.d.MaxSessionsPerUser <= 0 {
		return nil
	}
	ids, err := s.d.Sessions.RevokeBeyond(ctx, userID, s.d.MaxSessionsPerUser, session.ReasonSessionLimit, now)
	if err != nil {
		return err
	}
	s.live.evict(ids...)
	for _, sid := range ids {
		if err := s.record(ctx, audit.SessionRevoked, userID, sid, meta, now); err != nil {
			return err
		}
	}
	return nil
}

// pair mints an access token for u in sess and assembles the answer.
func (s *Service) pair(u user.User, sess session.Session, refresh string, fresh bool, now time.Time) (TokenPair, error) {
	ttl := s.d.Tokens.TTL()
	methods := sess.Methods
	if len(methods) == 0 {
		methods = passwordOnly
	}
	tok, err := s.d.Tokens.Issue(domauth.Claims{
		Subject: u.ID, SessionID: sess.ID, ID: id.New(),
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(ttl),
		AuthTime: sess.AuthTime, Fresh: fresh,
		Methods: methods, AAL: domauth.AssuranceOf(methods), Roles: u.Roles,
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("issue access token: %w", err)
	}
	return TokenPair{AccessToken: tok, ExpiresIn: ttl, RefreshToken: refresh, User: u, Session: sess}, nil
}

func (s *Service) record(ctx context.Context, t audit.Type, userID, sessionID string, meta Meta, now time.Time) error {
	return s.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, SessionID: sessionID, Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now,
	})
}

func (s *Service) now() time.Time { return s.d.Clock.Now().UTC() }
