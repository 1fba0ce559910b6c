package httpadapter

import (
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// useCases names the use case each route runs, for its span. A route not
// listed (health, docs, JWKS) gets the server span only.
var useCases = map[string]string{
	"POST /auth/register":                   "auth.Register",
	"POST /auth/login":                      "auth.Login",
	"POST /auth/refresh":                    "auth.Refresh",
	"POST /auth/logout":                     "auth.Logout",
	"POST /auth/logout-all":                 "auth.LogoutAll",
	"POST /auth/reauthenticate":             "auth.Reauthenticate",
	"GET /auth/sessions":                    "auth.ListSessions",
	"DELETE /auth/sessions/:id":             "auth.RevokeSession",
	"GET /users/me":                         "account.Me",
	"PATCH /users/me":                       "account.UpdateProfile",
	"GET /users/me/security-events":         "account.SecurityEvents",
	"PUT /users/me/password":                "account.ChangePassword",
	"PUT /users/me/email":                   "account.ChangeEmail",
	"DELETE /users/me":                      "account.DeleteAccount",
	"GET /admin/users":                      "admin.Search",
	"GET /admin/users/:id":                  "admin.Get",
	"PATCH /admin/users/:id":                "admin.Update",
	"DELETE /admin/users/:id":               "admin.Delete",
	"POST /admin/users/:id/revoke-sessions": "admin.RevokeSessions",
	"GET /admin/users/:id/security-events":  "admin.SecurityEvents",
	"GET /admin/keys":                       "admin.Keys",
	"POST /admin/keys/rotate":               "admin.RotateKey",
}

// tracingMiddleware opens a server span per request (continuing a W3C
// traceparent sent by the caller), a child span for the use case the route
// runs, and puts the request ID in the context so log lines carry it. It
// records no header, body or query string: those may hold credentials.
func tracingMiddleware(tp trace.TracerProvider) echo.MiddlewareFunc {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	tracer := tp.Tracer("gatehouse/http")
	prop := propagation.TraceContext{}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			ctx := prop.Extract(reqctx.WithRequestID(req.Context(), requestID(c)), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("http.request.method", req.Method),
					attribute.String("http.route", route),
					attribute.String("gatehouse.request_id", requestID(c)),
				))
			defer span.End()
			var uc trace.Span
			if name, ok := useCases[req.Method+" "+route]; ok {
				ctx, uc = tracer.Start(ctx, "usecase "+name)
			}
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			if uc != nil {
				if status >= 500 {
					uc.SetStatus(codes.Error, "")
				}
				uc.SetAttributes(attribute.Int("http.response.status_code", status))
				uc.End()
			}
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
			return nil
		}
	}
}
