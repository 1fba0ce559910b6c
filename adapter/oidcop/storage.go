package oidcop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// storage is the library's Storage on Gatehouse's use cases.
type storage struct {
	cfg Config
	d   Deps
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// errUnsupported answers the library's calls for features Gatehouse does
// not offer (introspection, JWT profile grants, private_key_jwt).
var errUnsupported = oidc.ErrUnsupportedGrantType().WithDescription("not supported by Gatehouse")

// CreateAuthRequest stores the request for the login page.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	r := oauth.Request{
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes, State: req.State,
		Nonce: req.Nonce, CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		ResponseMode: string(req.ResponseMode), Prompt: req.Prompt,
	}
	if req.MaxAge != nil {
		v := int64(*req.MaxAge)
		r.MaxAge = &v
	}
	stored, err := s.d.Authorizations.Begin(ctx, r)
	if err != nil {
		return nil, oauthErr(err)
	}
	return &authRequest{r: stored}, nil
}

// AuthRequestByID serves only the library's login callback, which is not
// mounted.
func (s *storage) AuthRequestByID(context.Context, string) (op.AuthRequest, error) {
	return nil, oidc.ErrInvalidRequest().WithDescription("unknown request")
}

// AuthRequestByCode spends a code: the first presentation wins, a second
// revokes what the first opened.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.d.Exchanger.Spend(ctx, code)
	if err != nil {
		return nil, oauthErr(err)
	}
	return &authRequest{r: r}, nil
}

// SaveAuthCode is not used: codes are minted when the user accepts.
func (s *storage) SaveAuthCode(context.Context, string, string) error { return errUnsupported }

// DeleteAuthRequest does nothing: the code is spent already, and its row
// stays until purged so a reuse is still recognised.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken opens the client session of a code (no offline_access).
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrInvalidGrant()
	}
	if err := s.open(ctx, a); err != nil {
		return "", time.Time{}, err
	}
	return s.accessTokenID(a.r.ClientID, a.sess, a.user, a.r.GrantedScopes)
}

// CreateAccessAndRefreshTokens opens the client session of a code with
// offline_access, or rotates a refresh token.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		refresh, err := s.openWithRefresh(ctx, r)
		if err != nil {
			return "", "", time.Time{}, err
		}
		tid, exp, err := s.accessTokenID(r.r.ClientID, r.sess, r.user, r.r.GrantedScopes)
		return tid, refresh, exp, err
	case *refreshRequest:
		meta := reqctx.ClientOf(ctx)
		g, next, err := s.d.Tokens.Rotate(ctx, current, meta.IP, meta.UserAgent)
		if err != nil {
			return "", "", time.Time{}, refreshErr(err)
		}
		if g.Client.ClientID != r.clientID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		r.sess, r.user = g.Session, g.User
		tid, exp, err := s.accessTokenID(r.clientID, g.Session, g.User, r.scopes)
		return tid, next, exp, err
	}
	return "", "", time.Time{}, oidc.ErrInvalidGrant()
}

func (s *storage) open(ctx context.Context, a *authRequest) error {
	_, err := s.openWithRefresh(ctx, a)
	return err
}

func (s *storage) openWithRefresh(ctx context.Context, a *authRequest) (string, error) {
	meta := reqctx.ClientOf(ctx)
	opened, err := s.d.Exchanger.Open(ctx, a.r, meta.IP, meta.UserAgent)
	if err != nil {
		return "", oauthErr(err)
	}
	a.sess, a.user = opened.Session, opened.User
	return opened.RefreshToken, nil
}

func refreshErr(err error) error {
	if errors.Is(err, session.ErrRefreshInvalid) || errors.Is(err, session.ErrRefreshReused) {
		return oidc.ErrInvalidGrant().WithDescription("refresh token is invalid, expired, revoked or reused").WithParent(err)
	}
	return err
}

// TokenRequestByRefreshToken reads what a refresh token belongs to without
// changing anything; the rotation decides in CreateAccessAndRefreshTokens.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, raw string) (op.RefreshTokenRequest, error) {
	g, err := s.d.Tokens.RefreshGrant(ctx, raw)
	if err != nil {
		return nil, refreshErr(err)
	}
	return &refreshRequest{clientID: g.Client.ClientID, scopes: g.Client.Scopes, sess: g.Session, user: g.User}, nil
}

// TerminateSession ends every session of userID with clientID.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.d.Tokens.EndSession(ctx, clientID, userID, "")
}

// TerminateSessionFromRequest is RP-initiated logout: the session named by
// the ID token's sid, else the user's sessions with that client.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	sid := ""
	if r.IDTokenHintClaims != nil {
		sid = r.IDTokenHintClaims.SessionID
	}
	if r.ClientID != "" {
		if err := s.d.Tokens.EndSession(ctx, r.ClientID, r.UserID, sid); err != nil {
			return "", err
		}
	}
	return r.RedirectURI, nil
}

// RevokeToken ends the client session of a refresh token (tokenOrID is
// then its session ID, see GetRefreshTokenInfo) or of an access token (its
// token ID). Anything else is no error: RFC 7009 2.2.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	sid := tokenOrID
	if !id.Valid(sid) {
		c, err := decodeTokenID(tokenOrID)
		if err != nil {
			return nil
		}
		sid = c.SessionID
	}
	if err := s.d.Tokens.Revoke(ctx, clientID, sid); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo recognises a live refresh token of clientID; its
// token ID is its session's ID.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	g, err := s.d.Tokens.RefreshGrant(ctx, token)
	if err != nil || g.Client.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.User.ID, g.Session.ID, nil
}

// SigningKey signs ID tokens with the client's algorithm: RS256 unless it
// was registered for EdDSA.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	if c := clientFrom(ctx); c != nil && c.c.IDTokenAlg == oauth.AlgEdDSA {
		if k, ok := s.d.EdDSA.SignerAt(s.d.Now()); ok {
			return signingKey{k}, nil
		}
	}
	k, err := s.rsaSigner(ctx)
	if err != nil {
		return nil, err
	}
	return signingKey{k}, nil
}

func (s *storage) rsaSigner(ctx context.Context) (auth.KeySigner, error) {
	if err := s.d.RSA.Ensure(ctx); err != nil {
		return auth.KeySigner{}, fmt.Errorf("oidcop: RSA key: %w", err)
	}
	k, ok := s.d.RSA.SignerAt(s.d.Now())
	if !ok {
		return auth.KeySigner{}, errors.New("oidcop: no RSA signing key")
	}
	return k, nil
}

// SignatureAlgorithms are those of ID tokens, RS256 first.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.EdDSA}, nil
}

// KeySet verifies id_token_hint at logout: every public key of both sets.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.d.RSA.LoadIfEmpty()
	var out []op.Key
	for _, set := range []KeySet{s.d.RSA, s.d.EdDSA} {
		for _, k := range set.PublicKeys() {
			out = append(out, publicKey{k})
		}
	}
	return out, nil
}

// GetClientByClientID finds a registered client.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.d.Clients.Get(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return &client{c: c, loginURL: s.cfg.LoginURL, idTTL: s.cfg.IDTokenTTL}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	_, err := s.d.Clients.Authenticate(ctx, clientID, secret)
	return err
}

// SetUserinfoFromScopes does nothing: the ID token's claims are read from
// the request itself (SetUserinfoFromRequest), which knows the session.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims and sid.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	switch r := req.(type) {
	case *authRequest:
		fillUserinfo(info, r.user, scopes)
		info.AppendClaims("sid", r.sess.ID)
	case *refreshRequest:
		fillUserinfo(info, r.user, scopes)
		info.AppendClaims("sid", r.sess.ID)
	}
	return nil
}

// SetUserinfoFromToken answers userinfo for an access token that
// accessTokens verified: its session must still be live and the client's.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	c, err := decodeTokenID(tokenID)
	if err != nil || c.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("access token invalid")
	}
	g, err := s.d.Tokens.Check(ctx, c.SessionID, c.ClientID, subject)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("access token revoked")
	}
	fillUserinfo(info, g.User, c.scopes())
	return nil
}

// fillUserinfo sets sub and the claims of the granted scopes.
func fillUserinfo(info *oidc.UserInfo, u user.User, scopes []string) {
	info.Subject = u.ID
	if slices.Contains(scopes, oauth.ScopeEmail) {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(u.EmailVerified)
		// The struct field leaves out false; the claim is always there.
		info.AppendClaims("email_verified", u.EmailVerified)
	}
	if slices.Contains(scopes, oauth.ScopeProfile) {
		info.Name = u.Name
	}
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errUnsupported
}

func (s *storage) Health(context.Context) error { return nil }

// signingKey is a Gatehouse key as the library signs with it.
type signingKey struct{ k auth.KeySigner }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.k.Alg)
}
func (k signingKey) Key() any   { return k.k.Key }
func (k signingKey) ID() string { return k.k.KID }

// publicKey is a Gatehouse public key as the library verifies with it.
type publicKey struct{ k auth.PublicKey }

func (k publicKey) ID() string                         { return k.k.KID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Alg) }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.k.Key }

// noKeys is a key set that verifies nothing.
type noKeys struct{}

func (noKeys) VerifySignature(context.Context, *jose.JSONWebSignature) ([]byte, error) {
	return nil, errors.New("oidcop: access tokens are verified by their own check")
}
