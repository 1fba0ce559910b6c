package token

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

// joseHeader is the part of the protected header Verify looks at.
type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
	// Crit and B64 are only recorded as present or absent: we implement
	// no JWS extension, so a token that asks for one is refused (RFC 7515
	// section 4.1.11). b64 is refused even without crit because some
	// libraries, jwx v2 among them, honour it regardless.
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// invalid wraps auth.ErrTokenInvalid with a reason for the logs.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", auth.ErrTokenInvalid, reason)
}

// Verify checks raw and returns its claims. Every failure wraps
// auth.ErrTokenInvalid, except a token that is valid in every respect but
// past its expiry, which wraps auth.ErrTokenExpired.
func (s *Service) Verify(raw string) (auth.Claims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenSize {
		return auth.Claims{}, invalid("empty or oversized")
	}
	// A token seen before under the same keys skips decoding and the
	// signature; the claim rules still run (see verifiedCache).
	keys := s.current()
	sum := sha256.Sum256([]byte(raw))
	if pc, ok := s.verified.get(sum, keys); ok {
		return s.checkClaims(&pc)
	}

	// Split the compact form by hand: exactly three non-empty base64url
	// segments. This also refuses the JSON serialization, which can carry
	// several signatures and unprotected headers that we never issue.
	dot1, dot2 := -1, -1
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '.':
			if dot1 < 0 {
				dot1 = i
			} else if dot2 < 0 {
				dot2 = i
			} else {
				return auth.Claims{}, invalid("more than three segments")
			}
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return auth.Claims{}, invalid("character outside base64url")
		}
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 || dot2 == len(raw)-1 {
		return auth.Claims{}, invalid("not three non-empty segments")
	}

	// One allocation holds the token bytes (the signing input is a prefix
	// of them) and the three decoded segments.
	hLen := s.b64.DecodedLen(dot1)
	pLen := s.b64.DecodedLen(dot2 - dot1 - 1)
	sLen := s.b64.DecodedLen(len(raw) - dot2 - 1)
	buf := make([]byte, len(raw)+hLen+pLen+sLen)
	src := buf[:len(raw)]
	copy(src, raw)
	hdrBuf := buf[len(raw) : len(raw)+hLen]
	payBuf := buf[len(raw)+hLen : len(raw)+hLen+pLen]
	sigBuf := buf[len(raw)+hLen+pLen:]

	n, err := s.b64.Decode(hdrBuf, src[:dot1])
	if err != nil {
		return auth.Claims{}, invalid("header is not base64url")
	}
	var h joseHeader
	if err := json.Unmarshal(hdrBuf[:n], &h); err != nil {
		return auth.Claims{}, invalid("header is not a JSON object")
	}
	if h.Kid == "" {
		return auth.Claims{}, invalid("no kid")
	}
	k, ok := s.current().byKID[h.Kid]
	if !ok {
		// Another instance may have added a key this one has not loaded
		// yet: look again, at most every unknownKIDReload.
		if k, ok = s.reloadForKID(h.Kid); !ok {
			return auth.Claims{}, invalid("unknown kid")
		}
	}
	// The algorithm is the key's, never the token's: a header naming
	// anything else ("none", HS256 with the public key as secret, ...) is
	// refused before any cryptography runs.
	if h.Alg != string(k.alg) {
		return auth.Claims{}, invalid("alg does not match the key")
	}
	if !strings.EqualFold(h.Typ, typeAccessToken) && !strings.EqualFold(h.Typ, typeAccessTokenFull) {
		return auth.Claims{}, invalid("typ is not at+jwt")
	}
	if h.Crit != nil || h.B64 != nil {
		return auth.Claims{}, invalid("unsupported JWS extension")
	}

	n, err = s.b64.Decode(sigBuf, src[dot2+1:])
	if err != nil {
		return auth.Claims{}, invalid("signature is not base64url")
	}
	if err := k.verifier.Verify(src[:dot2], sigBuf[:n], k.public); err != nil {
		return auth.Claims{}, invalid("bad signature")
	}

	// The signature holds; from here on the payload is ours.
	n, err = s.b64.Decode(payBuf, src[dot1+1:dot2])
	if err != nil {
		return auth.Claims{}, invalid("payload is not base64url")
	}
	var pc parsedClaims
	if err := json.Unmarshal(payBuf[:n], &pc); err != nil {
		return auth.Claims{}, invalid("claims are malformed")
	}
	claims, err := s.checkClaims(&pc)
	// Only a token that passes every rule is remembered, and only under
	// the key set it was checked with (a reload for an unknown kid may
	// have replaced it meanwhile).
	if err == nil && keys == s.current() {
		s.verified.put(sum, keys, pc, s.now())
	}
	return claims, err
}

// checkClaims applies the claim rules to a signed payload. Expiry is
// checked last so that ErrTokenExpired means "fine but for exp".
func (s *Service) checkClaims(pc *parsedClaims) (auth.Claims, error) {
	switch {
	case pc.Issuer != s.issuer:
		return auth.Claims{}, invalid("wrong iss")
	case !pc.Audience.contains(s.audience):
		return auth.Claims{}, invalid("wrong aud")
	case pc.Subject == "", pc.SessionID == "", pc.ID == "",
		!pc.ExpiresAt.set, !pc.IssuedAt.set, !pc.AuthTime.set:
		return auth.Claims{}, invalid("required claim missing")
	}

	now := s.now()
	// A date is in the future when it is later than now even after
	// granting the leeway to a clock that may run behind.
	late := now.Add(s.leeway)
	iat, exp, authTime := pc.IssuedAt.time(), pc.ExpiresAt.time(), pc.AuthTime.time()
	nbf := iat
	if pc.NotBefore.set {
		nbf = pc.NotBefore.time()
	}
	switch {
	case iat.After(late):
		return auth.Claims{}, invalid("iat in the future")
	case nbf.After(late):
		return auth.Claims{}, invalid("nbf in the future")
	case authTime.After(late):
		return auth.Claims{}, invalid("auth_time in the future")
	}
	// RFC 7519 section 4.1.4: the current time must be before exp.
	if !now.Add(-s.leeway).Before(exp) {
		return auth.Claims{}, fmt.Errorf("%w: exp %s passed", auth.ErrTokenExpired, exp.Format(time.RFC3339))
	}

	return auth.Claims{
		Subject:   pc.Subject,
		SessionID: pc.SessionID,
		ID:        pc.ID,
		IssuedAt:  iat,
		NotBefore: nbf,
		ExpiresAt: exp,
		AuthTime:  authTime,
		Fresh:     pc.Fresh,
		Methods:   pc.Methods,
		AAL:       verifiedAAL(pc.AAL),
		Roles:     pc.Roles,
		IdP:       pc.IdP,
	}, nil
}

// verifiedAAL reads the "aal" claim. Anything but "aal2" (a token from
// before the claim existed, or a value we never issue) counts as aal1, so
// an unexpected value can only lower what a token is trusted with.
func verifiedAAL(v string) string {
	if v == auth.AAL2 {
		return auth.AAL2
	}
	return auth.AAL1
}
