package token

import (
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
)

func TestRoundTripEveryClaim(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)

	cases := map[string]auth.Claims{
		"fresh login": sampleClaims(now),
		"refresh, not fresh, old auth_time": func() auth.Claims {
			c := sampleClaims(now)
			c.Fresh = false
			c.AuthTime = now.Add(-72 * time.Hour)
			c.Roles = []string{"user"}
			return c
		}(),
		"no roles": func() auth.Claims {
			c := sampleClaims(now)
			c.Roles = nil
			return c
		}(),
		"password and TOTP, aal2": func() auth.Claims {
			c := sampleClaims(now)
			c.Methods = []string{auth.MethodPassword, auth.MethodOTP, auth.MethodMFA}
			c.AAL = auth.AAL2
			return c
		}(),
		"passkey with user verification": func() auth.Claims {
			c := sampleClaims(now)
			c.Methods = []string{auth.MethodHardwareKey, auth.MethodMFA}
			c.AAL = auth.AAL2
			return c
		}(),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := s.Issue(in)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := s.Verify(raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, in) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, in)
			}
		})
	}
}

func TestIssueDefaultsAndHeader(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	in := sampleClaims(now.Add(500 * time.Millisecond)) // sub-second part is dropped
	in.ID, in.NotBefore, in.ExpiresAt = "", time.Time{}, time.Time{}

	raw, err := s.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Valid(got.ID) {
		t.Errorf("jti %q is not a generated UUID", got.ID)
	}
	if !got.IssuedAt.Equal(now) || !got.NotBefore.Equal(now) || !got.ExpiresAt.Equal(now.Add(s.TTL())) {
		t.Errorf("times iat=%s nbf=%s exp=%s, want %s, %s, %s", got.IssuedAt, got.NotBefore, got.ExpiresAt, now, now, now.Add(s.TTL()))
	}
	if s.TTL() != 15*time.Minute {
		t.Errorf("TTL() = %s", s.TTL())
	}

	hdr, err := base64.RawURLEncoding.DecodeString(raw[:strings.IndexByte(raw, '.')])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alg":"EdDSA","kid":"` + s.current().signing.kid + `","typ":"at+jwt"}`
	if string(hdr) != want {
		t.Errorf("header %s, want %s", hdr, want)
	}
}

func TestIssueRejectsIncompleteClaims(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	for name, mutate := range map[string]func(*auth.Claims){
		"no subject":     func(c *auth.Claims) { c.Subject = "" },
		"no session":     func(c *auth.Claims) { c.SessionID = "" },
		"no iat":         func(c *auth.Claims) { c.IssuedAt = time.Time{} },
		"no auth_time":   func(c *auth.Claims) { c.AuthTime = time.Time{} },
		"exp before iat": func(c *auth.Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			c := sampleClaims(now)
			mutate(&c)
			if raw, err := s.Issue(c); err == nil {
				t.Fatalf("Issue succeeded: %s", raw)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	other := newStoreService(t, testConfig(), &memStore{}, now) // a different key
	priv := s.current().signing.private
	pub := priv.Public().(ed25519.PublicKey)
	hdr := ourHeader(s)
	claims := wireClaims(now)

	good, err := s.Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")

	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})

	// Flip one bit of the signature (its first byte, so base64 stays canonical).
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// Same header and signature, payload with another subject.
	tamperedPayload := parts[0] + "." + b64json(t, with(claims, "sub", "someone-else")) + "." + parts[2]

	ecKey := newECDSA(t, elliptic.P256())

	cases := []struct {
		name string
		raw  string
		why  string // the check that must refuse it
	}{
		{"empty", "", "empty or oversized"},
		{"garbage", "not a token", "outside base64url"},
		{"one segment", "eyJhbGciOiJFZERTQSJ9", "segments"},
		{"two segments", parts[0] + "." + parts[1], "segments"},
		{"four segments", good + ".AAAA", "more than three"},
		{"empty payload", parts[0] + ".." + parts[2], "segments"},
		{"empty signature", parts[0] + "." + parts[1] + ".", "segments"},
		{"whitespace", good + " ", "outside base64url"},
		{"newline inside", parts[0] + ".\n" + parts[1] + "." + parts[2], "outside base64url"},
		{"padding", good + "==", "outside base64url"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, "outside base64url"},
		{"oversized", strings.Repeat("A", MaxTokenSize+1), "oversized"},
		{"header not JSON", b64json(t, "x")[:4] + "." + parts[1] + "." + parts[2], "header is not a JSON object"},
		{"tampered signature", tamperedSig, "bad signature"},
		{"tampered payload", tamperedPayload, "bad signature"},
		{"alg none, no signature", forge(t, jwa.NoSignature, nil, with(hdr, "alg", "none"), claims), "segments"},
		{"alg none, with signature", strings.TrimSuffix(forge(t, jwa.NoSignature, nil, with(hdr, "alg", "none"), claims), ".") + "." + parts[2], "alg does not match"},
		{"alg none, real signature of that input", forge(t, jwa.EdDSA, priv, with(hdr, "alg", "none"), claims), "alg does not match"},
		{"HS256 keyed with raw public key", forge(t, jwa.HS256, []byte(pub), with(hdr, "alg", "HS256"), claims), "alg does not match"},
		{"HS256 keyed with public key PEM", forge(t, jwa.HS256, pubPEM, with(hdr, "alg", "HS256"), claims), "alg does not match"},
		{"HS256 keyed with JWKS", forge(t, jwa.HS256, s.JWKS(), with(hdr, "alg", "HS256"), claims), "alg does not match"},
		{"HS256 keyed with x", forge(t, jwa.HS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), with(hdr, "alg", "HS256"), claims), "alg does not match"},
		{"ES256 under our EdDSA kid", forge(t, jwa.ES256, ecKey, with(hdr, "alg", "ES256"), claims), "alg does not match"},
		{"unknown kid", forge(t, jwa.EdDSA, priv, with(hdr, "kid", "no-such-kid"), claims), "unknown kid"},
		{"missing kid", forge(t, jwa.EdDSA, priv, with(hdr, "kid", nil), claims), "no kid"},
		{"other service's kid and key", forge(t, jwa.EdDSA, other.current().signing.private, ourHeader(other), claims), "unknown kid"},
		{"other key under our kid", forge(t, jwa.EdDSA, other.current().signing.private, hdr, claims), "bad signature"},
		{"wrong typ", forge(t, jwa.EdDSA, priv, with(hdr, "typ", "JWT"), claims), "typ"},
		{"missing typ", forge(t, jwa.EdDSA, priv, with(hdr, "typ", nil), claims), "typ"},
		{"crit header", forge(t, jwa.EdDSA, priv, with(hdr, "crit", []string{"exp"}, "exp", 1), claims), "extension"},
		{"b64 header", forge(t, jwa.EdDSA, priv, with(hdr, "b64", true), claims), "extension"},
		{"wrong iss", forge(t, jwa.EdDSA, priv, hdr, with(claims, "iss", "evil")), "wrong iss"},
		{"iss differs in case", forge(t, jwa.EdDSA, priv, hdr, with(claims, "iss", "Gatehouse")), "wrong iss"},
		{"wrong aud", forge(t, jwa.EdDSA, priv, hdr, with(claims, "aud", "other-api")), "wrong aud"},
		{"aud array without ours", forge(t, jwa.EdDSA, priv, hdr, with(claims, "aud", []string{"a", "b"})), "wrong aud"},
		{"aud not a string", forge(t, jwa.EdDSA, priv, hdr, with(claims, "aud", 7)), "claims are malformed"},
		{"missing sub", forge(t, jwa.EdDSA, priv, hdr, with(claims, "sub", nil)), "required claim"},
		{"missing sid", forge(t, jwa.EdDSA, priv, hdr, with(claims, "sid", nil)), "required claim"},
		{"missing jti", forge(t, jwa.EdDSA, priv, hdr, with(claims, "jti", nil)), "required claim"},
		{"missing exp", forge(t, jwa.EdDSA, priv, hdr, with(claims, "exp", nil)), "required claim"},
		{"missing iat", forge(t, jwa.EdDSA, priv, hdr, with(claims, "iat", nil)), "required claim"},
		{"missing auth_time", forge(t, jwa.EdDSA, priv, hdr, with(claims, "auth_time", nil)), "required claim"},
		{"exp as string", forge(t, jwa.EdDSA, priv, hdr, with(claims, "exp", "1999999999")), "claims are malformed"},
		{"negative exp", forge(t, jwa.EdDSA, priv, hdr, with(claims, "exp", -1)), "claims are malformed"},
		{"exp beyond year 9999", forge(t, jwa.EdDSA, priv, hdr, with(claims, "exp", 1e300)), "claims are malformed"},
		{"nbf in the future", forge(t, jwa.EdDSA, priv, hdr, with(claims, "nbf", now.Add(time.Minute).Unix())), "nbf in the future"},
		{"iat in the future", forge(t, jwa.EdDSA, priv, hdr, with(claims, "iat", now.Add(time.Minute).Unix())), "iat in the future"},
		{"auth_time in the future", forge(t, jwa.EdDSA, priv, hdr, with(claims, "auth_time", now.Add(time.Minute).Unix())), "auth_time in the future"},
		{"expired and wrong iss", forge(t, jwa.EdDSA, priv, hdr, with(claims, "iss", "evil", "exp", now.Add(-time.Hour).Unix())), "wrong iss"},
		{"expired and bad signature", forge(t, jwa.EdDSA, other.current().signing.private, hdr, with(claims, "exp", now.Add(-time.Hour).Unix())), "bad signature"},
		{"payload not JSON", signRaw(t, s, parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte("[1,2"))), "claims are malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Verify(tc.raw)
			if !errors.Is(err, auth.ErrTokenInvalid) {
				t.Fatalf("Verify = %+v, %v; want ErrTokenInvalid", got, err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("refused for %q, want the %q check", err, tc.why)
			}
			if errors.Is(err, auth.ErrTokenExpired) {
				t.Fatalf("error %v is also ErrTokenExpired", err)
			}
			if !reflect.DeepEqual(got, auth.Claims{}) {
				t.Fatalf("claims returned with an error: %+v", got)
			}
		})
	}
}

func TestVerifyNullDate(t *testing.T) {
	// A JSON null must read as "absent", so a required date given as null
	// is missing rather than the epoch.
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	hdr := ourHeader(s)
	input := b64json(t, hdr) + "." + base64.RawURLEncoding.EncodeToString([]byte(
		`{"iss":"gatehouse","aud":"gatehouse-api","sub":"u","sid":"s","jti":"j","iat":`+
			strconv.FormatInt(now.Unix(), 10)+`,"exp":null,"auth_time":`+strconv.FormatInt(now.Unix(), 10)+`}`))
	_, err := s.Verify(signRaw(t, s, input))
	if !errors.Is(err, auth.ErrTokenInvalid) || !strings.Contains(err.Error(), "required claim") {
		t.Fatalf("err = %v, want ErrTokenInvalid", err)
	}
}

func TestVerifyAcceptsSpecVariants(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	priv := s.current().signing.private
	hdr := ourHeader(s)
	claims := wireClaims(now)
	for name, raw := range map[string]string{
		"typ upper case":         forge(t, jwa.EdDSA, priv, with(hdr, "typ", "AT+JWT"), claims),
		"typ with application/":  forge(t, jwa.EdDSA, priv, with(hdr, "typ", "application/at+jwt"), claims),
		"aud array holding ours": forge(t, jwa.EdDSA, priv, hdr, with(claims, "aud", []string{"x", "gatehouse-api"})),
		"no nbf":                 forge(t, jwa.EdDSA, priv, hdr, with(claims, "nbf", nil)),
		"fractional exp":         forge(t, jwa.EdDSA, priv, hdr, with(claims, "exp", float64(now.Unix())+60.5)),
		"unknown claims ignored": forge(t, jwa.EdDSA, priv, hdr, with(claims, "x-extra", map[string]any{"a": 1})),
		"no amr and no roles":    forge(t, jwa.EdDSA, priv, hdr, with(claims, "amr", nil, "roles", nil)),
		"aud with JSON escapes":  signRaw(t, s, b64json(t, hdr)+"."+escapedAud(t, claims)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Verify(raw); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// escapedAud encodes claims with "aud" spelled with a JSON escape, which
// must read the same as the plain spelling.
func escapedAud(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), `"aud":"gatehouse-api"`, `"aud":"gatehouse\u002dapi"`, 1)
	if out == string(b) {
		t.Fatal("aud not found")
	}
	return base64.RawURLEncoding.EncodeToString([]byte(out))
}

func TestExpiryAndLeeway(t *testing.T) {
	now := testNow()
	cases := []struct {
		name   string
		leeway time.Duration
		exp    time.Time
		nbf    time.Time
		want   error
	}{
		{"valid", 0, now.Add(time.Second), now, nil},
		{"exp equals now is expired", 0, now, now.Add(-time.Minute), auth.ErrTokenExpired},
		{"expired", 0, now.Add(-time.Second), now.Add(-time.Minute), auth.ErrTokenExpired},
		{"just expired within leeway", 5 * time.Second, now.Add(-2 * time.Second), now.Add(-time.Minute), nil},
		{"expired beyond leeway", 5 * time.Second, now.Add(-5 * time.Second), now.Add(-time.Minute), auth.ErrTokenExpired},
		{"nbf in future", 0, now.Add(time.Minute), now.Add(time.Second), auth.ErrTokenInvalid},
		{"nbf within leeway", 5 * time.Second, now.Add(time.Minute), now.Add(3 * time.Second), nil},
		{"nbf beyond leeway", 5 * time.Second, now.Add(time.Minute), now.Add(6 * time.Second), auth.ErrTokenInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Leeway = tc.leeway
			s := newStoreService(t, cfg, &memStore{}, now)
			c := sampleClaims(now)
			// Issue with iat no later than nbf so only exp/nbf are under test.
			c.IssuedAt = tc.nbf.Add(-time.Hour)
			c.AuthTime = c.IssuedAt
			c.NotBefore, c.ExpiresAt = tc.nbf, tc.exp
			raw, err := s.Issue(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Verify(raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
			if tc.want == auth.ErrTokenExpired && errors.Is(err, auth.ErrTokenInvalid) {
				t.Fatalf("expired error %v is also ErrTokenInvalid", err)
			}
		})
	}
}

func TestSharedKeyStore(t *testing.T) {
	now := testNow()
	store := &memStore{}
	a := newStoreService(t, testConfig(), store, now)
	b := newStoreService(t, testConfig(), store, now)

	if got := len(store.snapshot()); got != 1 {
		t.Fatalf("store holds %d keys, want 1", got)
	}
	if a.current().signing.kid != b.current().signing.kid || a.current().signing.kid != store.snapshot()[0].ID {
		t.Fatalf("kids differ: a=%s b=%s store=%s", a.current().signing.kid, b.current().signing.kid, store.snapshot()[0].ID)
	}
	for _, pair := range [][2]*Service{{a, b}, {b, a}} {
		raw, err := pair[0].Issue(sampleClaims(now))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pair[1].Verify(raw); err != nil {
			t.Fatalf("cross-verify: %v", err)
		}
	}
	if string(a.JWKS()) != string(b.JWKS()) {
		t.Errorf("JWKS differ:\n%s\n%s", a.JWKS(), b.JWKS())
	}

	sk := store.snapshot()[0]
	if sk.Algorithm != "EdDSA" || !sk.CreatedAt.Equal(now) || !strings.Contains(string(sk.PrivateKeyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("stored key %+v", sk)
	}
}

func TestEnsureSigningKeyConcurrentStart(t *testing.T) {
	now := testNow()
	store := &memStore{}
	const instances = 16
	services := make([]*Service, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			services[i], errs[i] = NewService(context.Background(), testConfig(), store, fixedClock(now))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	if got := len(store.snapshot()); got != 1 || store.calls != instances {
		t.Fatalf("store holds %d keys after %d calls, want 1 after %d", got, store.calls, instances)
	}
	raw, err := services[0].Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range services {
		if s.current().signing.kid != services[0].current().signing.kid {
			t.Fatalf("instance %d signs with %s, instance 0 with %s", i, s.current().signing.kid, services[0].current().signing.kid)
		}
		if _, err := s.Verify(raw); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
}

func TestKeyRotationFromStore(t *testing.T) {
	// A store returning [new, old]: new signs, tokens of old still verify.
	now := testNow()
	oldStore := &memStore{}
	oldSvc := newStoreService(t, testConfig(), oldStore, now)
	oldToken, err := oldSvc.Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	newStore := &memStore{}
	newStoreService(t, testConfig(), newStore, now) // just to mint a key
	rotated := &memStore{keys: append(newStore.snapshot(), oldStore.snapshot()...)}
	s := newStoreService(t, testConfig(), rotated, now)

	if s.current().signing.kid != newStore.snapshot()[0].ID {
		t.Fatalf("signing kid %s, want the first stored key %s", s.current().signing.kid, newStore.snapshot()[0].ID)
	}
	if _, err := s.Verify(oldToken); err != nil {
		t.Fatalf("old token: %v", err)
	}
	newToken, err := s.Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldSvc.Verify(newToken); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("service without the new key accepted its token: %v", err)
	}
}

func TestNewServiceErrors(t *testing.T) {
	now := testNow()
	good := &memStore{}
	newStoreService(t, testConfig(), good, now)
	sk := good.snapshot()[0]

	badID := sk
	badID.ID = "not-the-thumbprint"
	badAlg := sk
	badAlg.Algorithm = "ES256"
	badPEM := sk
	badPEM.PrivateKeyPEM = []byte("garbage")

	storeReturning := func(keys ...auth.SigningKey) KeyStore {
		return storeFunc(func(context.Context, auth.SigningKey) ([]auth.SigningKey, error) { return keys, nil })
	}
	cfgWith := func(f func(*Config)) Config { c := testConfig(); f(&c); return c }

	cases := []struct {
		name  string
		cfg   Config
		store KeyStore
	}{
		{"nil store and no file", testConfig(), nil},
		{"no issuer", cfgWith(func(c *Config) { c.Issuer = "" }), &memStore{}},
		{"no audience", cfgWith(func(c *Config) { c.Audience = "" }), &memStore{}},
		{"zero TTL", cfgWith(func(c *Config) { c.TTL = 0 }), &memStore{}},
		{"negative leeway", cfgWith(func(c *Config) { c.Leeway = -time.Second }), &memStore{}},
		{"store error", testConfig(), &memStore{err: errors.New("db down")}},
		{"store returns nothing", testConfig(), storeReturning()},
		{"stored ID mismatch", testConfig(), storeReturning(badID)},
		{"stored alg mismatch", testConfig(), storeReturning(badAlg)},
		{"stored PEM garbage", testConfig(), storeReturning(badPEM)},
		{"stored duplicate", testConfig(), storeReturning(sk, sk)},
		{"missing key file", cfgWith(func(c *Config) { c.PrivateKeyFile = "/nonexistent/keys.pem" }), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewService(context.Background(), tc.cfg, tc.store, fixedClock(now))
			if err == nil {
				t.Fatalf("NewService succeeded: %+v", s)
			}
		})
	}
}

func TestNilClockDefaultsToTimeNow(t *testing.T) {
	s, err := NewService(context.Background(), testConfig(), &memStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := s.Issue(sampleClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(raw); err != nil {
		t.Fatal(err)
	}
}

// An aal the service never issues, or none at all (tokens from before the
// claim), is read as aal1: it can only lower what the token is trusted with.
func TestUnknownAALReadsAsAAL1(t *testing.T) {
	now := testNow()
	s := newStoreService(t, testConfig(), &memStore{}, now)
	c := sampleClaims(now)
	c.Methods = []string{auth.MethodPassword, auth.MethodMFA}
	c.AAL = "aal3"
	raw, err := s.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.AAL != auth.AAL1 {
		t.Fatalf("aal3 read as %q; want aal1", got.AAL)
	}
	c.AAL = ""
	raw, _ = s.Issue(c)
	if got, _ := s.Verify(raw); got.AAL != auth.AAL2 {
		t.Fatalf("no aal given with mfa in amr: issued as %q; want aal2", got.AAL)
	}
}
