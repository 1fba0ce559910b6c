package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// The stable error codes of the contract. Clients switch on these.
const (
	CodeValidationFailed     = "VALIDATION_FAILED"
	CodeMalformedJSON        = "MALFORMED_JSON"
	CodeUnauthenticated      = "UNAUTHENTICATED"
	CodeTokenInvalid         = "TOKEN_INVALID"
	CodeTokenExpired         = "TOKEN_EXPIRED"
	CodeSessionRevoked       = "SESSION_REVOKED"
	CodeInvalidCredentials   = "INVALID_CREDENTIALS"
	CodeRefreshTokenInvalid  = "REFRESH_TOKEN_INVALID"
	CodeRefreshTokenReused   = "REFRESH_TOKEN_REUSED"
	CodeFreshAuthRequired    = "FRESH_AUTH_REQUIRED"
	CodeCSRFRejected         = "CSRF_REJECTED"
	CodeForbidden            = "FORBIDDEN"
	CodeNotFound             = "NOT_FOUND"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	CodeEmailTaken           = "EMAIL_TAKEN"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodeTooManyRequests      = "TOO_MANY_REQUESTS"
	CodeServiceUnavailable   = "SERVICE_UNAVAILABLE"
	CodeUserDisabled         = "USER_DISABLED"
	CodeInternal             = "INTERNAL"
	CodeEmailNotVerified     = "EMAIL_NOT_VERIFIED"
	CodeEmailLinkInvalid     = "EMAIL_LINK_INVALID"
	CodeMailUnavailable      = "MAIL_UNAVAILABLE"
	CodeMFACodeInvalid       = "MFA_CODE_INVALID"
	CodePasskeyInvalid       = "PASSKEY_INVALID"
	CodeEmailCodeInvalid     = "EMAIL_CODE_INVALID"
	CodeSignupRejected       = "SIGNUP_REJECTED"
)

// apiError is an error already decided at the HTTP layer: its status, code,
// public message and, for validation, the failing fields.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details []fieldDetail
	// RetryAfter, when set, becomes the Retry-After header (429, 503).
	RetryAfter time.Duration
	// Cause is logged, never shown.
	Cause error
}

func (e *apiError) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Cause }

func newAPIError(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// invalidField is the VALIDATION_FAILED answer for one field the binder
// could not judge (a path or query parameter, a field's inner shape).
func invalidField(field, message string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeValidationFailed, Message: "Validation failed",
		Details: []fieldDetail{{Field: field, Message: message}}}
}

// mapping is one row of the table from domain errors to the contract.
type mapping struct {
	err     error
	status  int
	code    string
	message string
}

// errorTable is the single place where domain errors meet HTTP. The order
// matters only where one error wraps another.
var errorTable = []mapping{
	{user.ErrEmailTaken, http.StatusConflict, CodeEmailTaken, "Email already in use"},
	{user.ErrNotFound, http.StatusNotFound, CodeNotFound, "Not found"},
	{auth.ErrInvalidCredentials, http.StatusUnauthorized, CodeInvalidCredentials, "Invalid email or password"},
	{auth.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated, "Authentication required"},
	{auth.ErrTokenExpired, http.StatusUnauthorized, CodeTokenExpired, "Access token expired"},
	{auth.ErrTokenInvalid, http.StatusUnauthorized, CodeTokenInvalid, "Access token invalid"},
	{auth.ErrSessionRevoked, http.StatusUnauthorized, CodeSessionRevoked, "Session revoked"},
	// Before ErrFreshAuthRequired, which it wraps.
	{auth.ErrSecondFactorRequired, http.StatusForbidden, CodeFreshAuthRequired, "A second factor is required"},
	{auth.ErrFreshAuthRequired, http.StatusForbidden, CodeFreshAuthRequired, "Recent authentication required"},
	// Before ErrForbidden, which it wraps.
	{auth.ErrLastAdmin, http.StatusForbidden, CodeForbidden, "The last enabled administrator cannot lose the role, be disabled or be deleted"},
	{auth.ErrForbidden, http.StatusForbidden, CodeForbidden, "Forbidden"},
	{user.ErrDisabled, http.StatusForbidden, CodeUserDisabled, "Account disabled"},
	{mfa.ErrCodeInvalid, http.StatusUnauthorized, CodeMFACodeInvalid, "Invalid or expired code"},
	{mfa.ErrPasskeyInvalid, http.StatusUnauthorized, CodePasskeyInvalid, "Passkey not accepted"},
	{emailcode.ErrCodeInvalid, http.StatusUnauthorized, CodeEmailCodeInvalid, "Invalid or expired code"},
	{mfa.ErrNotFound, http.StatusNotFound, CodeNotFound, "Not found"},
	{session.ErrRefreshReused, http.StatusUnauthorized, CodeRefreshTokenReused, "Refresh token reused; session revoked"},
	{session.ErrRefreshInvalid, http.StatusUnauthorized, CodeRefreshTokenInvalid, "Refresh token invalid"},
	{session.ErrNotFound, http.StatusNotFound, CodeNotFound, "Session not found"},
	// A lost race on one session: the other request won, this one may retry.
	{session.ErrConflict, http.StatusUnauthorized, CodeRefreshTokenInvalid, "Refresh token invalid"},
	{emailtoken.ErrEmailNotVerified, http.StatusForbidden, CodeEmailNotVerified, "Email address not verified"},
	{emailtoken.ErrLinkInvalid, http.StatusBadRequest, CodeEmailLinkInvalid, "This link is invalid or has expired"},
	{emailtoken.ErrMailUnavailable, http.StatusServiceUnavailable, CodeMailUnavailable, "Mail is not configured on this service"},
	{oauth.ErrRequestNotFound, http.StatusNotFound, CodeNotFound, "Authorization request not found"},
	{oauth.ErrClientNotFound, http.StatusNotFound, CodeNotFound, "Client not found"},
	{oauth.ErrGrantNotFound, http.StatusNotFound, CodeNotFound, "Grant not found"},
	// max_age or prompt=login: the login page signs the user in again.
	{oauth.ErrReauthenticate, http.StatusForbidden, CodeFreshAuthRequired, "Recent authentication required"},
	// The before-signup hook did not answer as the contract says: fail
	// closed, nothing was created.
	{webhook.ErrHookUnavailable, http.StatusServiceUnavailable, CodeServiceUnavailable, "Service unavailable, try again"},
	{webhook.ErrNotFound, http.StatusNotFound, CodeNotFound, "Delivery not found"},
	{federation.ErrFailed, http.StatusBadRequest, CodeOAuthFailed, "Sign-in with the provider could not finish"},
	{federation.ErrUnknownProvider, http.StatusNotFound, CodeNotFound, "Unknown provider"},
	{federation.ErrProviderUnavailable, http.StatusServiceUnavailable, CodeServiceUnavailable, "The provider cannot be reached, try again"},
	{federation.ErrIdentityNotFound, http.StatusNotFound, CodeNotFound, "Identity not found"},
	{federation.ErrLastSignInMethod, http.StatusConflict, CodeLastSignInMethod, "This is the account's last way to sign in"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, CodeServiceUnavailable, "Service unavailable, try again"},
}

// toAPIError decides the public face of any error.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ve *user.ValidationError
	if errors.As(err, &ve) {
		out := newAPIError(http.StatusBadRequest, CodeValidationFailed, "Validation failed")
		for _, f := range ve.Fields {
			out.Details = append(out.Details, fieldDetail{Field: f.Field, Message: f.Message})
		}
		return out
	}
	var rejected *webhook.RejectedError
	if errors.As(err, &rejected) {
		// The app's own words, which the hook wrote for its users.
		return newAPIError(http.StatusForbidden, CodeSignupRejected, rejected.Message)
	}
	if fe, ok := oauthFieldError(err); ok {
		return fe
	}
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		return &apiError{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
			Message: "Too many attempts, try again later", RetryAfter: limited.RetryAfter}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return &apiError{Status: m.status, Code: m.code, Message: m.message, Cause: err}
		}
	}
	if isUnavailable(err) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
			Message: "Service unavailable, try again", RetryAfter: time.Second, Cause: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal server error", Cause: err}
}

// unavailable is implemented by errors (from the persistence adapter) that
// mean the database cannot be reached, so clients get 503 and may retry.
type unavailable interface{ Unavailable() bool }

func isUnavailable(err error) bool {
	var u unavailable
	return errors.As(err, &u) && u.Unavailable()
}

// fromEchoError maps Echo's own errors (routing, body limit) to the contract.
func fromEchoError(he *echo.HTTPError) *apiError {
	switch he.Code {
	case http.StatusNotFound:
		return newAPIError(http.StatusNotFound, CodeNotFound, "Not found")
	case http.StatusMethodNotAllowed:
		return newAPIError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed")
	case http.StatusRequestEntityTooLarge:
		return newAPIError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large")
	case http.StatusUnsupportedMediaType:
		return newAPIError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type must be application/json")
	case http.StatusUnauthorized:
		return newAPIError(http.StatusUnauthorized, CodeUnauthenticated, "Authentication required")
	case http.StatusForbidden:
		return newAPIError(http.StatusForbidden, CodeForbidden, "Forbidden")
	case http.StatusTooManyRequests:
		return &apiError{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: "Too many requests", RetryAfter: time.Second}
	case http.StatusServiceUnavailable:
		return newAPIError(http.StatusServiceUnavailable, CodeServiceUnavailable, "Service unavailable, try again")
	case http.StatusBadRequest:
		return newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Malformed request")
	}
	if he.Code >= 400 && he.Code < 500 {
		return newAPIError(he.Code, CodeForbidden, http.StatusText(he.Code))
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal server error", Cause: he}
}

// ErrorHandler returns the one Echo HTTPErrorHandler: every error becomes
// the error envelope, 5xx causes are logged once with the request ID, and no
// internals reach the client.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		ae := toAPIError(err)
		if ae.Status >= 500 {
			// An unreachable database is the operator's concern once, not
			// an error line per request: those are warnings.
			level := slog.LevelError
			if ae.Status == http.StatusServiceUnavailable {
				level = slog.LevelWarn
			}
			log.LogAttrs(c.Request().Context(), level, "request failed",
				slog.String("requestId", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.Int("status", ae.Status),
				slog.String("error", fmt.Sprint(ae.Cause)))
		}
		h := c.Response().Header()
		if ae.RetryAfter > 0 {
			h.Set("Retry-After", strconv.FormatInt(ceilSeconds(ae.RetryAfter), 10))
		}
		if ch, ok := secondFactorChallenge(err); ok {
			h.Set(echo.HeaderWWWAuthenticate, ch)
		}
		var re *oauth.ReauthenticateError
		if errors.As(err, &re) {
			// RFC 9470: the OpenID client's max_age (0 for prompt=login).
			h.Set(echo.HeaderWWWAuthenticate, `Bearer error="insufficient_user_authentication", error_description="The client asks for a recent sign-in", max_age=`+strconv.FormatInt(re.MaxAge, 10))
		}
		if ae.Status == http.StatusUnauthorized && h.Get(echo.HeaderWWWAuthenticate) == "" {
			h.Set(echo.HeaderWWWAuthenticate, wwwAuthenticate(ae.Code))
		}
		// RFC 6750 section 3.1: a valid token without the privilege.
		if ae.Code == CodeForbidden && h.Get(echo.HeaderWWWAuthenticate) == "" {
			h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="gatehouse", error="insufficient_scope"`)
		}
		env := errorEnvelope{
			Success: false, StatusCode: ae.Status, Message: ae.Message,
			Error:     errorBody{Code: ae.Code, Details: ae.Details},
			Timestamp: time.Now().UTC().Format(timestampLayout),
			Path:      c.Request().URL.Path,
			RequestID: requestID(c),
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.Status)
			return
		}
		if werr := writeJSON(c, ae.Status, env); werr != nil {
			log.Error("write error response", slog.String("requestId", requestID(c)), slog.String("error", werr.Error()))
		}
	}
}

// wwwAuthenticate is the RFC 6750 challenge for a 401 with code.
func wwwAuthenticate(code string) string {
	switch code {
	case CodeTokenInvalid, CodeTokenExpired, CodeSessionRevoked:
		return `Bearer realm="gatehouse", error="invalid_token"`
	}
	return `Bearer realm="gatehouse"`
}
