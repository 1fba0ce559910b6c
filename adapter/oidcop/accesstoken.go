package oidcop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// Access tokens for clients are RFC 9068 JWTs (typ at+jwt) signed RS256.
//
// The library mints either its own JWTs (typ "JWT", no way to set
// at+jwt) or opaque "bearer" tokens it makes by encrypting
// "tokenID:subject" with a Crypto it lets us supply. Gatehouse supplies
// that Crypto: the token ID CreateAccessToken returns is the base64url
// payload of the JWT (its claims), and "encrypting" signs it; "decrypting"
// verifies signature, typ, iss and exp and gives the payload back as the
// token ID, from which userinfo and revocation read the session. So the
// library still parses every request and decides every answer, and the
// token a client holds is a standard JWT any resource server can verify
// with the JWKS.

// atClaims are the claims of a client's access token.
type atClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	SessionID string   `json:"sid"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
	AuthTime  int64    `json:"auth_time"`
	ACR       string   `json:"acr"`
	AMR       []string `json:"amr"`
}

func (c atClaims) scopes() []string { return strings.Fields(c.Scope) }

// typeAccessToken is the JOSE typ of RFC 9068 tokens.
const typeAccessToken = "at+jwt"

// accessTokenID builds the claims of a new access token and returns them
// encoded as its token ID, with its expiry.
func (s *storage) accessTokenID(clientID string, sess session.Session, _ user.User, scopes []string) (string, time.Time, error) {
	now := s.d.Now().UTC().Truncate(time.Second)
	exp := now.Add(s.cfg.AccessTokenTTL)
	amr := methods(sess.Methods)
	b, err := json.Marshal(atClaims{
		Issuer: s.cfg.Issuer, Subject: sess.UserID, Audience: clientID, ClientID: clientID,
		Scope: strings.Join(scopes, " "), SessionID: sess.ID, ID: id.New(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: exp.Unix(),
		AuthTime: sess.AuthTime.Unix(), ACR: auth.AssuranceOf(amr), AMR: amr,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return base64.RawURLEncoding.EncodeToString(b), exp, nil
}

// decodeTokenID reads the claims a token ID carries. It trusts them only
// because a token ID reaches storage after accessTokens verified it.
func decodeTokenID(tid string) (atClaims, error) {
	b, err := base64.RawURLEncoding.DecodeString(tid)
	if err != nil {
		return atClaims{}, err
	}
	var c atClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return atClaims{}, err
	}
	if !id.Valid(c.SessionID) || c.ClientID == "" || c.Subject == "" {
		return atClaims{}, errors.New("oidcop: not a token ID")
	}
	return c, nil
}

// accessTokens is the library's Crypto (see above).
type accessTokens struct{ st *storage }

var _ op.Crypto = (*accessTokens)(nil)

// Encrypt signs "tokenID:subject" as a JWT whose payload is tokenID.
func (a *accessTokens) Encrypt(s string) (string, error) {
	tid, sub, ok := strings.Cut(s, ":")
	if !ok {
		return "", errors.New("oidcop: token ID without subject")
	}
	c, err := decodeTokenID(tid)
	if err != nil || c.Subject != sub {
		return "", errors.New("oidcop: malformed token ID")
	}
	// The library gives Encrypt no context; making the first key (once per
	// database) is bounded here.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	k, err := a.st.rsaSigner(ctx)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Alg),
		Key:       &jose.JSONWebKey{Key: k.Key, KeyID: k.KID},
	}, (&jose.SignerOptions{}).WithType(typeAccessToken))
	if err != nil {
		return "", fmt.Errorf("oidcop: signer: %w", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(tid)
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidcop: sign access token: %w", err)
	}
	return jws.CompactSerialize()
}

// Decrypt verifies an access token and returns "tokenID:subject".
func (a *accessTokens) Decrypt(token string) (string, error) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return "", errors.New("oidcop: not an access token")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, typeAccessToken) && !strings.EqualFold(typ, "application/"+typeAccessToken) {
		return "", errors.New("oidcop: typ is not at+jwt")
	}
	k, ok := a.st.d.RSA.PublicKeyByKID(h.KeyID)
	if !ok || k.Alg != h.Algorithm {
		return "", errors.New("oidcop: unknown kid")
	}
	payload, err := jws.Verify(k.Key)
	if err != nil {
		return "", errors.New("oidcop: bad signature")
	}
	var c atClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errors.New("oidcop: malformed claims")
	}
	now := a.st.d.Now()
	if c.Issuer != a.st.cfg.Issuer || !now.Before(time.Unix(c.ExpiresAt, 0)) || c.Subject == "" {
		return "", errors.New("oidcop: access token expired or not ours")
	}
	return base64.RawURLEncoding.EncodeToString(payload) + ":" + c.Subject, nil
}
