package fakes

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

var (
	_ authn.TokenIssuer   = (*Tokens)(nil)
	_ authn.TokenVerifier = (*Tokens)(nil)
)

// Tokens issues and verifies access tokens of the form
// "fake.<base64url JSON claims>.<base64url HMAC-SHA256>": reversible, so
// tests can read the claims, yet tamper-evident.
type Tokens struct {
	clock interface{ Now() time.Time }
	key   []byte

	mu  sync.Mutex
	ttl time.Duration
}

// NewTokens returns an issuer and verifier with lifetime ttl that checks
// expiry against clock.
func NewTokens(clock interface{ Now() time.Time }, ttl time.Duration) *Tokens {
	return &Tokens{clock: clock, ttl: ttl, key: []byte("fake signing key")}
}

// SetTTL changes the lifetime the issuer reports.
func (t *Tokens) SetTTL(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ttl = d
}

// TTL implements authn.TokenIssuer.
func (t *Tokens) TTL() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ttl
}

func (t *Tokens) sign(payload string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Issue implements authn.TokenIssuer.
func (t *Tokens) Issue(c auth.Claims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return "fake." + payload + "." + t.sign(payload), nil
}

// Decode checks the signature of raw and returns its claims, ignoring time.
func (t *Tokens) Decode(raw string) (auth.Claims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] != "fake" {
		return auth.Claims{}, auth.ErrTokenInvalid
	}
	if !hmac.Equal([]byte(parts[2]), []byte(t.sign(parts[1]))) {
		return auth.Claims{}, auth.ErrTokenInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return auth.Claims{}, auth.ErrTokenInvalid
	}
	var c auth.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return auth.Claims{}, auth.ErrTokenInvalid
	}
	return c, nil
}

// Verify implements authn.TokenVerifier: a bad signature or shape is
// ErrTokenInvalid, a token at or past its expiry ErrTokenExpired.
func (t *Tokens) Verify(raw string) (auth.Claims, error) {
	c, err := t.Decode(raw)
	if err != nil {
		return auth.Claims{}, err
	}
	now := t.clock.Now()
	if now.Before(c.NotBefore) {
		return auth.Claims{}, auth.ErrTokenInvalid
	}
	if !now.Before(c.ExpiresAt) {
		return auth.Claims{}, auth.ErrTokenExpired
	}
	return c, nil
}

// NewCodec returns a refresh-token codec under a fixed test key.
func NewCodec() *session.RefreshCodec {
	c, err := session.NewRefreshCodec(bytes.Repeat([]byte{0x42}, session.RefreshKeyBytes))
	if err != nil {
		panic(err)
	}
	return c
}
