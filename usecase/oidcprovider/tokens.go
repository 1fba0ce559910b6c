package oidcprovider

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// TokensDeps are the ports and settings of the token interactors.
type TokensDeps struct {
	Requests       RequestStore
	Sessions       Sessions
	ClientSessions ClientSessionStore
	Refresh        RefreshTokens
	Rotator        Rotator
	Audit          AuditLog
	Tx             Transactor
	Clock          Clock
	Live           Evicter
	Policy         session.Policy
	// AccessTokenTTL is the lifetime of clients' access tokens; a session
	// without offline_access lives no longer than its token.
	AccessTokenTTL time.Duration
	// MaxSessionsPerUser caps an account's sessions, clients' included.
	MaxSessionsPerUser int
}

// CodeExchanger spends authorization codes and opens the client session
// each one was minted for.
type CodeExchanger struct{ d TokensDeps }

// NewCodeExchanger returns a CodeExchanger.
func NewCodeExchanger(d TokensDeps) *CodeExchanger { return &CodeExchanger{d: d} }

// Peek returns the request of a code without spending it (for checks the
// protocol layer makes before the exchange); oauth.ErrCodeInvalid.
func (x *CodeExchanger) Peek(ctx context.Context, code string) (oauth.Request, error) {
	return x.d.Requests.RequestByCode(ctx, hashCode(code))
}

// Spend marks a code used and returns its request. A code presented again
// revokes the session it opened (RFC 6749 4.1.2) and is oauth.ErrCodeReused;
// an unknown or expired one is oauth.ErrCodeInvalid. A code is spent by
// the first attempt, even one that then fails its PKCE check: a stolen code
// gets one try.
func (x *CodeExchanger) Spend(ctx context.Context, code string) (oauth.Request, error) {
	now := x.d.Clock.Now().UTC()
	r, err := x.d.Requests.SpendCode(ctx, hashCode(code), now)
	if !errors.Is(err, oauth.ErrCodeReused) {
		return r, err
	}
	if r.SessionID != "" {
		var ended []string
		rerr := x.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
			var err error
			ended, err = x.d.ClientSessions.RevokeClientSessions(ctx, SessionFilter{SessionID: r.SessionID}, ReasonCodeReused, now)
			if err != nil || len(ended) == 0 {
				return err
			}
			return x.d.Audit.Append(ctx, audit.Event{ID: id.New(), UserID: r.UserID, SessionID: r.SessionID,
				Type: audit.SessionRevoked, CreatedAt: now})
		})
		if rerr != nil {
			return oauth.Request{}, rerr
		}
		x.d.Live.Evict(ended...)
	}
	return oauth.Request{}, oauth.ErrCodeReused
}

// Opened is a client session just opened by a code.
type Opened struct {
	Session session.Session
	User    user.User
	// RefreshToken is empty unless offline_access was granted.
	RefreshToken string
}

// Open starts the client session of a spent code's request, at the
// request's auth_time and methods. It fails (oauth.ErrCodeInvalid) when
// the app session that accepted the request has ended since (a logout, a
// password change) or the account was disabled or deleted.
func (x *CodeExchanger) Open(ctx context.Context, r oauth.Request, ip, userAgent string) (Opened, error) {
	offline := slices.Contains(r.GrantedScopes, oauth.ScopeOfflineAccess)
	var out Opened
	var capped []string
	err := x.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := x.d.Clock.Now().UTC()
		if r.LoginSessionID != "" {
			live, _, err := x.d.Sessions.Liveness(ctx, r.LoginSessionID)
			if errors.Is(err, session.ErrNotFound) || err == nil && !live.Active(now) {
				return oauth.ErrCodeInvalid
			}
			if err != nil {
				return err
			}
		}
		sess := x.d.Policy.Start(r.SessionID, r.UserID, now, userAgent, ip)
		sess.AuthTime, sess.Methods = r.AuthTime, r.Methods
		if !offline && x.d.AccessTokenTTL > 0 {
			if end := now.Add(x.d.AccessTokenTTL); end.Before(sess.IdleExpiresAt) {
				sess.IdleExpiresAt = end
			}
		}
		raw, hash, err := x.d.Refresh.Issue(sess.ID, sess.Generation)
		if err != nil {
			return err
		}
		sess.TokenHash = hash
		if err := x.d.Sessions.Create(ctx, sess); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return oauth.ErrCodeInvalid
			}
			return err
		}
		if err := x.d.ClientSessions.CreateClientSession(ctx, oauth.ClientSession{
			SessionID: sess.ID, ClientID: r.ClientID, UserID: r.UserID, Scopes: r.GrantedScopes,
			Nonce: r.Nonce, CreatedAt: now,
		}); err != nil {
			return err
		}
		s, u, err := x.d.Sessions.WithUser(ctx, sess.ID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return oauth.ErrCodeInvalid
		}
		if x.d.MaxSessionsPerUser > 0 {
			if capped, err = x.d.Sessions.RevokeBeyond(ctx, u.ID, x.d.MaxSessionsPerUser, session.ReasonSessionLimit, now); err != nil {
				return err
			}
		}
		out = Opened{Session: s, User: u}
		if offline {
			out.RefreshToken = raw
		}
		return nil
	})
	if err == nil {
		x.d.Live.Evict(capped...)
	}
	return out, err
}

// ClientTokens serves what clients do with their tokens after the code:
// refresh, reading the user (userinfo), revocation and logout.
type ClientTokens struct{ d TokensDeps }

// NewClientTokens returns a ClientTokens.
func NewClientTokens(d TokensDeps) *ClientTokens { return &ClientTokens{d: d} }

// Grant is a live client session with its user: what a token of it may
// read.
type Grant struct {
	Client  oauth.ClientSession
	Session session.Session
	User    user.User
}

// RefreshGrant reads, without changing anything, what a client's refresh
// token belongs to: session.ErrRefreshInvalid when it is not a client's
// token or its session has ended. Rotate then decides.
func (t *ClientTokens) RefreshGrant(ctx context.Context, raw string) (Grant, error) {
	p, err := t.d.Refresh.Parse(raw)
	if err != nil {
		return Grant{}, session.ErrRefreshInvalid
	}
	g, err := t.grant(ctx, p.SessionID)
	if err != nil {
		return Grant{}, session.ErrRefreshInvalid
	}
	return g, nil
}

// Rotate rotates a client's refresh token (see Rotator) and returns the
// session after it and the token to hand out.
func (t *ClientTokens) Rotate(ctx context.Context, raw, ip, userAgent string) (Grant, string, error) {
	sess, u, next, err := t.d.Rotator.Rotate(ctx, raw, ip, userAgent)
	if err != nil {
		return Grant{}, "", err
	}
	cs, err := t.d.ClientSessions.ClientSession(ctx, sess.ID)
	if err != nil {
		return Grant{}, "", session.ErrRefreshInvalid
	}
	return Grant{Client: cs, Session: sess, User: u}, next, nil
}

// Check reads a live client session for an access token of client
// clientID issued to userID: session.ErrNotFound when the session ended,
// belongs to another client or user, or the account is disabled.
func (t *ClientTokens) Check(ctx context.Context, sessionID, clientID, userID string) (Grant, error) {
	g, err := t.grant(ctx, sessionID)
	if err != nil {
		return Grant{}, err
	}
	if g.Client.ClientID != clientID || g.User.ID != userID {
		return Grant{}, session.ErrNotFound
	}
	return g, nil
}

func (t *ClientTokens) grant(ctx context.Context, sessionID string) (Grant, error) {
	cs, err := t.d.ClientSessions.ClientSession(ctx, sessionID)
	if err != nil {
		return Grant{}, err
	}
	s, u, err := t.d.Sessions.WithUser(ctx, sessionID)
	if err != nil {
		return Grant{}, err
	}
	if !s.Active(t.d.Clock.Now()) || u.Disabled {
		return Grant{}, session.ErrNotFound
	}
	return Grant{Client: cs, Session: s, User: u}, nil
}

// Revoke ends the client session sessionID if it belongs to clientID
// (RFC 7009: revoking either of its tokens ends both; an unknown token or
// another client's changes nothing and is not an error).
func (t *ClientTokens) Revoke(ctx context.Context, clientID, sessionID string) error {
	cs, err := t.d.ClientSessions.ClientSession(ctx, sessionID)
	if errors.Is(err, session.ErrNotFound) || err == nil && cs.ClientID != clientID {
		return nil
	}
	if err != nil {
		return err
	}
	return t.revoke(ctx, SessionFilter{SessionID: sessionID, ClientID: clientID}, ReasonTokenRevoked, cs.UserID)
}

// EndSession is RP-initiated logout: it ends the client session sessionID
// (the ID token's sid), or, without one, every session of userID with
// clientID.
func (t *ClientTokens) EndSession(ctx context.Context, clientID, userID, sessionID string) error {
	f := SessionFilter{ClientID: clientID, UserID: userID, SessionID: sessionID}
	if f.UserID == "" && f.SessionID == "" {
		return nil
	}
	return t.revoke(ctx, f, ReasonClientLogout, userID)
}

func (t *ClientTokens) revoke(ctx context.Context, f SessionFilter, reason, userID string) error {
	var ended []string
	err := t.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := t.d.Clock.Now().UTC()
		var err error
		if ended, err = t.d.ClientSessions.RevokeClientSessions(ctx, f, reason, now); err != nil {
			return err
		}
		for _, sid := range ended {
			if userID == "" {
				break
			}
			if err := t.d.Audit.Append(ctx, audit.Event{ID: id.New(), UserID: userID, SessionID: sid,
				Type: audit.SessionRevoked, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		t.d.Live.Evict(ended...)
	}
	return err
}
