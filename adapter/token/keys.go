package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// pemTypePKCS8 is the PEM block type of an unencrypted PKCS #8 private key.
const pemTypePKCS8 = "PRIVATE KEY"

// key is one parsed signing key with everything the hot paths need,
// computed once: the JWS "kid" and "alg", the jwx signer and verifier for
// that algorithm, and the protected header Issue writes.
type key struct {
	kid string
	alg jwa.SignatureAlgorithm
	// private signs; only the first key of a keySet is used for that.
	private crypto.Signer
	// public is ed25519.PublicKey or *ecdsa.PublicKey, boxed in an
	// interface once here so Verify does not box it on every call.
	public   any
	signer   jws.Signer
	verifier jws.Verifier
	// header is the base64url-encoded protected header of tokens signed
	// with this key.
	header string
	// jwk is the public half as a JWK with kid, alg and use set.
	jwk jwk.Key
}

// keySet is the immutable set of keys a Service signs and verifies with
// (only its JWKS cache changes).
type keySet struct {
	// signing is the key of a fixed set (a key file), or for a stored set
	// the key active when it was loaded.
	signing *key
	byKID   map[string]*key
	jwks    []byte
	// stored is set for database-managed keys: which key signs and which
	// are published then depend on the time.
	stored    []auth.SigningKey // by ActivatesAt, private material removed
	retention time.Duration

	mu        sync.Mutex
	jwksUntil time.Time
}

// signingAt is the key that signs a token issued at t: for a stored set the
// last one activated by t.
func (ks *keySet) signingAt(t time.Time) *key {
	if ks.stored == nil {
		return ks.signing
	}
	k := ks.byKID[ks.stored[0].ID]
	for _, sk := range ks.stored[1:] {
		if sk.ActivatesAt.After(t) {
			break
		}
		k = ks.byKID[sk.ID]
	}
	return k
}

// publishedJWKS is the JWK Set at now: for a stored set, the next, active
// and recently retired keys. It is re-encoded only when a retired key
// leaves it.
func (ks *keySet) publishedJWKS(now time.Time) []byte {
	if ks.stored == nil {
		return ks.jwks
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.jwks != nil && now.Before(ks.jwksUntil) {
		return ks.jwks
	}
	set := jwk.NewSet()
	until := now.Add(24 * time.Hour)
	for _, st := range auth.Schedule(ks.stored, now, ks.retention) {
		if !st.Published {
			continue
		}
		// The set changes when a retired key leaves it, and a next key's
		// activation schedules such a departure: recompute at either.
		for _, at := range []time.Time{st.UnpublishAt, st.Key.ActivatesAt} {
			if at.After(now) && at.Before(until) {
				until = at
			}
		}
		_ = set.AddKey(ks.byKID[st.Key.ID].jwk)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		// Cannot happen for keys that encoded at load; serve the last set.
		return ks.jwks
	}
	ks.jwks, ks.jwksUntil = doc, until
	return doc
}

// newStoredKeySet builds the key set of database-managed keys.
func newStoredKeySet(stored []auth.SigningKey, now time.Time, retention time.Duration) (*keySet, error) {
	if len(stored) == 0 {
		return nil, errors.New("key store holds no signing key")
	}
	ks := &keySet{byKID: make(map[string]*key, len(stored)), retention: retention}
	for _, sk := range stored {
		k, err := parseStored(sk)
		if err != nil {
			return nil, err
		}
		ks.byKID[k.kid] = k
		meta := sk
		meta.PrivateKeyPEM = nil
		ks.stored = append(ks.stored, meta)
	}
	sort.SliceStable(ks.stored, func(i, j int) bool {
		a, b := ks.stored[i], ks.stored[j]
		if !a.ActivatesAt.Equal(b.ActivatesAt) {
			return a.ActivatesAt.Before(b.ActivatesAt)
		}
		if a.Generation != b.Generation {
			return a.Generation < b.Generation
		}
		return a.ID < b.ID
	})
	ks.signing = ks.signingAt(now)
	return ks, nil
}

// parseStored parses one stored key and checks it against its row.
func parseStored(sk auth.SigningKey) (*key, error) {
	privs, err := parsePEMKeys(sk.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("stored key %q: %w", sk.ID, err)
	}
	if len(privs) != 1 {
		return nil, fmt.Errorf("stored key %q: holds %d keys, want 1", sk.ID, len(privs))
	}
	k, err := newKey(privs[0])
	if err != nil {
		return nil, fmt.Errorf("stored key %q: %w", sk.ID, err)
	}
	// The stored ID is what other services may have cached as kid; a
	// mismatch means the row was edited or corrupted, so refuse it rather
	// than publish a kid nobody expects.
	if sk.ID != k.kid || sk.Algorithm != k.alg.String() {
		return nil, fmt.Errorf("stored key %q (%s) does not match its key material (kid %s, %s)", sk.ID, sk.Algorithm, k.kid, k.alg)
	}
	return k, nil
}

// mustCandidate is newCandidate for callers that report a failure of the
// system's random source as the store's error would be: it cannot happen.
func mustCandidate(now time.Time, alg string) auth.SigningKey {
	c, err := newCandidate(now, alg)
	if err != nil {
		panic(err)
	}
	return c
}

// newKey derives everything a key needs from its private half. Only
// Ed25519 (EdDSA) and ECDSA P-256 (ES256) are accepted: these are the
// algorithms the verifier pins, and both have fixed-size signatures.
func newKey(priv crypto.Signer) (*key, error) {
	var (
		alg jwa.SignatureAlgorithm
		pub any
	)
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("ed25519 private key has %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
		alg = jwa.EdDSA
		pub = k.Public().(ed25519.PublicKey)
	case *rsa.PrivateKey:
		// RS256 signs the OpenID provider's ID tokens (OIDC's mandatory
		// algorithm); Service refuses it for the app's access tokens.
		if k.N == nil || k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key must have at least %d bits", minRSABits)
		}
		alg = jwa.RS256
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		if k.Curve == nil || k.Curve.Params().Name != "P-256" {
			name := "unknown"
			if k.Curve != nil {
				name = k.Curve.Params().Name
			}
			return nil, fmt.Errorf("ECDSA key on curve %s is not supported: use Ed25519 or ECDSA P-256", name)
		}
		alg = jwa.ES256
		pub = &k.PublicKey
	default:
		return nil, fmt.Errorf("private key of type %T is not supported: use Ed25519 or ECDSA P-256", priv)
	}

	pubJWK, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("public key to JWK: %w", err)
	}
	// RFC 7638 thumbprint of the public key as the kid: stable across
	// restarts and instances, and derivable by anyone holding the JWKS.
	tp, err := pubJWK.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("JWK thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for name, v := range map[string]any{
		jwk.KeyIDKey:     kid,
		jwk.AlgorithmKey: alg,
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := pubJWK.Set(name, v); err != nil {
			return nil, fmt.Errorf("set JWK %q: %w", name, err)
		}
	}

	signer, err := jws.NewSigner(alg)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %w", alg, err)
	}
	verifier, err := jws.NewVerifier(alg)
	if err != nil {
		return nil, fmt.Errorf("verifier for %s: %w", alg, err)
	}
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{Alg: alg.String(), Kid: kid, Typ: typeAccessToken})
	if err != nil {
		return nil, fmt.Errorf("encode JOSE header: %w", err)
	}

	return &key{
		kid:      kid,
		alg:      alg,
		private:  priv,
		public:   pub,
		signer:   signer,
		verifier: verifier,
		header:   base64.RawURLEncoding.EncodeToString(hdr),
		jwk:      pubJWK,
	}, nil
}

// newKeySet builds the key set from private keys, the first of which signs.
func newKeySet(privs []crypto.Signer) (*keySet, error) {
	if len(privs) == 0 {
		return nil, errors.New("no signing key")
	}
	ks := &keySet{byKID: make(map[string]*key, len(privs))}
	set := jwk.NewSet()
	for i, p := range privs {
		k, err := newKey(p)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if _, dup := ks.byKID[k.kid]; dup {
			return nil, fmt.Errorf("key %d: duplicate of an earlier key (kid %s)", i+1, k.kid)
		}
		ks.byKID[k.kid] = k
		if i == 0 {
			ks.signing = k
		}
		if err := set.AddKey(k.jwk); err != nil {
			return nil, fmt.Errorf("key %d: add to JWK set: %w", i+1, err)
		}
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode JWK set: %w", err)
	}
	ks.jwks = jwks
	return ks, nil
}

// parsePEMKeys reads every PKCS #8 private key in data, in file order.
// Anything else is refused with a message that says what to do, rather
// than skipped: a silently ignored key would sign nothing and verify
// nothing, and nobody would notice until tokens failed elsewhere.
func parsePEMKeys(data []byte) ([]crypto.Signer, error) {
	var out []crypto.Signer
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemTypePKCS8 {
			return nil, fmt.Errorf("PEM block %d is %q, want an unencrypted PKCS #8 %q block (convert with: openssl pkcs8 -topk8 -nocrypt)", n, block.Type, pemTypePKCS8)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block %d has headers (encrypted?); want an unencrypted PKCS #8 key", n)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		signer, ok := parsed.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PEM block %d: private key of type %T cannot sign", n, parsed)
		}
		out = append(out, signer)
	}
	// pem.Decode stops at the first block it cannot read and skips
	// nothing after it, so a damaged second key would otherwise vanish.
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, errors.New("malformed PEM block")
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM private key found")
	}
	return out, nil
}

// minRSABits is the smallest RSA modulus accepted, and the size generated.
const minRSABits = 2048

// newCandidate generates a fresh key in the form a KeyStore keeps: Ed25519,
// or RSA for alg RS256.
func newCandidate(createdAt time.Time, alg string) (auth.SigningKey, error) {
	var priv crypto.Signer
	var err error
	if alg == AlgRS256 {
		priv, err = rsa.GenerateKey(rand.Reader, minRSABits)
	} else {
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("encode PKCS #8: %w", err)
	}
	k, err := newKey(priv)
	if err != nil {
		return auth.SigningKey{}, err
	}
	return auth.SigningKey{
		ID:            k.kid,
		Algorithm:     k.alg.String(),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: pemTypePKCS8, Bytes: der}),
		CreatedAt:     createdAt,
	}, nil
}

// keysFromStore offers a new candidate to the store and parses what it
// holds. Every instance generates its own candidate, but the store keeps
// only the first, so instances on one database converge on one key.
func keysFromStore(ctx context.Context, store KeyStore, now time.Time) ([]crypto.Signer, error) {
	candidate, err := newCandidate(now, "")
	if err != nil {
		return nil, err
	}
	stored, err := store.EnsureSigningKey(ctx, candidate)
	if err != nil {
		return nil, fmt.Errorf("ensure signing key: %w", err)
	}
	if len(stored) == 0 {
		return nil, errors.New("key store returned no signing key")
	}
	out := make([]crypto.Signer, 0, len(stored))
	for _, sk := range stored {
		k, err := parseStored(sk)
		if err != nil {
			return nil, err
		}
		out = append(out, k.private)
	}
	return out, nil
}
