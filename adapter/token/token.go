// Package token issues and verifies Gatehouse access tokens: compact JWS
// JWTs (RFC 7519, profiled by RFC 9068) signed with an asymmetric key, and
// publishes the public keys as a JWK Set (RFC 7517). It is the only package
// that knows jwx.
//
// Verification runs on every request, so it is written as a short, pinned
// path: the compact form is split by hand, the header must name one of our
// kids with that key's algorithm, the signature is checked with a verifier
// chosen at construction, and only then are the claims decoded. Nothing in
// the token can pick the algorithm or the key.
package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
)

const (
	// MaxTokenSize is the largest token Verify will look at, in bytes.
	// Ours are well under 1 KiB; the bound keeps garbage cheap to refuse.
	MaxTokenSize = 8 << 10

	// typeAccessToken is the JOSE "typ" of RFC 9068 access tokens.
	typeAccessToken = "at+jwt"
	// typeAccessTokenFull is the same media type with its "application/"
	// prefix, which RFC 7515 section 4.1.9 allows senders to keep.
	typeAccessTokenFull = "application/at+jwt"
)

// KeyStore persists signing keys so every instance on one database shares
// them. It is implemented by the persistence adapter.
type KeyStore interface {
	// EnsureSigningKey stores candidate if the store holds no signing key
	// yet and returns the stored keys, the one to sign with first. It is
	// idempotent and safe when several instances start at once: exactly one
	// candidate wins and every caller gets the same keys back.
	EnsureSigningKey(ctx context.Context, candidate auth.SigningKey) ([]auth.SigningKey, error)
}

// RotatingKeyStore is a KeyStore that can also hold several generations of
// keys, for rotation. The persistence adapter implements it; a store that
// does not gets a fixed key set.
type RotatingKeyStore interface {
	KeyStore
	// SigningKeys returns every stored key.
	SigningKeys(ctx context.Context) ([]auth.SigningKey, error)
	// InsertSigningKey stores k unless a key of its Generation exists, and
	// reports whether it was stored.
	InsertSigningKey(ctx context.Context, k auth.SigningKey) (bool, error)
	// DeleteSigningKeys removes keys by kid.
	DeleteSigningKeys(ctx context.Context, kids []string) error
}

// ErrKeysFromFile means a rotation was asked of keys that come from
// JWT_PRIVATE_KEY_FILE, which only the operator can change.
// It wraps auth.ErrForbidden, so the API answers 403.
var ErrKeysFromFile = fmt.Errorf("%w: signing keys come from JWT_PRIVATE_KEY_FILE; rotate them by editing it", auth.ErrForbidden)

// unknownKIDReload is the shortest time between two reloads caused by
// tokens naming a kid this instance does not know, so garbage kids cannot
// turn into database load.
const unknownKIDReload = 10 * time.Second

// Config configures a Service.
type Config struct {
	// Issuer is the "iss" of issued tokens and the only one accepted.
	Issuer string
	// Audience is the "aud" of issued tokens and the only one accepted.
	Audience string
	// TTL is the access-token lifetime; Issue uses it when the claims
	// carry no expiry.
	TTL time.Duration
	// Leeway is the clock skew tolerated when checking exp, nbf, iat and
	// auth_time. Zero means none.
	Leeway time.Duration
	// PrivateKeyFile, when set, names a PEM file of one or more PKCS #8
	// private keys (Ed25519, or ECDSA P-256). The first signs; all verify.
	// When empty, the key comes from the KeyStore.
	PrivateKeyFile string
	// PublishAhead is how long a new database-managed key is published
	// before it signs (JWT_KEY_PUBLISH_AHEAD).
	PublishAhead time.Duration
	// ReloadInterval is how often the key set is re-read from the store
	// (JWT_KEY_RELOAD_INTERVAL); it bounds how late an instance learns of a
	// new key, and so the JWKS cache lifetime.
	ReloadInterval time.Duration
	// RotationInterval is how long each database-managed key signs before
	// the next one takes over (JWT_KEY_ROTATION_INTERVAL); zero turns
	// automatic rotation off.
	RotationInterval time.Duration
	// Algorithm is that of generated keys: empty for Ed25519 (EdDSA), the
	// app's; AlgRS256 for the OpenID provider's ID tokens. Only an RS256
	// service accepts RSA keys.
	Algorithm string
	// Lazy leaves a database-managed set empty until Ensure is called, so
	// a key nobody needs yet (RSA, slow to generate) is not made at start.
	Lazy bool
}

// AlgRS256 is Config.Algorithm for RSA keys.
const AlgRS256 = "RS256"

func (c Config) validate() error {
	switch {
	case c.Issuer == "":
		return errors.New("issuer is empty")
	case c.Audience == "":
		return errors.New("audience is empty")
	case c.TTL <= 0:
		return fmt.Errorf("TTL %s is not positive", c.TTL)
	case c.Leeway < 0:
		return fmt.Errorf("leeway %s is negative", c.Leeway)
	}
	return nil
}

// Service signs and verifies access tokens. It is safe for concurrent use;
// with a RotatingKeyStore its key set is replaced atomically on reload.
type Service struct {
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	cfg      Config
	keys     atomic.Pointer[keySet]
	// store is nil for keys from a file or from a store that cannot rotate.
	store      RotatingKeyStore
	reloadMu   sync.Mutex
	lastReload atomic.Int64 // Unix nanoseconds of the last reload
	lastEmpty  atomic.Int64 // Unix nanoseconds of LoadIfEmpty's last look
	// b64 decodes token segments: unpadded base64url that also refuses
	// non-zero trailing bits, so each token has exactly one spelling.
	b64 *base64.Encoding
	// verified remembers tokens whose signature held.
	verified *verifiedCache
}

// current is the key set in force.
func (s *Service) current() *keySet { return s.keys.Load() }

// retention is how long a retired key's tokens can still verify.
func (s *Service) retention() time.Duration { return s.ttl + s.leeway }

// NewService loads the signing keys and precomputes everything Verify and
// JWKS need. Keys come from cfg.PrivateKeyFile when it is set (store is then
// not used); otherwise a fresh Ed25519 key is offered to store, and the keys
// it returns are used. now is the clock Verify checks times against; nil
// means time.Now.
func NewService(ctx context.Context, cfg Config, store KeyStore, now func() time.Time) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("token: config: %w", err)
	}
	if now == nil {
		now = time.Now
	}

	svc := &Service{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		leeway:   cfg.Leeway,
		now:      now,
		cfg:      cfg,
		b64:      base64.RawURLEncoding.Strict(),
		verified: newVerifiedCache(),
	}
	if rs, ok := store.(RotatingKeyStore); ok && cfg.PrivateKeyFile == "" {
		svc.store = rs
		if !cfg.Lazy {
			if _, err := rs.EnsureSigningKey(ctx, mustCandidate(now(), cfg.Algorithm)); err != nil {
				return nil, fmt.Errorf("token: key store: ensure signing key: %w", err)
			}
		}
		if err := svc.Reload(ctx); err != nil {
			return nil, err
		}
		return svc, nil
	}

	var (
		privs  []crypto.Signer
		source string // names where the keys came from, for error messages
	)
	switch {
	case cfg.PrivateKeyFile != "":
		source = "private key file " + cfg.PrivateKeyFile
		data, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		privs, err = parsePEMKeys(data)
		if err != nil {
			return nil, fmt.Errorf("token: %s: %w", source, err)
		}
	case store != nil:
		source = "key store"
		var err error
		privs, err = keysFromStore(ctx, store, now())
		if err != nil {
			return nil, fmt.Errorf("token: %s: %w", source, err)
		}
	default:
		return nil, errors.New("token: no signing key: set a private key file or provide a key store")
	}

	for i, p := range privs {
		if _, isRSA := p.(*rsa.PrivateKey); isRSA != (cfg.Algorithm == AlgRS256) {
			return nil, fmt.Errorf("token: %s: key %d: use Ed25519 or ECDSA P-256 for access tokens (RSA keys sign only the OpenID provider's ID tokens)", source, i+1)
		}
	}
	keys, err := newKeySet(privs)
	if err != nil {
		return nil, fmt.Errorf("token: %s: %w", source, err)
	}
	svc.keys.Store(keys)
	return svc, nil
}

// TTL returns the configured access-token lifetime.
func (s *Service) TTL() time.Duration { return s.ttl }

// JWKS returns the RFC 7517 JWK Set of the public keys, as JSON: kty, crv,
// x (and y for P-256), kid, alg and use "sig". It never holds private
// material. The set is encoded once at construction; each call returns a
// fresh copy the caller may keep or modify.
func (s *Service) JWKS() []byte { return bytes.Clone(s.current().publishedJWKS(s.now())) }

// Issue signs c as an access token with the first key. iss and aud come
// from the configuration. Times are taken from c as given (the caller's
// clock) and truncated to whole seconds; IssuedAt and AuthTime are
// required, a zero ExpiresAt means IssuedAt+TTL and a zero NotBefore means
// IssuedAt. An empty ID gets a new random jti.
func (s *Service) Issue(c auth.Claims) (string, error) {
	switch {
	case c.Subject == "":
		return "", errors.New("token: issue: subject is empty")
	case c.SessionID == "":
		return "", errors.New("token: issue: session ID is empty")
	case c.IssuedAt.IsZero():
		return "", errors.New("token: issue: issued-at is zero")
	case c.AuthTime.IsZero():
		return "", errors.New("token: issue: auth time is zero")
	}
	exp := c.ExpiresAt
	if exp.IsZero() {
		exp = c.IssuedAt.Add(s.ttl)
	}
	if !exp.After(c.IssuedAt) {
		return "", errors.New("token: issue: expiry is not after issued-at")
	}
	nbf := c.NotBefore
	if nbf.IsZero() {
		nbf = c.IssuedAt
	}
	jti := c.ID
	if jti == "" {
		jti = id.New()
	}

	aal := c.AAL
	if aal == "" {
		aal = auth.AssuranceOf(c.Methods)
	}
	payload, err := json.Marshal(issuedClaims{
		Issuer:      s.issuer,
		Subject:     c.Subject,
		Audience:    s.audience,
		SessionID:   c.SessionID,
		ID:          jti,
		IssuedAt:    c.IssuedAt.Unix(),
		NotBefore:   nbf.Unix(),
		ExpiresAt:   exp.Unix(),
		AuthTime:    c.AuthTime.Unix(),
		Fresh:       c.Fresh,
		Methods:     c.Methods,
		AAL:         aal,
		Roles:       c.Roles,
		IdP:         c.IdP,
		AppMetadata: c.AppMetadata,
	})
	if err != nil {
		return "", fmt.Errorf("token: issue: encode claims: %w", err)
	}

	k := s.current().signingAt(c.IssuedAt)
	enc := base64.RawURLEncoding
	// Room for the signature too (64 bytes for both EdDSA and ES256), so
	// the buffer is allocated once.
	buf := make([]byte, 0, len(k.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(64))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.signer.Sign(buf, k.private)
	if err != nil {
		return "", fmt.Errorf("token: issue: sign: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}
