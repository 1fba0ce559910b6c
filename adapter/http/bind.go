package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
)

// binder decodes request bodies strictly and validates them, turning every
// problem into a contract error: 415 for a non-JSON body, 413 past the limit,
// MALFORMED_JSON for syntax, types, trailing data or invalid UTF-8, and
// VALIDATION_FAILED listing every unknown or invalid field by its JSON name.
type binder struct {
	validate *validator.Validate
	limit    int64
	// fields caches the JSON names each DTO type accepts.
	fields sync.Map // reflect.Type -> map[string]struct{}
}

func newBinder(limit int64) *binder {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonName)
	return &binder{validate: v, limit: limit}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// bind reads c's body into dst (a pointer to a DTO struct). An empty body
// decodes as {} so that missing required fields are reported as such. With
// optional set, an absent body is fine and leaves dst zero.
func (b *binder) bind(c echo.Context, dst any) error {
	req := c.Request()
	body, err := b.read(req)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	} else if err := checkContentType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Request body is not valid UTF-8")
	}
	// First pass: the object's keys, to report every unknown field at once
	// (json's DisallowUnknownFields stops at the first).
	var raw map[string]json.RawMessage
	if err := strictDecode(body, &raw); err != nil {
		return err
	}
	unknown := b.unknownFields(reflect.TypeOf(dst).Elem(), raw)
	if err := strictDecode(body, dst); err != nil {
		return err
	}
	details := append(unknown, textProblems(reflect.ValueOf(dst), "")...)
	if err := b.validate.Struct(dst); err != nil {
		var ves validator.ValidationErrors
		if !errors.As(err, &ves) {
			return err
		}
		for _, fe := range ves {
			details = append(details, fieldDetail{Field: fieldPath(fe), Message: describe(fe)})
		}
	}
	if len(details) > 0 {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidationFailed, Message: "Validation failed", Details: details}
	}
	return nil
}

// read takes the whole body, bounded by the limit even when the client lied
// about Content-Length.
func (b *binder) read(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.ContentLength > b.limit {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large")
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, b.limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newAPIError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large")
		}
		return nil, newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Request body could not be read")
	}
	if int64(len(body)) > b.limit {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large")
	}
	return body, nil
}

func checkContentType(ct string) error {
	unsupported := newAPIError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type must be application/json")
	if ct == "" {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported
	}
	return nil
}

// strictDecode decodes exactly one JSON value with nothing after it.
func strictDecode(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Field "+te.Field+" has the wrong type")
		}
		return newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return newAPIError(http.StatusBadRequest, CodeMalformedJSON, "Request body has data after the JSON value")
	}
	return nil
}

func (b *binder) unknownFields(t reflect.Type, raw map[string]json.RawMessage) []fieldDetail {
	known := b.known(t)
	var out []fieldDetail
	for k := range raw {
		if _, ok := known[k]; !ok {
			out = append(out, fieldDetail{Field: k, Message: "is not a known field"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func (b *binder) known(t reflect.Type) map[string]struct{} {
	if v, ok := b.fields.Load(t); ok {
		return v.(map[string]struct{})
	}
	m := make(map[string]struct{}, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if n := jsonName(t.Field(i)); n != "" {
			m[n] = struct{}{}
		}
	}
	b.fields.Store(t, m)
	return m
}

// fieldPath is the JSON path of a failing field without the DTO's own name.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return fe.Field()
}

// describe turns a validator failure into a message a client developer can
// show next to the field.
func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "min":
		return "must be at least " + fe.Param() + " characters"
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "uuid", "uuid4":
		return "must be a UUID"
	case "required_without":
		return "is required (or " + lowerFirst(fe.Param()) + ")"
	case "excluded_with":
		return "must not be given together with " + lowerFirst(fe.Param())
	case "required_with":
		return "is required with " + lowerFirst(fe.Param())
	}
	return "is invalid"
}

// lowerFirst turns a Go field name from a validator parameter into its
// JSON name ("RecoveryCode" -> "recoveryCode").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// withBody makes a handler of a request body: the route's body is decoded
// and validated into a T before next runs, so every route that reads a
// body refuses a bad one the same way, before doing anything else.
func withBody[T any](b *binder, next func(c echo.Context, req *T) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req T
		if err := b.bind(c, &req); err != nil {
			return err
		}
		return next(c, &req)
	}
}
