package spectest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

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
