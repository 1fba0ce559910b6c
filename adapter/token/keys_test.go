package token

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/domain/auth"
)

func TestThumbprintMatchesRFC8037(t *testing.T) {
	// RFC 8037 appendix A.1 (key) and A.3 (its RFC 7638 thumbprint).
	seed, err := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	if err != nil {
		t.Fatal(err)
	}
	k, err := newKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; k.kid != want {
		t.Fatalf("kid %s, want %s", k.kid, want)
	}
}

func TestServiceFromPEMFile(t *testing.T) {
	now := testNow()
	ed := newEd25519(t)
	ec := newECDSA(t, elliptic.P256())

	// Two files holding the same two keys in opposite order: each signs
	// with its first key and verifies with both.
	edFirst, err := NewService(context.Background(),
		withFile(testConfig(), writeFile(t, append(pemPKCS8(t, ed), pemPKCS8(t, ec)...))), nil, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	ecFirst, err := NewService(context.Background(),
		withFile(testConfig(), writeFile(t, append(pemPKCS8(t, ec), pemPKCS8(t, ed)...))), &memStore{}, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	if edFirst.current().signing.alg != jwa.EdDSA || ecFirst.current().signing.alg != jwa.ES256 {
		t.Fatalf("signing algs %s and %s", edFirst.current().signing.alg, ecFirst.current().signing.alg)
	}
	for _, pair := range [][2]*Service{{edFirst, ecFirst}, {ecFirst, edFirst}, {edFirst, edFirst}, {ecFirst, ecFirst}} {
		raw, err := pair[0].Issue(sampleClaims(now))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pair[1].Verify(raw); err != nil {
			t.Fatalf("%s token: %v", pair[0].current().signing.alg, err)
		}
	}

	// A file holding only the Ed25519 key refuses ES256 tokens, even though
	// the EdDSA key's kid is known.
	edOnly, err := NewService(context.Background(), withFile(testConfig(), writeFile(t, pemPKCS8(t, ed))), nil, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ecFirst.Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edOnly.Verify(raw); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("ES256 token accepted by an EdDSA-only service: %v", err)
	}
}

func withFile(c Config, path string) Config {
	c.PrivateKeyFile = path
	return c
}

func TestPEMFileErrors(t *testing.T) {
	ed := newEd25519(t)
	p384 := newECDSA(t, elliptic.P384())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(newECDSA(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	edPEM := pemPKCS8(t, ed)
	broken := strings.Replace(string(pemPKCS8(t, newEd25519(t))), "MC4CAQAw", "MC4C!!!w", 1)

	cases := map[string][]byte{
		"empty file":            nil,
		"no PEM":                []byte("just some text\n"),
		"RSA key":               pemPKCS8(t, rsaKey),
		"P-384 key":             pemPKCS8(t, p384),
		"SEC1 EC key":           pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"public key only":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
		"PKCS8 block garbage":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"duplicate key":         append(append([]byte{}, edPEM...), edPEM...),
		"damaged second block":  append(append([]byte{}, edPEM...), broken...),
		"PEM headers encrypted": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := NewService(context.Background(), withFile(testConfig(), writeFile(t, data)), &memStore{}, fixedClock(testNow()))
			if err == nil {
				t.Fatalf("NewService succeeded with kid %s", s.current().signing.kid)
			}
			t.Log(err)
		})
	}
}

func TestJWKS(t *testing.T) {
	now := testNow()
	ed := newEd25519(t)
	ec := newECDSA(t, elliptic.P256())
	s, err := NewService(context.Background(),
		withFile(testConfig(), writeFile(t, append(pemPKCS8(t, ed), pemPKCS8(t, ec)...))), nil, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	raw := s.JWKS()

	// The raw JSON: exactly the public members, no private ones.
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, raw)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2:\n%s", len(doc.Keys), raw)
	}
	wantMembers := []map[string]any{
		{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"},
		{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig"},
	}
	for i, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d has private member %q", i, private)
			}
		}
		for name, want := range wantMembers[i] {
			if k[name] != want {
				t.Errorf("key %d: %s = %v, want %v", i, name, k[name], want)
			}
		}
		if k["kid"] == "" || k["x"] == nil {
			t.Errorf("key %d lacks kid or x: %v", i, k)
		}
	}
	if strings.Contains(string(raw), `"d"`) {
		t.Errorf("JWKS mentions \"d\":\n%s", raw)
	}

	// Through jwx: a jwk.Set of public keys whose kids and material match.
	set, err := jwk.Parse(raw)
	if err != nil {
		t.Fatalf("jwk.Parse: %v", err)
	}
	if set.Len() != 2 {
		t.Fatalf("set has %d keys", set.Len())
	}
	for i, priv := range []crypto.Signer{ed, ec} {
		k, _ := set.Key(i)
		if isPriv, err := jwk.IsPrivateKey(k); err != nil || isPriv {
			t.Errorf("key %d: private=%v err=%v", i, isPriv, err)
		}
		var pub any
		if err := k.Raw(&pub); err != nil {
			t.Fatal(err)
		}
		if !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Errorf("key %d: public key does not match", i)
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if kid := base64.RawURLEncoding.EncodeToString(tp); k.KeyID() != kid {
			t.Errorf("key %d: kid %s is not its thumbprint %s", i, k.KeyID(), kid)
		}
	}

	// JWKS hands out a copy: scribbling on it changes nothing.
	raw[0] = 'X'
	if s.JWKS()[0] != '{' {
		t.Error("JWKS returned shared memory")
	}
}

// TestThirdPartyVerification checks what other services rely on: a
// generic JWT library holding only the JWKS verifies our tokens.
func TestThirdPartyVerification(t *testing.T) {
	now := testNow()
	ec := newECDSA(t, elliptic.P256())
	for _, svc := range []struct {
		name string
		s    *Service
	}{
		{"store EdDSA", newStoreService(t, testConfig(), &memStore{}, now)},
		{"file ES256", func() *Service {
			s, err := NewService(context.Background(), withFile(testConfig(), writeFile(t, pemPKCS8(t, ec))), nil, fixedClock(now))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}()},
	} {
		t.Run(svc.name, func(t *testing.T) {
			set, err := jwk.Parse(svc.s.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			raw, err := svc.s.Issue(sampleClaims(now))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.ParseString(raw,
				jwt.WithKeySet(set),
				jwt.WithValidate(true),
				jwt.WithIssuer("gatehouse"),
				jwt.WithAudience("gatehouse-api"),
				jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
			)
			if err != nil {
				t.Fatalf("jwx rejected our token: %v", err)
			}
			if tok.Subject() != sampleClaims(now).Subject || tok.PrivateClaims()["sid"] != sampleClaims(now).SessionID {
				t.Errorf("claims via jwx: sub=%s private=%v", tok.Subject(), tok.PrivateClaims())
			}
		})
	}
}

func TestCandidateIsStorable(t *testing.T) {
	sk, err := newCandidate(testNow(), "")
	if err != nil {
		t.Fatal(err)
	}
	privs, err := parsePEMKeys(sk.PrivateKeyPEM)
	if err != nil || len(privs) != 1 {
		t.Fatalf("candidate PEM: %d keys, %v", len(privs), err)
	}
	if _, ok := privs[0].(ed25519.PrivateKey); !ok {
		t.Fatalf("candidate is %T", privs[0])
	}
	k, err := newKey(privs[0])
	if err != nil {
		t.Fatal(err)
	}
	if sk.ID != k.kid || sk.Algorithm != "EdDSA" || !sk.CreatedAt.Equal(testNow()) {
		t.Fatalf("candidate %+v, kid %s", sk, k.kid)
	}
}
