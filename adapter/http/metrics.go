package httpadapter

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// RequestObserver records request metrics. Its methods must be cheap and
// safe for concurrent use.
type RequestObserver interface {
	// ObserveRequest records one answered request. route is the route
	// template ("/auth/sessions/:id"), or "unmatched" when no route matched,
	// never the raw URL, so the label's values stay bounded.
	ObserveRequest(route, method string, status int, d time.Duration)
	// IPThrottled counts a request refused by the per-client-IP rate limit.
	IPThrottled()
}

// unmatchedRoute is the route label of a request that matched no route.
const unmatchedRoute = "unmatched"

// requestMetrics records every request's route, method, final status and
// duration. It turns a returned error into the response itself (through the
// error handler, like accessLog) so the status it records is the one sent,
// and returns nil so the error is never handled twice. Placed outside
// accessLog, which already does this, it only ever sees nil. With a nil
// observer it is a no-op.
func requestMetrics(e *echo.Echo, obs RequestObserver) echo.MiddlewareFunc {
	if obs == nil {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	routes := &routeLabels{e: e}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			obs.ObserveRequest(routes.label(c.Path()), c.Request().Method, c.Response().Status, time.Since(start))
			return nil
		}
	}
}

// routeLabels maps Echo's matched path to a bounded route label: only
// registered route templates are used as labels, anything else (Echo leaves
// the path empty when no route matched) is "unmatched", so no client-chosen
// URL can become a label value whatever the router reports.
type routeLabels struct {
	e     *echo.Echo
	once  sync.Once
	known map[string]struct{}
}

func (r *routeLabels) label(path string) string {
	// Routes are all registered before the server starts, so the set is
	// built once, on the first request.
	r.once.Do(func() {
		routes := r.e.Routes()
		r.known = make(map[string]struct{}, len(routes))
		for _, rt := range routes {
			r.known[rt.Path] = struct{}{}
		}
	})
	if _, ok := r.known[path]; ok && path != "" {
		return path
	}
	return unmatchedRoute
}
