// Package httpadapter is the HTTP face of Gatehouse: thin Echo handlers,
// request and response DTOs, the response envelope, the one table from
// errors to status and code, and the middleware that authenticates callers.
package httpadapter

import (
	"encoding/json"
	"time"

	"github.com/labstack/echo/v4"
)

// envelope is the one JSON shape of every response, success or error.
// Data is a pointer-free any so that "data": null is written for operations
// with nothing to return; on errors it is omitted and Error is set.
type envelope struct {
	Success    bool       `json:"success"`
	StatusCode int        `json:"statusCode"`
	Message    string     `json:"message"`
	Data       any        `json:"data"`
	Error      *errorBody `json:"error,omitempty"`
	Timestamp  string     `json:"timestamp"`
	Path       string     `json:"path"`
	RequestID  string     `json:"requestId"`
}

// errorEnvelope is envelope without data, as the contract wants it absent on errors.
type errorEnvelope struct {
	Success    bool      `json:"success"`
	StatusCode int       `json:"statusCode"`
	Message    string    `json:"message"`
	Error      errorBody `json:"error"`
	Timestamp  string    `json:"timestamp"`
	Path       string    `json:"path"`
	RequestID  string    `json:"requestId"`
}

type errorBody struct {
	Code    string        `json:"code"`
	Details []fieldDetail `json:"details,omitempty"`
}

type fieldDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// timestampLayout is RFC 3339 with milliseconds, in UTC.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// ok writes a success envelope.
func ok(c echo.Context, status int, message string, data any) error {
	return writeJSON(c, status, envelope{
		Success: true, StatusCode: status, Message: message, Data: data,
		Timestamp: time.Now().UTC().Format(timestampLayout),
		Path:      c.Request().URL.Path,
		RequestID: requestID(c),
	})
}

// writeJSON encodes v with the contract's content type. Encoding to a buffer
// first means a marshalling failure can still become a clean 500.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/json; charset=utf-8")
	c.Response().WriteHeader(status)
	_, err = c.Response().Write(b)
	return err
}

// noStore marks a response as token-bearing: no cache may keep it.
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
