package httpadapter

import (
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// headAsGet answers HEAD on every GET route (RFC 9110 §9.3.2): the request
// is routed as a GET, and net/http, which still sees the original HEAD,
// discards the body while keeping the headers. The request is copied, not
// changed in place, because the server decides about the body from its own
// pointer to it.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method == http.MethodHead {
			r2 := req.Clone(req.Context())
			r2.Method = http.MethodGet
			c.SetRequest(r2)
		}
		return next(c)
	}
}

// privateByDefault marks every answer of the API routes (and whatever an
// authenticated route answers, see requireAuth) as not to be stored by any
// cache: they carry personal data or tokens. The JWKS and the docs set their
// own caching.
func privateByDefault(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		if strings.HasPrefix(p, "/auth") || strings.HasPrefix(p, "/users") {
			noStore(c)
		}
		return next(c)
	}
}

// cleanQuery refuses query parameters with a NUL or invalid UTF-8: such a
// value cannot be stored in PostgreSQL text and is never a legitimate input.
func cleanQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().URL.RawQuery == "" {
			return next(c)
		}
		var details []fieldDetail
		for name, vals := range c.QueryParams() {
			for _, v := range vals {
				if msg := badText(name + v); msg != "" {
					details = append(details, fieldDetail{Field: safeFieldName(name), Message: msg})
					break
				}
			}
		}
		if len(details) > 0 {
			return &apiError{Status: http.StatusBadRequest, Code: CodeValidationFailed, Message: "Validation failed", Details: details}
		}
		return next(c)
	}
}

// safeFieldName keeps a reported field name printable and valid UTF-8.
func safeFieldName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// badText says why s cannot be stored as text, or "" when it can.
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters"
	}
	return ""
}

// textProblems lists the string fields of v (a DTO, after decoding) that
// hold a NUL character: JSON may carry one as \u0000, and PostgreSQL text
// cannot store it. Invalid UTF-8 was refused with the body already.
func textProblems(v reflect.Value, prefix string) []fieldDetail {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		if msg := badText(v.String()); msg != "" {
			return []fieldDetail{{Field: prefix, Message: msg}}
		}
	case reflect.Struct:
		var out []fieldDetail
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			if !f.IsExported() || name == "" {
				continue
			}
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, textProblems(v.Field(i), name)...)
		}
		return out
	case reflect.Slice, reflect.Array:
		var out []fieldDetail
		for i := 0; i < v.Len(); i++ {
			out = append(out, textProblems(v.Index(i), prefix)...)
		}
		return out
	}
	return nil
}

// refreshCookies counts the refresh cookies a request carries: a sibling
// subdomain can plant a second one, and whichever came first would win.
func refreshCookies(c echo.Context) int {
	n := 0
	for _, ck := range c.Request().Cookies() {
		if ck.Name == refreshCookieName {
			n++
		}
	}
	return n
}
