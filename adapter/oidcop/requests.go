package oidcop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// authRequest is a spent code's request as the library sees it. The
// session it opens is filled in by CreateAccessToken, before the ID token
// is made from it.
type authRequest struct {
	r    oauth.Request
	sess session.Session
	user user.User
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.r.ID }
func (a *authRequest) GetACR() string         { return auth.AssuranceOf(methods(a.r.Methods)) }
func (a *authRequest) GetAMR() []string       { return methods(a.r.Methods) }
func (a *authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.r.AuthTime }
func (a *authRequest) GetClientID() string    { return a.r.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: oidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}
func (a *authRequest) GetNonce() string                   { return a.r.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.r.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.r.ResponseMode) }
func (a *authRequest) GetScopes() []string                { return a.r.GrantedScopes }
func (a *authRequest) GetState() string                   { return a.r.State }
func (a *authRequest) GetSubject() string                 { return a.r.UserID }
func (a *authRequest) Done() bool                         { return true }

// refreshRequest is a client session presented by its refresh token. The
// rotation fills in the session and user as they are after it.
type refreshRequest struct {
	clientID string
	scopes   []string
	sess     session.Session
	user     user.User
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return methods(r.sess.Methods) }
func (r *refreshRequest) GetAudience() []string  { return []string{r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.sess.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.clientID }
func (r *refreshRequest) GetScopes() []string    { return r.scopes }
func (r *refreshRequest) GetSubject() string     { return r.sess.UserID }

// SetCurrentScopes narrows the scopes of the tokens minted now (RFC 6749
// 6: a refresh may ask for fewer); the session keeps what was granted.
func (r *refreshRequest) SetCurrentScopes(scopes []string) {
	r.scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return !slices.Contains(r.scopes, s) })
}

// methods is the amr of a session; an empty one is a password.
func methods(m []string) []string {
	if len(m) == 0 {
		return []string{auth.MethodPassword}
	}
	return m
}
