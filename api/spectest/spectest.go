// Package spectest checks HTTP exchanges against Gatehouse's OpenAPI document
// (api/openapi.yaml) in tests: every response a test sees can be validated against
// the contract with a Validator.
package spectest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gatehouse/gatehouse/api"
)

const (
	headerRequestID = "X-Request-ID"
	// errorEnvelopeSchema is the schema every error answer must match.
	errorEnvelopeSchema = "ErrorEnvelope"
	// errorCodeSchema carries the x-http-status extension mapping each code to its status.
	errorCodeSchema   = "ErrorCode"
	statusByCodeExt   = "x-http-status"
	uuidPattern       = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	requestIDPattern  = `^[A-Za-z0-9._-]{1,128}$`
	wantJSONMediaType = "application/json; charset=utf-8"
)

// Operation is one operation of the spec: an HTTP method and a path template as
// written in the spec, e.g. {"DELETE", "/auth/sessions/{id}"}.
type Operation struct {
	Method string
	Path   string
}

// Validator validates HTTP responses against the embedded OpenAPI document. It is
// immutable after New and safe for concurrent use by parallel tests.
type Validator struct {
	doc           *openapi3.T
	router        routers.Router
	errorEnvelope *openapi3.Schema
	statusByCode  map[string]int
	operations    []Operation
	requestID     *regexp.Regexp
	schemaOpts    []openapi3.SchemaValidationOption
}

// New loads the embedded spec, validates the document itself (including its
// examples) and builds a router over its paths. The spec's single server is the
// relative URL "/", so requests to any host and port are matched by path only.
func New() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.SpecYAML())
	if err != nil {
		return nil, fmt.Errorf("spectest: load spec: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("spectest: spec is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("spectest: build router: %w", err)
	}

	envelope := doc.Components.Schemas[errorEnvelopeSchema]
	if envelope == nil || envelope.Value == nil {
		return nil, fmt.Errorf("spectest: spec has no components.schemas.%s", errorEnvelopeSchema)
	}
	statusByCode, err := readStatusByCode(doc)
	if err != nil {
		return nil, err
	}

	var ops []Operation
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, Operation{Method: method, Path: path})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})

	return &Validator{
		doc:           doc,
		router:        router,
		errorEnvelope: envelope.Value,
		statusByCode:  statusByCode,
		operations:    ops,
		requestID:     regexp.MustCompile(requestIDPattern),
		schemaOpts: []openapi3.SchemaValidationOption{
			openapi3.MultiErrors(),
			// Keep messages to the point; the body is appended to the error anyway.
			openapi3.DisableSchemaErrorDetails(),
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidPattern)),
			openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)),
		},
	}, nil
}

// readStatusByCode reads the code → HTTP status table from the ErrorCode schema's
// x-http-status extension and checks it covers exactly the enum.
func readStatusByCode(doc *openapi3.T) (map[string]int, error) {
	ref := doc.Components.Schemas[errorCodeSchema]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("spectest: spec has no components.schemas.%s", errorCodeSchema)
	}
	raw, ok := ref.Value.Extensions[statusByCodeExt].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spectest: %s.%s is missing or not a map", errorCodeSchema, statusByCodeExt)
	}
	out := make(map[string]int, len(raw))
	for code, v := range raw {
		status, ok := asInt(v)
		if !ok || status < 400 || status > 599 {
			return nil, fmt.Errorf("spectest: %s.%s[%s] = %v is not an error status", errorCodeSchema, statusByCodeExt, code, v)
		}
		out[code] = status
	}
	for _, e := range ref.Value.Enum {
		code, _ := e.(string)
		if _, ok := out[code]; !ok {
			return nil, fmt.Errorf("spectest: error code %v has no %s entry", e, statusByCodeExt)
		}
	}
	if len(out) != len(ref.Value.Enum) {
		return nil, fmt.Errorf("spectest: %s lists %d codes, the enum %d", statusByCodeExt, len(out), len(ref.Value.Enum))
	}
	return out, nil
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// Operations lists every operation of the spec, sorted by path, then method.
// The returned slice is a copy.
func (v *Validator) Operations() []Operation {
	return append([]Operation(nil), v.operations...)
}

// ValidateResponse checks one exchange against the spec and returns a descriptive
// error naming every problem found, or nil.
//
// For a documented method and path it checks that the status is documented (or
// covered by "default"), that the Content-Type is one the response declares (JSON
// always as "application/json; charset=utf-8"), that the body matches the schema
// (or is empty where the response has no content), and that the required response
// headers are present and valid. HEAD requests are checked against the GET
// operation, with an empty body; a 304 Not Modified needs only X-Request-ID and an
// empty body.
//
// A request whose path or method is not in the spec (a 404 or 405 answer to an
// unknown route) must get an error status and a body matching the ErrorEnvelope
// schema; the only exception is an OPTIONS request (a CORS preflight), which may get
// a 2xx with an empty body.
//
// In every case X-Request-ID must be present and well formed, and an envelope must be
// consistent with the exchange: statusCode equals the HTTP status, success is true
// exactly for statuses below 400, requestId equals the X-Request-ID header, path
// equals the request's URL path, and error.code is one whose HTTP status (the spec's
// x-http-status table) is the response status.
func (v *Validator) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	if req == nil || req.URL == nil {
		return errors.New("spectest: ValidateResponse needs the request with its URL")
	}
	if header == nil {
		header = http.Header{}
	}
	errs := v.validate(req, status, header, body)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = "  - " + err.Error()
	}
	return fmt.Errorf("spectest: %s %s -> %d does not match the spec:\n%s\nbody: %s",
		req.Method, req.URL.Path, status, strings.Join(msgs, "\n"), abbreviate(body))
}

func (v *Validator) validate(req *http.Request, status int, header http.Header, body []byte) []error {
	var errs []error
	if err := v.checkRequestIDHeader(header); err != nil {
		errs = append(errs, err)
	}

	routeReq := req
	if req.Method == http.MethodHead {
		routeReq = req.Clone(req.Context())
		routeReq.Method = http.MethodGet
		if len(body) != 0 {
			errs = append(errs, fmt.Errorf("a HEAD response has a body of %d bytes", len(body)))
		}
	}

	route, pathParams, err := v.router.FindRoute(routeReq)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		return append(errs, v.validateUnrouted(req, status, header, body)...)
	case err != nil:
		return append(errs, fmt.Errorf("find route: %w", err))
	}

	if status == http.StatusNotModified {
		// An answer to a conditional GET (the docs assets): no body, nothing to check.
		if len(body) != 0 {
			errs = append(errs, fmt.Errorf("a 304 response has a body of %d bytes", len(body)))
		}
		return errs
	}

	responseRef := route.Operation.Responses.Status(status)
	if responseRef == nil {
		responseRef = route.Operation.Responses.Default()
		if status < 400 {
			// Only errors may fall back to the default (error envelope) response.
			errs = append(errs, fmt.Errorf("status %d is not documented for %s %s (documented: %s)",
				status, route.Method, route.Path, strings.Join(documentedStatuses(route.Operation.Responses), ", ")))
		}
	}
	if responseRef == nil || responseRef.Value == nil {
		return append(errs, fmt.Errorf("status %d is not documented for %s %s and there is no default response",
			status, route.Method, route.Path))
	}
	response := responseRef.Value

	mediaType, params, ctErr := mime.ParseMediaType(header.Get("Content-Type"))
	isJSON := ctErr == nil && isJSONMediaType(mediaType)
	head := req.Method == http.MethodHead
	checkBody := !head

	switch {
	case len(response.Content) == 0:
		if len(body) != 0 {
			errs = append(errs, fmt.Errorf("status %d is documented without content, but the body has %d bytes", status, len(body)))
		}
		checkBody = false
	case ctErr != nil:
		errs = append(errs, fmt.Errorf("bad Content-Type %q: %v", header.Get("Content-Type"), ctErr))
		checkBody = false
	case response.Content.Get(mediaType) == nil:
		errs = append(errs, fmt.Errorf("Content-Type %q is not documented for status %d (documented: %s)",
			header.Get("Content-Type"), status, strings.Join(contentTypes(response.Content), ", ")))
		checkBody = false
	case isJSON && !strings.EqualFold(params["charset"], "utf-8"):
		errs = append(errs, fmt.Errorf("Content-Type %q: JSON responses are %q", header.Get("Content-Type"), wantJSONMediaType))
	}

	opts := &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		SchemaValidationOptions: v.schemaOpts,
		// The body is validated below only when it is JSON; other media types
		// (HTML, YAML, scripts) are checked for their Content-Type only.
		ExcludeResponseBody: !(checkBody && isJSON),
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    routeReq,
			PathParams: pathParams,
			Route:      route,
			Options:    opts,
		},
		Status:  status,
		Header:  header,
		Options: opts,
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		errs = append(errs, unwrapMulti(err)...)
	}

	if checkBody && !isJSON && len(body) == 0 && status < 300 {
		errs = append(errs, fmt.Errorf("empty %s body", mediaType))
	}
	if checkBody && isJSON {
		errs = append(errs, v.checkEnvelope(req, status, header, body)...)
		errs = append(errs, checkErrorCodes(response, body)...)
	}
	return errs
}

// errorCodesExt lists, on an error response of the spec, the error codes that
// response may carry. The schema of every error response is the one
// ErrorEnvelope (so generated clients get one error type with its details),
// and the narrowing lives here, checked by the validator.
const errorCodesExt = "x-error-codes"

// checkErrorCodes checks error.code against the response's x-error-codes list,
// when it has one.
func checkErrorCodes(response *openapi3.Response, body []byte) []error {
	raw, ok := response.Extensions[errorCodesExt].([]any)
	if !ok {
		return nil
	}
	var env struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return nil // the schema check reports a missing error member
	}
	allowed := make([]string, 0, len(raw))
	for _, c := range raw {
		s, _ := c.(string)
		if s == env.Error.Code {
			return nil
		}
		allowed = append(allowed, s)
	}
	return []error{fmt.Errorf("error code %s is not one this response documents (%s: %s)",
		env.Error.Code, errorCodesExt, strings.Join(allowed, ", "))}
}

// validateUnrouted checks the answer to a method and path the spec does not have.
func (v *Validator) validateUnrouted(req *http.Request, status int, header http.Header, body []byte) []error {
	if req.Method == http.MethodOptions && status >= 200 && status < 300 && len(body) == 0 {
		return nil // a CORS preflight answer
	}
	if req.Method == http.MethodHead {
		if status < 400 {
			return []error{fmt.Errorf("HEAD %s is not in the spec, yet answered %d", req.URL.Path, status)}
		}
		return nil
	}
	var errs []error
	if status < 400 {
		errs = append(errs, fmt.Errorf("%s %s is not in the spec, yet answered %d (want an error envelope)",
			req.Method, req.URL.Path, status))
	}
	mediaType, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" || !strings.EqualFold(params["charset"], "utf-8") {
		return append(errs, fmt.Errorf("Content-Type %q: an answer to an unknown route is the JSON error envelope (%q)",
			header.Get("Content-Type"), wantJSONMediaType))
	}
	value, err := decodeJSON(body)
	if err != nil {
		return append(errs, err)
	}
	if err := v.errorEnvelope.VisitJSON(value, append(v.schemaOpts, openapi3.VisitAsResponse())...); err != nil {
		errs = append(errs, fmt.Errorf("body doesn't match schema ErrorEnvelope: %w", err))
	}
	return append(errs, v.checkEnvelope(req, status, header, body)...)
}

func (v *Validator) checkRequestIDHeader(header http.Header) error {
	values := header.Values(headerRequestID)
	switch {
	case len(values) == 0:
		return fmt.Errorf("response header %s is missing", headerRequestID)
	case len(values) > 1:
		return fmt.Errorf("response header %s is set %d times", headerRequestID, len(values))
	case !v.requestID.MatchString(values[0]):
		return fmt.Errorf("response header %s %q does not match %s", headerRequestID, values[0], requestIDPattern)
	}
	return nil
}

// checkEnvelope checks the envelope's consistency with the exchange. Bodies that are
// not envelopes (the JWK Set, the JSON spec) are left alone: they have no "success".
func (v *Validator) checkEnvelope(req *http.Request, status int, header http.Header, body []byte) []error {
	var env struct {
		Success    *bool            `json:"success"`
		StatusCode *json.Number     `json:"statusCode"`
		Path       *string          `json:"path"`
		RequestID  *string          `json:"requestId"`
		Error      *json.RawMessage `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil || env.Success == nil {
		return nil // not an object with "success": the schema check reports what is wrong
	}
	var errs []error
	if *env.Success {
		errs = append(errs, checkSuccessMembers(body)...)
	}
	if env.StatusCode != nil && env.StatusCode.String() != fmt.Sprint(status) {
		errs = append(errs, fmt.Errorf("envelope statusCode %s differs from the HTTP status %d", env.StatusCode, status))
	}
	if want := status < 400; *env.Success != want {
		errs = append(errs, fmt.Errorf("envelope success is %t for HTTP status %d", *env.Success, status))
	}
	if env.RequestID != nil && *env.RequestID != header.Get(headerRequestID) {
		errs = append(errs, fmt.Errorf("envelope requestId %q differs from the %s header %q",
			*env.RequestID, headerRequestID, header.Get(headerRequestID)))
	}
	if env.Path != nil && *env.Path != req.URL.Path {
		errs = append(errs, fmt.Errorf("envelope path %q differs from the request path %q", *env.Path, req.URL.Path))
	}
	if env.Error != nil {
		var e struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(*env.Error, &e) == nil && e.Code != "" {
			if want, ok := v.statusByCode[e.Code]; ok && want != status {
				errs = append(errs, fmt.Errorf("error code %s goes with HTTP status %d, not %d", e.Code, want, status))
			}
		}
	}
	return errs
}

func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("body has data after the JSON value")
	}
	return value, nil
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func documentedStatuses(r *openapi3.Responses) []string {
	out := make([]string, 0, r.Len())
	for k := range r.Map() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contentTypes(c openapi3.Content) []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unwrapMulti flattens kin-openapi's multi-errors so each problem gets its own line.
func unwrapMulti(err error) []error {
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) && re.Err != nil {
		var me openapi3.MultiError
		if errors.As(re.Err, &me) {
			out := make([]error, 0, len(me))
			for _, e := range me {
				out = append(out, fmt.Errorf("%s: %w", re.Reason, e))
			}
			return out
		}
	}
	return []error{err}
}

func abbreviate(body []byte) string {
	const max = 2000
	if len(body) > max {
		return string(body[:max]) + "..."
	}
	return string(body)
}

// successMembers are the members of a success envelope, all required. The
// spec's SuccessEnvelope cannot say "no other member" (its data comes from a
// second allOf branch), so the validator does.
var successMembers = []string{"success", "statusCode", "message", "data", "timestamp", "path", "requestId"}

func checkSuccessMembers(body []byte) []error {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return nil
	}
	var errs []error
	for _, m := range successMembers {
		if _, ok := members[m]; !ok {
			errs = append(errs, fmt.Errorf("success envelope has no %q", m))
		}
	}
	var extra []string
	for k := range members {
		if !slices.Contains(successMembers, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		errs = append(errs, fmt.Errorf("success envelope has unknown members %s", strings.Join(extra, ", ")))
	}
	return errs
}
