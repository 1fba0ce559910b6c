package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// maxJWTSize bounds the tokens the floor looks at, like the service does.
const maxJWTSize = 8 << 10

// publicKey is one verification key of the floor: Ed25519 (alg EdDSA) or
// P-256 (alg ES256).
type publicKey struct {
	alg string
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
}

// parseJWKS reads an RFC 7517 JWK Set and returns its signature keys by
// kid. OKP/Ed25519 and EC/P-256 keys are kept; others are skipped. It is an
// error for the set to hold no usable key.
func parseJWKS(data []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	b64 := base64.RawURLEncoding
	keys := map[string]publicKey{}
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch {
		case k.Kty == "OKP" && k.Crv == "Ed25519":
			x, err := b64.DecodeString(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("jwks: key %q: bad Ed25519 x", k.Kid)
			}
			keys[k.Kid] = publicKey{alg: "EdDSA", ed: ed25519.PublicKey(x)}
		case k.Kty == "EC" && k.Crv == "P-256":
			x, errX := b64.DecodeString(k.X)
			y, errY := b64.DecodeString(k.Y)
			if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("jwks: key %q: bad P-256 coordinates", k.Kid)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("jwks: key %q: %w", k.Kid, err)
			}
			keys[k.Kid] = publicKey{alg: "ES256", ec: pub}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no Ed25519 or P-256 signature key")
	}
	return keys, nil
}

// jwtVerifier is the floor's access-token check: the minimum a bare
// handler must do to trust a Gatehouse token. It is immutable and safe for
// concurrent use.
type jwtVerifier struct {
	keys     map[string]publicKey
	issuer   string
	audience string
	now      func() time.Time
}

// jwtClaims are the claims the floor reads.
type jwtClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	SessionID string          `json:"sid"`
	ExpiresAt *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
}

// hasAudience reports whether aud (a string or an array of strings) names want.
func (c *jwtClaims) hasAudience(want string) bool {
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(c.Audience, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

// verify checks a compact JWS: the header names a known kid with its
// algorithm and the at+jwt type, the signature holds, exp is in the
// future, nbf is not, iss and aud are ours. It returns the claims.
func (v *jwtVerifier) verify(token string) (*jwtClaims, error) {
	if len(token) > maxJWTSize {
		return nil, errors.New("token too large")
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	if dot1 < 0 || dot2 == dot1 {
		return nil, errors.New("not a compact JWS")
	}
	b64 := base64.RawURLEncoding
	hdrJSON, err := b64.DecodeString(token[:dot1])
	if err != nil {
		return nil, errors.New("bad header encoding")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, errors.New("bad header")
	}
	key, ok := v.keys[hdr.Kid]
	if !ok || key.alg != hdr.Alg {
		return nil, errors.New("unknown kid or wrong alg")
	}
	if t := strings.ToLower(hdr.Typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, errors.New("wrong typ")
	}
	sig, err := b64.DecodeString(token[dot2+1:])
	if err != nil {
		return nil, errors.New("bad signature encoding")
	}
	signed := []byte(token[:dot2])
	switch key.alg {
	case "EdDSA":
		if !ed25519.Verify(key.ed, signed, sig) {
			return nil, errors.New("bad signature")
		}
	case "ES256":
		if len(sig) != 64 {
			return nil, errors.New("bad signature")
		}
		sum := sha256.Sum256(signed)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(key.ec, sum[:], r, s) {
			return nil, errors.New("bad signature")
		}
	}
	payload, err := b64.DecodeString(token[dot1+1 : dot2])
	if err != nil {
		return nil, errors.New("bad payload encoding")
	}
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("bad payload")
	}
	now := float64(v.now().Unix())
	switch {
	case c.ExpiresAt == nil || *c.ExpiresAt <= now:
		return nil, errors.New("expired")
	case c.NotBefore != nil && *c.NotBefore > now:
		return nil, errors.New("not yet valid")
	case c.Issuer != v.issuer:
		return nil, errors.New("wrong issuer")
	case !c.hasAudience(v.audience):
		return nil, errors.New("wrong audience")
	case c.Subject == "":
		return nil, errors.New("no subject")
	}
	return &c, nil
}
