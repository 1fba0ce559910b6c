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

// Errors of an authorization request that the client hears about through
// its redirect URI (RFC 6749 4.1.2.1).
var (
	// ErrPKCERequired: a public client sent no S256 code challenge.
	ErrPKCERequired = errors.New("public clients must send a PKCE code_challenge with S256")
	// ErrPKCEMethod: a code challenge method other than S256.
	ErrPKCEMethod = errors.New("code_challenge_method must be S256")
	// ErrLoginRequired answers prompt=none: the provider cannot see the
	// browser's session with the app, so it can never sign in silently.
	ErrLoginRequired = errors.New("prompt=none cannot be answered without the login page")
	// ErrResponseMode: a response_mode other than query or fragment.
	ErrResponseMode = errors.New("response_mode must be query or fragment")
	// ErrScopeOpenID: the request lacks the openid scope.
	ErrScopeOpenID = errors.New("the openid scope is required")
)

// RequestTTL is how long an authorization request waits for the user.
const RequestTTL = 10 * time.Minute

// AuthorizerDeps are the ports and settings of an Authorizer.
type AuthorizerDeps struct {
	Clients  ClientStore
	Requests RequestStore
	Grants   GrantStore
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Sessions reads the accepting app session: its auth_time to the
	// microsecond (tokens carry whole seconds).
	Sessions interface {
		WithUser(ctx context.Context, id string) (session.Session, user.User, error)
	}
	// CodeTTL is how long a code may wait for its exchange (OIDC_CODE_TTL).
	CodeTTL time.Duration
}

// Authorizer runs the login hand-off: it stores what the client asked for,
// shows it to the app's login page, and turns the signed-in user's answer
// into a code (accept) or a refusal (reject).
type Authorizer struct{ d AuthorizerDeps }

// NewAuthorizer returns an Authorizer.
func NewAuthorizer(d AuthorizerDeps) *Authorizer { return &Authorizer{d: d} }

// Begin applies Gatehouse's rules to a request whose client and redirect
// URI the protocol layer has already checked, and stores it for the login
// page (single use, RequestTTL). It returns the stored request; its ID goes
// to the login page.
func (a *Authorizer) Begin(ctx context.Context, r oauth.Request) (oauth.Request, error) {
	c, err := a.d.Clients.ClientByID(ctx, r.ClientID)
	if err != nil {
		return oauth.Request{}, err
	}
	switch {
	case r.CodeChallenge != "" && r.CodeChallengeMethod != "S256":
		return oauth.Request{}, ErrPKCEMethod
	case c.Public && r.CodeChallenge == "":
		return oauth.Request{}, ErrPKCERequired
	case r.HasPrompt(oauth.PromptNone):
		return oauth.Request{}, ErrLoginRequired
	case r.ResponseMode != "" && r.ResponseMode != "query" && r.ResponseMode != "fragment":
		return oauth.Request{}, ErrResponseMode
	case !slices.Contains(r.Scopes, oauth.ScopeOpenID):
		return oauth.Request{}, ErrScopeOpenID
	}
	// Scopes the client is not registered for are dropped, as OpenID
	// Connect Core 3.1.2.1 allows for unknown ones.
	r.Scopes = slices.DeleteFunc(slices.Clone(r.Scopes), func(s string) bool { return !c.AllowsScope(s) })
	now := a.d.Clock.Now().UTC()
	r.ID = newSecret()
	r.CreatedAt, r.ExpiresAt = now, now.Add(RequestTTL)
	if err := a.d.Requests.CreateRequest(ctx, r); err != nil {
		return oauth.Request{}, err
	}
	return r, nil
}

// RequestView is what the login page shows of a pending request.
type RequestView struct {
	Client          oauth.Ref
	Scopes          []string
	ConsentRequired bool
	MaxAge          *int64
	Prompt          []string
}

// Show describes a pending request to the signed-in user userID;
// oauth.ErrRequestNotFound when it is unknown, done or expired.
func (a *Authorizer) Show(ctx context.Context, requestID, userID string) (RequestView, error) {
	r, err := a.pending(ctx, requestID)
	if err != nil {
		return RequestView{}, err
	}
	c, err := a.d.Clients.ClientByID(ctx, r.ClientID)
	if err != nil {
		return RequestView{}, notFound(err)
	}
	consent, err := a.consentRequired(ctx, c, r, userID, r.Scopes)
	if err != nil {
		return RequestView{}, err
	}
	return RequestView{Client: c.Ref(), Scopes: r.Scopes, ConsentRequired: consent, MaxAge: r.MaxAge, Prompt: r.Prompt}, nil
}

func (a *Authorizer) pending(ctx context.Context, requestID string) (oauth.Request, error) {
	r, err := a.d.Requests.RequestByID(ctx, requestID)
	if err != nil {
		return oauth.Request{}, err
	}
	if !r.Pending(a.d.Clock.Now()) {
		return oauth.Request{}, oauth.ErrRequestNotFound
	}
	return r, nil
}

// consentRequired: first-party clients never ask; others ask unless the
// user's consent covers the scopes, or the client asked with prompt=consent.
func (a *Authorizer) consentRequired(ctx context.Context, c oauth.Client, r oauth.Request, userID string, scopes []string) (bool, error) {
	if c.FirstParty {
		return false, nil
	}
	if r.HasPrompt(oauth.PromptConsent) {
		return true, nil
	}
	g, err := a.d.Grants.Grant(ctx, userID, c.ID)
	if errors.Is(err, oauth.ErrGrantNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !g.Covers(scopes), nil
}

// Answer is where the browser goes after the user's answer: the client's
// redirect URI with these parameters (in the query, or the fragment when
// the client asked for response_mode=fragment).
type Answer struct {
	RedirectURI  string
	ResponseMode string
	Code         string
	State        string
	// Error is "access_denied" for a rejection.
	Error string
}

// Accept answers a pending request for the signed-in user p with the
// scopes they grant (nil: all asked). It needs a sign-in recent enough for
// max_age and prompt=login (oauth.ErrReauthenticate), records the consent
// for non-first-party clients (an oauth_consent_granted event when it
// covers new scopes), and mints a single-use code valid CodeTTL.
func (a *Authorizer) Accept(ctx context.Context, requestID string, p oauth.Proof, scopes []string, ip, userAgent string) (Answer, error) {
	code := newSecret()
	var ans Answer
	err := a.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := a.d.Clock.Now().UTC()
		if a.d.Sessions != nil && p.SessionID != "" {
			s, _, err := a.d.Sessions.WithUser(ctx, p.SessionID)
			if err != nil {
				return err
			}
			if s.UserID == p.UserID && s.AuthTime.Truncate(time.Second).Equal(p.AuthTime.Truncate(time.Second)) {
				p.AuthTime = s.AuthTime
			}
		}
		var req oauth.Request
		err := a.d.Requests.UpdateRequest(ctx, requestID, func(r *oauth.Request) error {
			if !r.Pending(now) {
				return oauth.ErrRequestNotFound
			}
			if err := r.CheckProof(p, now); err != nil {
				return err
			}
			granted, err := r.Granted(scopes)
			if err != nil {
				return err
			}
			r.DoneAt, r.UserID, r.GrantedScopes = now, p.UserID, granted
			r.AuthTime, r.Methods, r.LoginSessionID = p.AuthTime, p.Methods, p.SessionID
			r.SessionID = id.New()
			r.CodeHash, r.CodeExpiresAt = hashCode(code), now.Add(a.d.CodeTTL)
			req = *r
			return nil
		})
		if err != nil {
			return err
		}
		c, err := a.d.Clients.ClientByID(ctx, req.ClientID)
		if err != nil {
			return notFound(err)
		}
		if !c.FirstParty {
			if err := a.remember(ctx, c, req, ip, userAgent, now); err != nil {
				return err
			}
		}
		ans = Answer{RedirectURI: req.RedirectURI, ResponseMode: req.ResponseMode, Code: code, State: req.State}
		return nil
	})
	return ans, err
}

// remember widens the user's consent to the client by the granted scopes.
func (a *Authorizer) remember(ctx context.Context, c oauth.Client, r oauth.Request, ip, userAgent string, now time.Time) error {
	g, err := a.d.Grants.Grant(ctx, r.UserID, c.ID)
	if errors.Is(err, oauth.ErrGrantNotFound) {
		g, err = oauth.Grant{UserID: r.UserID, Client: c.Ref(), CreatedAt: now, UpdatedAt: now}, nil
	}
	if err != nil {
		return err
	}
	if !g.Widen(r.GrantedScopes, now) {
		return nil
	}
	if err := a.d.Grants.SaveGrant(ctx, g); err != nil {
		return err
	}
	return a.d.Audit.Append(ctx, audit.Event{
		ID: id.New(), UserID: r.UserID, SessionID: r.LoginSessionID, Type: audit.OAuthConsentGranted,
		IP: ip, UserAgent: userAgent, CreatedAt: now,
	})
}

// Reject answers a pending request with access_denied.
func (a *Authorizer) Reject(ctx context.Context, requestID string) (Answer, error) {
	var ans Answer
	err := a.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		now := a.d.Clock.Now().UTC()
		return a.d.Requests.UpdateRequest(ctx, requestID, func(r *oauth.Request) error {
			if !r.Pending(now) {
				return oauth.ErrRequestNotFound
			}
			r.DoneAt = now
			ans = Answer{RedirectURI: r.RedirectURI, ResponseMode: r.ResponseMode, State: r.State, Error: "access_denied"}
			return nil
		})
	})
	return ans, err
}

// PurgeExpired deletes requests that expired more than a day ago; a spent
// code is kept that long so its reuse is still recognised.
func (a *Authorizer) PurgeExpired(ctx context.Context) (int, error) {
	return a.d.Requests.PurgeRequests(ctx, a.d.Clock.Now().UTC().Add(-24*time.Hour))
}

// notFound turns a client deleted meanwhile into a request that is gone.
func notFound(err error) error {
	if errors.Is(err, oauth.ErrClientNotFound) {
		return oauth.ErrRequestNotFound
	}
	return err
}
