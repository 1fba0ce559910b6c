package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// memStore is an in-memory KeyStore with the persistence adapter's
// semantics: the first candidate wins, every caller gets the stored keys.
type memStore struct {
	mu    sync.Mutex
	keys  []auth.SigningKey
	calls int
	err   error
}

var _ KeyStore = (*memStore)(nil)

func (m *memStore) EnsureSigningKey(_ context.Context, candidate auth.SigningKey) ([]auth.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	if len(m.keys) == 0 {
		m.keys = append(m.keys, candidate)
	}
	return append([]auth.SigningKey(nil), m.keys...), nil
}

func (m *memStore) snapshot() []auth.SigningKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]auth.SigningKey(nil), m.keys...)
}

// storeFunc adapts a function to KeyStore.
type storeFunc func(context.Context, auth.SigningKey) ([]auth.SigningKey, error)

func (f storeFunc) EnsureSigningKey(ctx context.Context, c auth.SigningKey) ([]auth.SigningKey, error) {
	return f(ctx, c)
}

// testNow is the fixed "now" of the tests.
func testNow() time.Time { return time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC) }

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func testConfig() Config {
	return Config{Issuer: "gatehouse", Audience: "gatehouse-api", TTL: 15 * time.Minute}
}

func newStoreService(t testing.TB, cfg Config, store KeyStore, now time.Time) *Service {
	t.Helper()
	s, err := NewService(context.Background(), cfg, store, fixedClock(now))
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return s
}

func sampleClaims(now time.Time) auth.Claims {
	return auth.Claims{
		Subject:   "2b1e5f0a-6c1d-4b8e-9f3a-1d2c3b4a5e6f",
		SessionID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		ID:        "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10",
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now.Add(15 * time.Minute),
		AuthTime:  now.Add(-time.Minute),
		Fresh:     true,
		Methods:   []string{auth.MethodPassword},
		AAL:       auth.AAL1,
		Roles:     []string{"user", "admin"},
	}
}

// wireClaims is sampleClaims as a JSON object, for forging tokens.
func wireClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":       "gatehouse",
		"aud":       "gatehouse-api",
		"sub":       "2b1e5f0a-6c1d-4b8e-9f3a-1d2c3b4a5e6f",
		"sid":       "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		"jti":       "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10",
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(15 * time.Minute).Unix(),
		"auth_time": now.Add(-time.Minute).Unix(),
		"fresh":     true,
		"amr":       []string{"pwd"},
		"roles":     []string{"user"},
	}
}

func b64json(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge builds a compact JWS from header and claims, signed with alg and
// key through jwx's own signer; alg "none" gets an empty signature.
func forge(t testing.TB, alg jwa.SignatureAlgorithm, signKey any, header, claims map[string]any) string {
	t.Helper()
	input := b64json(t, header) + "." + b64json(t, claims)
	if alg == jwa.NoSignature {
		return input + "."
	}
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), signKey)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ourHeader is the header Issue writes for s's signing key.
func ourHeader(s *Service) map[string]any {
	return map[string]any{"alg": string(s.current().signing.alg), "kid": s.current().signing.kid, "typ": "at+jwt"}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func pemPKCS8(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signRaw appends a valid signature by s's signing key to a signing input.
func signRaw(t testing.TB, s *Service, input string) string {
	t.Helper()
	sig, err := s.current().signing.signer.Sign([]byte(input), s.current().signing.private)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
