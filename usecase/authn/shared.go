package authn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Meta describes the client of a request, for sessions and security events.
type Meta struct {
	IP        string
	UserAgent string
	// Devices are the known-device proofs the client sent (the HTTP
	// adapter's device cookie), unchecked; see PasswordGate.
	Devices []string
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
	// Device, set when a sign-in started a session, proves to later
	// password attempts that this client signed in to the account before
	// (see PasswordGate); the HTTP adapter keeps it in a cookie.
	Device string
}

// Credentials are an email and a password as the client sent them.
type Credentials struct {
	Email    string
	Password string
}

// maxUserAgent bounds what is stored of a User-Agent header.
const maxUserAgent = 512

// maxDeviceProofs bounds the device proofs looked at per request.
const maxDeviceProofs = 4

// clean bounds and repairs client-supplied metadata: PostgreSQL rejects
// invalid UTF-8 in text columns, and a cut may split a character.
func (m Meta) clean() Meta {
	if len(m.UserAgent) > maxUserAgent {
		m.UserAgent = m.UserAgent[:maxUserAgent]
	}
	m.UserAgent = strings.ToValidUTF8(m.UserAgent, "")
	m.IP = strings.ToValidUTF8(m.IP, "")
	if len(m.Devices) > maxDeviceProofs {
		m.Devices = m.Devices[:maxDeviceProofs]
	}
	return m
}

// nowUTC is the clock's time in UTC, as every interactor stores it.
func nowUTC(c Clock) time.Time { return c.Now().UTC() }

// passwordOnly is the amr of a password proof alone.
var passwordOnly = []string{auth.MethodPassword}

// recorder appends security events in the caller's transaction.
type recorder struct{ log AuditLog }

func (r recorder) record(ctx context.Context, t audit.Type, userID, sessionID string, meta Meta, now time.Time) error {
	return r.log.Append(ctx, audit.Event{
		ID: id.New(), UserID: userID, SessionID: sessionID, Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now,
	})
}

// minter signs access tokens and assembles token pairs.
type minter struct{ tokens TokenIssuer }

// pair mints an access token for u in sess and assembles the answer.
func (m minter) pair(u user.User, sess session.Session, refresh string, fresh bool, now time.Time) (TokenPair, error) {
	ttl := m.tokens.TTL()
	methods := sess.Methods
	if len(methods) == 0 {
		methods = passwordOnly
	}
	tok, err := m.tokens.Issue(auth.Claims{
		Subject: u.ID, SessionID: sess.ID, ID: id.New(),
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(ttl),
		AuthTime: sess.AuthTime, Fresh: fresh,
		Methods: methods, AAL: auth.AssuranceOf(methods), Roles: u.Roles, IdP: sess.IdP,
		AppMetadata: u.AppMetadata,
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("issue access token: %w", err)
	}
	return TokenPair{AccessToken: tok, ExpiresIn: ttl, RefreshToken: refresh, User: u, Session: sess}, nil
}

// presented parses a refresh token and, for one of the legacy format, finds
// its session: every genuine token names its session and generation.
func presented(ctx context.Context, codec *session.RefreshCodec, legacy LegacyTokens, raw string) (session.Presented, error) {
	tok, err := codec.Parse(raw)
	if err != nil || !tok.Legacy {
		return tok, err
	}
	tok.SessionID, tok.Generation, err = legacy.LegacyToken(ctx, tok.Hash)
	return tok, err
}

// SessionOpenerDeps are the ports and settings of a SessionOpener.
type SessionOpenerDeps struct {
	Starter SessionStarter
	Capper  SessionCapper
	// Codec issues refresh tokens under the server's key.
	Codec  *session.RefreshCodec
	Tokens TokenIssuer
	Audit  AuditLog
	// Live, when not nil, forgets sessions the cap revokes.
	Live   *LivenessCache
	Policy session.Policy
	// MaxSessionsPerUser, when positive, caps an account's active
	// sessions: starting one more revokes the oldest.
	MaxSessionsPerUser int
	// Devices, when set, issues every new session's client a known-device
	// proof (TokenPair.Device).
	Devices *throttle.DeviceCodec
}

// SessionOpener starts sessions for the interactors that prove who someone
// is (registration, password login, second factor, passkey): the session
// with its first refresh token, the per-account cap, and a fresh access
// token. It runs inside the caller's transaction and holds no state.
type SessionOpener struct {
	starter SessionStarter
	capper  SessionCapper
	codec   *session.RefreshCodec
	mint    minter
	rec     recorder
	live    *LivenessCache
	policy  session.Policy
	max     int
	devices *throttle.DeviceCodec
}

// NewSessionOpener returns a SessionOpener.
func NewSessionOpener(d SessionOpenerDeps) *SessionOpener {
	return &SessionOpener{
		starter: d.Starter, capper: d.Capper, codec: d.Codec, mint: minter{d.Tokens},
		rec: recorder{d.Audit}, live: d.Live, policy: d.Policy, max: d.MaxSessionsPerUser,
		devices: d.Devices,
	}
}

// open creates a session with its first refresh token and mints a fresh
// access token asserting methods. It runs inside the caller's transaction.
func (o *SessionOpener) open(ctx context.Context, u user.User, now time.Time, meta Meta, methods []string) (TokenPair, error) {
	return o.openVia(ctx, u, now, meta, methods, "")
}

// openVia is open for a sign-in through identity provider idp (empty for
// none): the session, and every token minted in it, names the provider.
func (o *SessionOpener) openVia(ctx context.Context, u user.User, now time.Time, meta Meta, methods []string, idp string) (TokenPair, error) {
	sess := o.policy.Start(id.New(), u.ID, now, meta.UserAgent, meta.IP)
	sess.Methods, sess.IdP = methods, idp
	raw, hash, err := o.codec.Issue(sess.ID, sess.Generation)
	if err != nil {
		return TokenPair{}, fmt.Errorf("start session: %w", err)
	}
	sess.TokenHash = hash
	if err := o.starter.Create(ctx, sess); err != nil {
		return TokenPair{}, err
	}
	if err := o.capSessions(ctx, u.ID, now, meta); err != nil {
		return TokenPair{}, err
	}
	pair, err := o.mint.pair(u, sess, raw, true, now)
	if err == nil && o.devices != nil {
		pair.Device = o.devices.Issue(u.ID, u.CredentialVersion, now)
	}
	return pair, err
}

// capSessions revokes the oldest of the account's active sessions beyond
// MaxSessionsPerUser, in the transaction that started a new one, so the
// count one account holds (and what listing it costs) stays bounded.
func (o *SessionOpener) capSessions(ctx context.Context, userID string, now time.Time, meta Meta) error {
	if o.max <= 0 {
		return nil
	}
	ids, err := o.capper.RevokeBeyond(ctx, userID, o.max, session.ReasonSessionLimit, now)
	if err != nil {
		return err
	}
	o.live.evict(ids...)
	for _, sid := range ids {
		if err := o.rec.record(ctx, audit.SessionRevoked, userID, sid, meta, now); err != nil {
			return err
		}
	}
	return nil
}

// signInEvent is the login_succeeded event of a sign-in, the one way every
// sign-in writes it: method is how the first step was proven ("" for a
// password or passkey); one through an identity provider (idp not empty)
// is method oauth with the provider.
func signInEvent(userID, sessionID, method, idp string, meta Meta, now time.Time) audit.Event {
	e := audit.Event{
		ID: id.New(), UserID: userID, SessionID: sessionID, Type: audit.LoginSucceeded,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now, Method: method,
	}
	if idp != "" {
		e.Method, e.Provider = audit.MethodOAuth, idp
	}
	return e
}
