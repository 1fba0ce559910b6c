package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testSigner makes tokens shaped like the service's.
type testSigner struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTestSigner(t *testing.T) *testSigner {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{kid: "test-kid", priv: priv}
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *testSigner) sign(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	input := b64json(t, header) + "." + b64json(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.priv, []byte(input)))
}

func (s *testSigner) jwks() []byte {
	pub := s.priv.Public().(ed25519.PublicKey)
	return fmt.Appendf(nil, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":%q,"alg":"EdDSA","use":"sig","x":%q}]}`,
		s.kid, base64.RawURLEncoding.EncodeToString(pub))
}

func (s *testSigner) header() map[string]any {
	return map[string]any{"alg": "EdDSA", "kid": s.kid, "typ": "at+jwt"}
}

func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": "gatehouse", "aud": "gatehouse", "sub": "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33",
		"sid": "5b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", "jti": "j", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(15 * time.Minute).Unix(), "auth_time": now.Unix(), "fresh": true,
		"amr": []string{"pwd"}, "roles": []string{"user"},
	}
}

func newTestVerifier(t *testing.T, jwks []byte, now time.Time) *jwtVerifier {
	t.Helper()
	keys, err := parseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	return &jwtVerifier{keys: keys, issuer: "gatehouse", audience: "gatehouse", now: func() time.Time { return now }}
}

func TestVerifyAcceptsServiceShapedToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newTestSigner(t)
	v := newTestVerifier(t, s.jwks(), now)
	c, err := v.verify(s.sign(t, s.header(), validClaims(now)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Subject != "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33" || c.SessionID == "" {
		t.Errorf("claims = %+v", c)
	}
	// aud as an array naming us is fine too.
	claims := validClaims(now)
	claims["aud"] = []string{"other", "gatehouse"}
	if _, err := v.verify(s.sign(t, s.header(), claims)); err != nil {
		t.Errorf("aud array: %v", err)
	}
	h := s.header()
	h["typ"] = "application/at+jwt"
	if _, err := v.verify(s.sign(t, h, validClaims(now))); err != nil {
		t.Errorf("typ application/at+jwt: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newTestSigner(t)
	other := newTestSigner(t)
	v := newTestVerifier(t, s.jwks(), now)
	good := s.sign(t, s.header(), validClaims(now))

	with := func(k string, val any) string {
		c := validClaims(now)
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return s.sign(t, s.header(), c)
	}
	withHeader := func(k string, val any) string {
		h := s.header()
		h[k] = val
		return s.sign(t, h, validClaims(now))
	}
	parts := strings.Split(good, ".")
	flipped := []byte(parts[2])
	flipped[3] ^= 0x01
	cases := map[string]string{
		"other key, same kid": other.sign(t, s.header(), validClaims(now)),
		"tampered payload":    parts[0] + "." + b64json(t, map[string]any{"sub": "x", "iss": "gatehouse", "aud": "gatehouse", "exp": now.Add(time.Hour).Unix()}) + "." + parts[2],
		"tampered signature":  parts[0] + "." + parts[1] + "." + string(flipped),
		"unknown kid":         withHeader("kid", "nope"),
		"alg none":            b64json(t, map[string]any{"alg": "none", "kid": s.kid, "typ": "at+jwt"}) + "." + parts[1] + ".",
		"alg HS256":           withHeader("alg", "HS256"),
		"wrong typ":           withHeader("typ", "JWT"),
		"expired":             with("exp", now.Add(-time.Second).Unix()),
		"exp now":             with("exp", now.Unix()),
		"no exp":              with("exp", nil),
		"not yet valid":       with("nbf", now.Add(time.Minute).Unix()),
		"wrong issuer":        with("iss", "evil"),
		"wrong audience":      with("aud", "evil"),
		"audience array":      with("aud", []string{"a", "b"}),
		"no subject":          with("sub", ""),
		"two parts":           parts[0] + "." + parts[1],
		"garbage":             "not-a-token",
		"too large":           strings.Repeat("a", maxJWTSize+1),
		"bad base64 header":   "!!!." + parts[1] + "." + parts[2],
	}
	for name, tok := range cases {
		if _, err := v.verify(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyES256(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	jwks := fmt.Appendf(nil, `{"keys":[{"kty":"EC","crv":"P-256","kid":"ec","alg":"ES256","use":"sig","x":%q,"y":%q}]}`,
		enc.EncodeToString(pub[1:33]), enc.EncodeToString(pub[33:65]))
	v := newTestVerifier(t, jwks, now)
	input := b64json(t, map[string]any{"alg": "ES256", "kid": "ec", "typ": "at+jwt"}) + "." + b64json(t, validClaims(now))
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	if _, err := v.verify(input + "." + enc.EncodeToString(sig)); err != nil {
		t.Fatalf("ES256: %v", err)
	}
	sig[10] ^= 1
	if _, err := v.verify(input + "." + enc.EncodeToString(sig)); err == nil {
		t.Fatal("ES256 with a bad signature accepted")
	}
}

func TestParseJWKS(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     `{`,
		"no keys":      `{"keys":[]}`,
		"only RSA":     `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`,
		"short x":      `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`,
		"only enc use": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		if _, err := parseJWKS([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	keys, err := parseJWKS([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	if err != nil || keys["k"].alg != "EdDSA" || len(keys["k"].ed) != ed25519.PublicKeySize {
		t.Fatalf("keys = %+v, %v", keys, err)
	}
}
