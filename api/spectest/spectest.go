// Package spectest checks HTTP exchanges against Gatehouse's OpenAPI document
// (api/openapi.yaml) in tests: every response a test sees can be validated against
// the contract with a Validator.
package spectest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

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

var shared struct {
	once sync.Once
	v    *Validator
	err  error
}

// Shared is the Validator of New, built once per test binary (a Validator
// is immutable, so all the tests of a package can share one); a spec that
// does not load fails the test.
func Shared(t testing.TB) *Validator {
	t.Helper()
	shared.once.Do(func() { shared.v, shared.err = New() })
	if shared.err != nil {
		t.Fatalf("load spec: %v", shared.err)
	}
	return shared.v
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
