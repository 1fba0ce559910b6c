package verify

import (
	"context"
	"net/http"
	"strings"
	"time"
)

type claimsKey struct{}

// WithClaims returns ctx carrying c; Middleware does this for each request.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims Middleware verified for this request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// BearerToken extracts the token of an "Authorization: Bearer" header, with
// Gatehouse's rules: no header is ErrUnauthenticated; a header of another
// shape is ErrTokenInvalid.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrUnauthenticated
	}
	scheme, tok, found := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", refuse(ErrTokenInvalid, "malformed Authorization header")
	}
	return tok, nil
}

// Authenticate verifies the bearer token of r. A refusal goes to
// Config.OnRefuse and Config.Logger, naming the request.
func (v *Verifier) Authenticate(r *http.Request) (*Claims, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, v.refused(r.Context(), r, err)
	}
	ctx := r.Context()
	if v.reports() {
		ctx = context.WithValue(ctx, requestKey{}, r)
	}
	return v.Verify(ctx, tok)
}

// WriteError answers r with err as Gatehouse would, with this Verifier's
// realm, and reports a refusal not reported yet (a guard's) to
// Config.OnRefuse and Config.Logger.
func (v *Verifier) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, v.refused(r.Context(), r, err), v.cfg.Realm)
}

// Middleware admits requests with a valid Gatehouse access token and puts its
// claims in the request context (FromContext); others get Gatehouse's 401 (or
// 503 when the token cannot be judged).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Authenticate(r)
		if err != nil {
			v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// StepUpError is the refusal for a token not fresh enough for maxAge, with
// Gatehouse's RFC 9470 challenge.
func StepUpError(maxAge time.Duration) *Error {
	e := *ErrFreshAuthRequired
	e.Challenge = stepUpChallenge(maxAge)
	return &e
}

// AALError is the refusal for a token below assurance level "aal2" (or
// level), with Gatehouse's RFC 9470 challenge.
func AALError(level string) *Error {
	e := *ErrFreshAuthRequired
	e.Challenge = aalChallenge(level)
	return &e
}

// CheckFresh applies the step-up rule at the Verifier's clock and returns
// StepUpError(maxAge) when it fails.
func (v *Verifier) CheckFresh(c *Claims, maxAge time.Duration) error {
	if c.CheckFresh(maxAge, v.cfg.Now()) != nil {
		return StepUpError(maxAge)
	}
	return nil
}

// RequireFresh guards a sensitive handler behind Middleware, as Gatehouse
// guards a password change: the token must be fresh, with an auth_time no
// older than maxAge; otherwise 403 FRESH_AUTH_REQUIRED with
// WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=N.
// The client then calls POST /auth/reauthenticate and retries.
func (v *Verifier) RequireFresh(maxAge time.Duration) func(http.Handler) http.Handler {
	return v.require(func(c *Claims) error { return v.CheckFresh(c, maxAge) })
}

// RequireAAL guards a handler behind Middleware that needs level ("aal2"):
// otherwise 403 FRESH_AUTH_REQUIRED with acr_values="aal2", as Gatehouse
// answers a factor change without a second factor.
func (v *Verifier) RequireAAL(level string) func(http.Handler) http.Handler {
	return v.require(func(c *Claims) error {
		if c.AAL < level { // "aal1" < "aal2" < "aal3"
			return AALError(level)
		}
		return nil
	})
}

// RequireRole guards a handler behind Middleware that needs role: otherwise
// 403 FORBIDDEN.
func (v *Verifier) RequireRole(role string) func(http.Handler) http.Handler {
	return v.require(func(c *Claims) error {
		if !c.HasRole(role) {
			return ErrForbidden
		}
		return nil
	})
}

func (v *Verifier) require(check func(*Claims) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := FromContext(r.Context())
			if !ok {
				v.WriteError(w, r, ErrUnauthenticated)
				return
			}
			if err := check(c); err != nil {
				v.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
