package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Config says where Gatehouse is and what its tokens must say.
type Config struct {
	// JWKSURL is Gatehouse's key set, e.g. "https://auth.example.com/.well-known/jwks.json".
	JWKSURL string
	// Issuer and Audience are JWT_ISSUER and JWT_AUDIENCE of that Gatehouse.
	Issuer   string
	Audience string
	// Leeway is the clock skew granted when checking exp, nbf, iat and
	// auth_time (Gatehouse's JWT_LEEWAY); 0 by default, at most a minute.
	Leeway time.Duration
	// MinKeyRefresh bounds how often a token with an unknown kid makes the
	// Verifier fetch the key set again; 10 s by default.
	MinKeyRefresh time.Duration

	// SessionURL, when set, turns on online mode: Gatehouse's
	// GET /auth/session, e.g. "https://auth.example.com/auth/session".
	// Claims.Roles then come from its answer (the account's roles now).
	SessionURL string
	// SessionCacheTTL is how long a session check's answer is reused for
	// that session, and so the longest a revoked session is still accepted;
	// 5 s by default.
	SessionCacheTTL time.Duration
	// FailOpen accepts a token on its offline checks alone when Gatehouse
	// cannot answer a session check. Off by default: such a request gets
	// 503 SERVICE_UNAVAILABLE.
	FailOpen bool

	// HTTPClient fetches the keys and checks sessions; a client with a 5 s
	// timeout by default.
	HTTPClient *http.Client
	// Realm is the realm of the 401 challenges; "gatehouse" by default.
	Realm string
	// Now is the clock; time.Now by default.
	Now func() time.Time

	// OnRefuse, when set, is called once for every refusal (by Verify,
	// Authenticate, the middleware and the Require guards) with its code
	// and reason, never the token: the operator's answer to "why is this
	// request turned away?". It runs on the request's goroutine; keep it
	// quick.
	OnRefuse func(ctx context.Context, r Refusal)
	// Logger, when set, logs the same as one line per refusal ("gatehouse
	// token refused", code, reason, method, path): at Info, or Warn when
	// the token could not be judged (SERVICE_UNAVAILABLE).
	Logger *slog.Logger
}

// Claims are the verified claims of a Gatehouse access token.
type Claims struct {
	// Subject is the user ID ("sub").
	Subject string `json:"sub"`
	// SessionID is the session ID ("sid").
	SessionID string `json:"sid"`
	// ID is the token ID ("jti").
	ID        string    `json:"jti"`
	Issuer    string    `json:"iss"`
	IssuedAt  time.Time `json:"-"`
	NotBefore time.Time `json:"-"`
	ExpiresAt time.Time `json:"-"`
	// AuthTime is when the user last proved a credential ("auth_time").
	AuthTime time.Time `json:"-"`
	// Fresh is true only for tokens minted right after that proof.
	Fresh bool     `json:"fresh"`
	Roles []string `json:"roles"`
	// AAL is the authentication assurance level, "aal1" or "aal2"; "aal1"
	// when the token does not say.
	AAL string `json:"aal"`
	// Methods are the RFC 8176 authentication methods ("amr").
	Methods []string `json:"amr"`
	// AppMetadata is the account's appMetadata as an administrator of
	// Gatehouse wrote it ("app_metadata": the app's own roles, tenant ids
	// and the like), as of when the token was minted; nil when the account
	// has none. JSON numbers arrive as float64.
	AppMetadata map[string]any `json:"app_metadata"`
}

// AppMetadataValue returns the value of key in AppMetadata, and whether it
// is there.
func (c *Claims) AppMetadataValue(key string) (any, bool) {
	v, ok := c.AppMetadata[key]
	return v, ok
}

// HasRole reports whether the token carries role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// CheckFresh applies Gatehouse's step-up rule: the token is fresh and its
// auth_time is no older than maxAge at now. Otherwise ErrFreshAuthRequired.
func (c *Claims) CheckFresh(maxAge time.Duration, now time.Time) error {
	if !c.Fresh || c.AuthTime.IsZero() || now.Sub(c.AuthTime) > maxAge {
		return ErrFreshAuthRequired
	}
	return nil
}

// Verifier checks Gatehouse access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg   Config
	keys  *jwk.Cache
	mu    sync.Mutex
	lastF time.Time // last forced key fetch
	live  *sessionCache
}

// maxTokenSize is Gatehouse's bound on an access token.
const maxTokenSize = 8 << 10

// New checks cfg and starts the key cache, whose background refresh lives as
// long as ctx. The keys are fetched on first use (or now, by Prefetch).
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	switch {
	case cfg.JWKSURL == "":
		return nil, errors.New("verify: JWKSURL is required")
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("verify: Issuer and Audience are required")
	case cfg.Leeway < 0 || cfg.Leeway > time.Minute:
		return nil, fmt.Errorf("verify: Leeway %s is outside 0..1m", cfg.Leeway)
	case cfg.SessionCacheTTL < 0:
		return nil, errors.New("verify: SessionCacheTTL is negative")
	}
	if cfg.MinKeyRefresh <= 0 {
		cfg.MinKeyRefresh = 10 * time.Second
	}
	if cfg.SessionCacheTTL == 0 {
		cfg.SessionCacheTTL = 5 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cache := jwk.NewCache(ctx)
	// The key set's own Cache-Control decides the background refresh; the
	// minimum keeps a misconfigured server from being polled hard.
	if err := cache.Register(cfg.JWKSURL, jwk.WithHTTPClient(cfg.HTTPClient), jwk.WithMinRefreshInterval(time.Minute)); err != nil {
		return nil, fmt.Errorf("verify: register key set: %w", err)
	}
	v := &Verifier{cfg: cfg, keys: cache}
	if cfg.SessionURL != "" {
		v.live = newSessionCache()
	}
	return v, nil
}

// Prefetch fetches the key set now, so a misconfigured URL shows at start.
func (v *Verifier) Prefetch(ctx context.Context) error {
	if _, err := v.keys.Refresh(ctx, v.cfg.JWKSURL); err != nil {
		return fmt.Errorf("verify: fetch key set: %w", err)
	}
	return nil
}

// Verify checks a raw access token (without "Bearer ") and returns its
// claims, or a refusal: ErrUnauthenticated for an empty token,
// ErrTokenInvalid, ErrTokenExpired, ErrSessionRevoked (online mode) or
// ErrUnavailable when the keys or the session check cannot be had.
// A refusal goes to Config.OnRefuse and Config.Logger.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := v.verifyOffline(ctx, raw)
	if err != nil {
		return nil, v.refused(ctx, nil, err)
	}
	if v.live != nil {
		if err := v.checkSession(ctx, raw, c); err != nil {
			return nil, v.refused(ctx, nil, err)
		}
	}
	return c, nil
}

type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

func (v *Verifier) verifyOffline(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, ErrUnauthenticated
	}
	if len(raw) > maxTokenSize {
		return nil, refuse(ErrTokenInvalid, "oversized")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, refuse(ErrTokenInvalid, "not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, refuse(ErrTokenInvalid, "header is not base64url")
	}
	var h joseHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse(ErrTokenInvalid, "header is not a JSON object")
	}
	switch {
	case h.Kid == "":
		return nil, refuse(ErrTokenInvalid, "no kid")
	case !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt"):
		return nil, refuse(ErrTokenInvalid, "typ is not at+jwt")
	case h.Crit != nil || h.B64 != nil:
		return nil, refuse(ErrTokenInvalid, "unsupported JWS extension")
	}
	key, err := v.key(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	// The algorithm is the key's, never the token's: "none", or HMAC with
	// the public key as the secret, never gets to run.
	if key.Algorithm().String() == "" || h.Alg != key.Algorithm().String() {
		return nil, refuse(ErrTokenInvalid, "alg does not match the key")
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKey(key.Algorithm(), key))
	if err != nil {
		return nil, refuse(ErrTokenInvalid, "bad signature")
	}
	return v.checkClaims(payload)
}

// key finds the key named kid, fetching the key set again (at most once per
// MinKeyRefresh) when it is not known: Gatehouse publishes a new key before
// signing with it, so an unknown kid usually means the cache is behind.
func (v *Verifier) key(ctx context.Context, kid string) (jwk.Key, error) {
	set, err := v.keys.Get(ctx, v.cfg.JWKSURL)
	if err != nil {
		return nil, refuse(ErrUnavailable, "key set: "+err.Error())
	}
	if k, ok := set.LookupKeyID(kid); ok {
		return k, nil
	}
	v.mu.Lock()
	now := v.cfg.Now()
	if now.Sub(v.lastF) < v.cfg.MinKeyRefresh {
		v.mu.Unlock()
		return nil, refuse(ErrTokenInvalid, "unknown kid")
	}
	v.lastF = now
	v.mu.Unlock()
	set, err = v.keys.Refresh(ctx, v.cfg.JWKSURL)
	if err != nil {
		return nil, refuse(ErrUnavailable, "key set: "+err.Error())
	}
	if k, ok := set.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, refuse(ErrTokenInvalid, "unknown kid")
}

// numericDate is a JWT NumericDate; set tells a missing claim from zero.
type numericDate struct {
	t   time.Time
	set bool
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec := int64(f)
	d.t = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	d.set = true
	return nil
}

// audience is "aud": one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

type payload struct {
	Claims
	Audience  audience    `json:"aud"`
	IssuedAt  numericDate `json:"iat"`
	NotBefore numericDate `json:"nbf"`
	ExpiresAt numericDate `json:"exp"`
	AuthTime  numericDate `json:"auth_time"`
}

// checkClaims applies Gatehouse's claim rules; expiry is checked last so that
// ErrTokenExpired means "fine but for exp".
func (v *Verifier) checkClaims(b []byte) (*Claims, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, refuse(ErrTokenInvalid, "claims are malformed")
	}
	switch {
	case p.Issuer != v.cfg.Issuer:
		return nil, refuse(ErrTokenInvalid, "wrong iss")
	case !slices.Contains(p.Audience, v.cfg.Audience):
		return nil, refuse(ErrTokenInvalid, "wrong aud")
	case p.Subject == "", p.SessionID == "", p.ID == "", !p.ExpiresAt.set, !p.IssuedAt.set, !p.AuthTime.set:
		return nil, refuse(ErrTokenInvalid, "required claim missing")
	}
	now := v.cfg.Now()
	late := now.Add(v.cfg.Leeway)
	nbf := p.IssuedAt.t
	if p.NotBefore.set {
		nbf = p.NotBefore.t
	}
	switch {
	case p.IssuedAt.t.After(late):
		return nil, refuse(ErrTokenInvalid, "iat in the future")
	case nbf.After(late):
		return nil, refuse(ErrTokenInvalid, "nbf in the future")
	case p.AuthTime.t.After(late):
		return nil, refuse(ErrTokenInvalid, "auth_time in the future")
	}
	if !now.Add(-v.cfg.Leeway).Before(p.ExpiresAt.t) {
		return nil, refuse(ErrTokenExpired, "exp passed")
	}
	c := p.Claims
	c.IssuedAt, c.NotBefore, c.ExpiresAt, c.AuthTime = p.IssuedAt.t, nbf, p.ExpiresAt.t, p.AuthTime.t
	if c.AAL == "" {
		c.AAL = "aal1"
	}
	return &c, nil
}
