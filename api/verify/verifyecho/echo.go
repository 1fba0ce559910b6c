// Package verifyecho adapts package verify to Echo: middleware that admits
// Gatehouse access tokens and answers refusals with Gatehouse's envelope.
package verifyecho

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/api/verify"
)

// Middleware verifies the bearer token and puts the claims in the request
// context (verify.FromContext, or Claims here); refusals are written as
// Gatehouse writes them, so they bypass Echo's error handler.
func Middleware(v *verify.Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cl, err := v.Authenticate(c.Request())
			if err != nil {
				v.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			c.SetRequest(c.Request().WithContext(verify.WithClaims(c.Request().Context(), cl)))
			return next(c)
		}
	}
}

// Claims returns the claims Middleware verified.
func Claims(c echo.Context) (*verify.Claims, bool) {
	return verify.FromContext(c.Request().Context())
}

// RequireFresh is verify's RequireFresh for Echo routes behind Middleware.
func RequireFresh(v *verify.Verifier, maxAge time.Duration) echo.MiddlewareFunc {
	return guard(v, func(cl *verify.Claims) error { return v.CheckFresh(cl, maxAge) })
}

// RequireRole answers 403 FORBIDDEN unless the token carries role.
func RequireRole(v *verify.Verifier, role string) echo.MiddlewareFunc {
	return guard(v, func(cl *verify.Claims) error {
		if !cl.HasRole(role) {
			return verify.ErrForbidden
		}
		return nil
	})
}

func guard(v *verify.Verifier, check func(*verify.Claims) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cl, ok := Claims(c)
			if !ok {
				v.WriteError(c.Response(), c.Request(), verify.ErrUnauthenticated)
				return nil
			}
			if err := check(cl); err != nil {
				v.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			return next(c)
		}
	}
}
