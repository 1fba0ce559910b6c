package spectest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse/gatehouse/api/docs"
)

const (
	userID    = "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33"
	sessionID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d"
	reqID     = "0b6f6c1e-8d3a-4f2b-9c5e-7a1d2e3f4a5b"
	jsonType  = "application/json; charset=utf-8"
	jwt       = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"
)

func newValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func request(t *testing.T, method, target string) *http.Request {
	t.Helper()
	return httptest.NewRequest(method, "http://127.0.0.1:43210"+target, nil)
}

func headers(kv ...string) http.Header {
	h := http.Header{"Content-Type": {jsonType}, "X-Request-Id": {reqID}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func user() map[string]any {
	return map[string]any{
		"id": userID, "email": "ada@example.com", "name": "", "roles": []any{"user"}, "emailVerified": false, "locale": "en", "hasPassword": true,
		"createdAt": "2026-11-25T22:30:00.123Z", "updatedAt": "2026-11-25T22:30:00.123Z",
	}
}

func success(status int, path string, data any) map[string]any {
	return map[string]any{
		"success": true, "statusCode": status, "message": "ok", "data": data,
		"timestamp": "2026-11-25T22:30:00.123Z", "path": path, "requestId": reqID,
	}
}

func failure(status int, path, code string) map[string]any {
	return map[string]any{
		"success": false, "statusCode": status, "message": "nope",
		"error":     map[string]any{"code": code},
		"timestamp": "2026-11-25T22:30:00.123Z", "path": path, "requestId": reqID,
	}
}

func tokenPair(refresh bool) map[string]any {
	p := map[string]any{
		"accessToken": jwt, "tokenType": "Bearer", "expiresIn": 900, "user": user(),
		"session": map[string]any{"id": sessionID, "expiresAt": "2026-12-02T22:30:00Z"},
	}
	if refresh {
		p["refreshToken"] = strings.Repeat("r", 43)
	}
	return p
}

func body(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// with returns a copy of m with key set to value (or deleted when value is del).
func with(m map[string]any, key string, value any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if value == del {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

var del = &struct{}{}

func TestNewValidatesSpec(t *testing.T) {
	v := newValidator(t)
	if err := v.doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestSharedIsOneValidator: Shared builds the Validator once and hands the
// same one to every caller, concurrent ones included, and it knows the
// spec's operations.
func TestSharedIsOneValidator(t *testing.T) {
	got := make([]*Validator, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = Shared(t) })
	}
	wg.Wait()
	for i, v := range got {
		if v == nil || v != got[0] {
			t.Fatalf("caller %d got %p, caller 0 %p", i, v, got[0])
		}
	}
	if len(got[0].Operations()) == 0 {
		t.Fatal("the shared Validator knows no operation")
	}
}

// TestOperationsCoverAPI: every endpoint of API.md's table, plus the security events,
// the session check, discovery and the root redirect (issue 15).
func TestOperationsCoverAPI(t *testing.T) {
	want := []Operation{
		{"POST", "/auth/register"},
		{"POST", "/auth/login"},
		{"POST", "/auth/refresh"},
		{"POST", "/auth/logout"},
		{"POST", "/auth/logout-all"},
		{"POST", "/auth/reauthenticate"},
		{"GET", "/auth/sessions"},
		{"DELETE", "/auth/sessions/{id}"},
		{"GET", "/auth/session"},
		{"GET", "/users/me"},
		{"PATCH", "/users/me"},
		{"PUT", "/users/me/password"},
		{"PUT", "/users/me/email"},
		{"DELETE", "/users/me"},
		{"GET", "/users/me/security-events"},
		{"GET", "/admin/users"},
		{"GET", "/admin/users/{id}"},
		{"PATCH", "/admin/users/{id}"},
		{"DELETE", "/admin/users/{id}"},
		{"POST", "/admin/users/{id}/revoke-sessions"},
		{"GET", "/admin/users/{id}/security-events"},
		// One account's sessions and factors for the console (issue 24; the
		// contract is silent, the spec says what they are).
		{"GET", "/admin/users/{id}/sessions"},
		{"DELETE", "/admin/users/{id}/sessions/{sessionId}"},
		{"GET", "/admin/users/{id}/factors"},
		{"GET", "/admin/users/{id}/identities"},
		{"GET", "/admin/keys"},
		{"POST", "/admin/keys/rotate"},
		// Webhooks, hooks and app claims.
		{"GET", "/admin/webhooks/deliveries"},
		{"POST", "/admin/webhooks/deliveries/{id}/retry"},
		{"GET", "/.well-known/jwks.json"},
		{"GET", "/.well-known/openid-configuration"},
		{"GET", "/"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/docs"},
		{"GET", "/docs/openapi.yaml"},
		{"GET", "/docs/openapi.json"},
		{"GET", "/docs/{asset}"},
		// Account recovery and email.
		{"POST", "/auth/email/verification"},
		{"POST", "/auth/email/verify"},
		{"POST", "/auth/password/forgot"},
		{"POST", "/auth/password/reset"},
		{"POST", "/auth/mfa/totp"},
		{"DELETE", "/auth/mfa/totp"},
		{"POST", "/auth/mfa/totp/confirm"},
		{"POST", "/auth/mfa/recovery-codes"},
		{"POST", "/auth/mfa/verify"},
		{"POST", "/auth/passkeys/registration/options"},
		{"POST", "/auth/passkeys/registration"},
		{"GET", "/auth/passkeys"},
		{"DELETE", "/auth/passkeys/{id}"},
		{"POST", "/auth/passkeys/login/options"},
		{"POST", "/auth/passkeys/login"},
		// Sign in with an emailed code.
		{"POST", "/auth/email-code"},
		{"POST", "/auth/email-code/verify"},
		// Acting as an OpenID provider: the protocol endpoints and the envelope routes.
		{"GET", "/oauth2/authorize"},
		{"POST", "/oauth2/authorize"},
		{"POST", "/oauth2/token"},
		{"GET", "/oauth2/userinfo"},
		{"POST", "/oauth2/userinfo"},
		{"POST", "/oauth2/revoke"},
		{"GET", "/oauth2/logout"},
		{"POST", "/oauth2/logout"},
		{"GET", "/oauth2/requests/{id}"},
		{"POST", "/oauth2/requests/{id}/accept"},
		{"POST", "/oauth2/requests/{id}/reject"},
		{"GET", "/admin/oauth-clients"},
		{"POST", "/admin/oauth-clients"},
		{"DELETE", "/admin/oauth-clients/{clientId}"},
		{"GET", "/users/me/grants"},
		{"DELETE", "/users/me/grants/{clientId}"},
		// Sign in with other providers.
		{"GET", "/auth/providers"},
		{"GET", "/auth/oauth/{provider}/authorize"},
		{"GET", "/auth/oauth/{provider}/callback"},
		{"POST", "/auth/oauth/token"},
		{"POST", "/auth/identities/{id}"},
		{"GET", "/auth/identities"},
		{"DELETE", "/auth/identities/{id}"},
	}
	got := newValidator(t).Operations()
	for _, op := range want {
		if !slices.Contains(got, op) {
			t.Errorf("spec lacks %s %s", op.Method, op.Path)
		}
	}
	for _, op := range got {
		if !slices.Contains(want, op) {
			t.Errorf("spec has %s %s, which API.md does not list", op.Method, op.Path)
		}
	}
}

// TestSuccessEnvelopesRequireData: every 2xx JSON answer is a success
// envelope whose data is required (a strict generated client then types
// `data` as present, with no hand edit), save the documents that are not
// envelopes by contract. An envelope is SuccessEnvelope in an allOf whose
// other member requires and defines data.
func TestSuccessEnvelopesRequireData(t *testing.T) {
	v := newValidator(t)
	notEnvelopes := map[string]bool{
		"GET /.well-known/jwks.json": true, "GET /.well-known/openid-configuration": true, "GET /docs/openapi.json": true,
		"GET /docs/{asset}": true, // Swagger UI's files, source maps among them
		// The OpenID provider's protocol answers are plain OAuth 2.0 and
		// OpenID Connect JSON (RFC 6749, OIDC Core), read by standard clients.
		"POST /oauth2/token": true, "GET /oauth2/userinfo": true, "POST /oauth2/userinfo": true,
	}
	checked := 0
	for _, op := range v.Operations() {
		name := op.Method + " " + op.Path
		o := v.doc.Paths.Value(op.Path).GetOperation(op.Method)
		for status, r := range o.Responses.Map() {
			if len(status) != 3 || status[0] != '2' {
				continue
			}
			mt := r.Value.Content.Get("application/json")
			if mt == nil {
				continue
			}
			if notEnvelopes[name] {
				continue
			}
			checked++
			if err := requiresData(mt.Schema); err != nil {
				t.Errorf("%s %s: %v", name, status, err)
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d success answers checked", checked)
	}
	// The rule catches an envelope that lacks it.
	loose := &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{
		v.doc.Components.Schemas["SuccessEnvelope"],
		{Value: &openapi3.Schema{Properties: openapi3.Schemas{"data": {Value: openapi3.NewObjectSchema()}}}},
	}}}
	if requiresData(loose) == nil {
		t.Fatal("an envelope with an optional data passed")
	}
}

// requiresData reports why s is not a success envelope with a required data.
func requiresData(s *openapi3.SchemaRef) error {
	if s == nil || s.Value == nil {
		return errors.New("no schema")
	}
	envelope, data := false, false
	for _, part := range s.Value.AllOf {
		if part.Ref == "#/components/schemas/SuccessEnvelope" {
			envelope = true
			continue
		}
		if part.Value != nil && slices.Contains(part.Value.Required, "data") && part.Value.Properties["data"] != nil {
			data = true
		}
	}
	switch {
	case !envelope:
		return fmt.Errorf("schema %s is not allOf [SuccessEnvelope, ...]", s.Ref)
	case !data:
		return fmt.Errorf("schema %s does not require data", s.Ref)
	}
	return nil
}

// TestSpecConventions checks the house rules every operation of the spec follows.
func TestSpecConventions(t *testing.T) {
	v := newValidator(t)
	fresh := map[string]bool{"PUT /users/me/password": true, "PUT /users/me/email": true, "DELETE /users/me": true,
		"PATCH /admin/users/{id}": true, "DELETE /admin/users/{id}": true, "POST /admin/users/{id}/revoke-sessions": true,
		"POST /admin/keys/rotate": true,
		"POST /auth/mfa/totp":     true, "DELETE /auth/mfa/totp": true, "POST /auth/mfa/totp/confirm": true, "POST /auth/mfa/recovery-codes": true,

		"POST /auth/passkeys/registration/options": true, "POST /auth/passkeys/registration": true, "DELETE /auth/passkeys/{id}": true,
		"POST /admin/oauth-clients": true, "DELETE /admin/oauth-clients/{clientId}": true, "DELETE /users/me/grants/{clientId}": true}
	for _, op := range v.Operations() {
		name := op.Method + " " + op.Path
		o := v.doc.Paths.Value(op.Path).GetOperation(op.Method)
		if o.OperationID == "" || len(o.Tags) == 0 || o.Summary == "" {
			t.Errorf("%s: needs operationId, tags and summary", name)
		}
		if o.Security == nil {
			t.Errorf("%s: security must be explicit ([] for none)", name)
		}
		if o.Responses.Default() == nil {
			t.Errorf("%s: no default response", name)
		}
		for status, r := range o.Responses.Map() {
			if r.Value.Headers["X-Request-ID"] == nil {
				t.Errorf("%s %s: response does not reference the X-Request-ID header", name, status)
			}
			if status == "429" && r.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s 429: no Retry-After", name)
			}
			// The per-client budget covers every route but the probes.
			if budgeted := op.Path != "/healthz" && op.Path != "/readyz"; budgeted &&
				(r.Value.Headers["RateLimit"] == nil || r.Value.Headers["RateLimit-Policy"] == nil) {
				t.Errorf("%s %s: response does not reference the RateLimit and RateLimit-Policy headers", name, status)
			}
			mt := r.Value.Content.Get("application/json")
			if mt != nil && mt.Schema.Ref == "#/components/schemas/TokenPairEnvelope" && r.Value.Headers["Cache-Control"] == nil {
				t.Errorf("%s %s: token-bearing response without Cache-Control", name, status)
			}
		}
		// The OpenID provider's protocol endpoints take forms (RFC 6749) and
		// answer as their standards say, outside these JSON conventions.
		if rb := o.RequestBody; rb != nil && rb.Value.Content.Get("application/json") != nil {
			s := rb.Value.Content.Get("application/json").Schema.Value
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s: request body must have additionalProperties: false", name)
			}
			for _, status := range []int{400, 413, 415} {
				if o.Responses.Status(status) == nil {
					t.Errorf("%s: takes a body but does not document %d", name, status)
				}
			}
		}
		if fresh[name] {
			// The challenge is required, unless the 403 also carries a code
			// that is no step-up (EMAIL_NOT_VERIFIED on an enrolment), which
			// has none.
			r := o.Responses.Status(403)
			if r == nil || r.Value.Headers["WWW-Authenticate"] == nil ||
				(!r.Value.Headers["WWW-Authenticate"].Value.Required && !slices.ContainsFunc(errorCodes(r.Value), func(c string) bool { return c != "FRESH_AUTH_REQUIRED" })) {
				t.Errorf("%s: fresh-required operation must document 403 with WWW-Authenticate", name)
			}
			if !strings.Contains(o.Description, "fresh authentication") {
				t.Errorf("%s: description must say fresh authentication is required", name)
			}
		}
	}

	// The error codes are exactly API.md's table.
	codes := []string{
		"VALIDATION_FAILED", "MALFORMED_JSON", "UNAUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED",
		"SESSION_REVOKED", "INVALID_CREDENTIALS", "REFRESH_TOKEN_INVALID", "REFRESH_TOKEN_REUSED",
		"FRESH_AUTH_REQUIRED", "CSRF_REJECTED", "FORBIDDEN", "NOT_FOUND", "METHOD_NOT_ALLOWED",
		"EMAIL_TAKEN", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "TOO_MANY_REQUESTS",
		"SERVICE_UNAVAILABLE", "USER_DISABLED", "INTERNAL",
		// Account recovery and email.
		"EMAIL_NOT_VERIFIED", "EMAIL_LINK_INVALID", "MAIL_UNAVAILABLE",
		// Second factors.
		"MFA_CODE_INVALID", "PASSKEY_INVALID",
		// Sign in with an emailed code.
		"EMAIL_CODE_INVALID",
		// Sign in with other providers.
		"OAUTH_FAILED", "LAST_SIGN_IN_METHOD",
		// Webhooks, hooks and app claims.
		"SIGNUP_REJECTED",
	}
	var enum []string
	for _, e := range v.doc.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, e.(string))
	}
	slices.Sort(enum)
	slices.Sort(codes)
	if !slices.Equal(enum, codes) {
		t.Errorf("ErrorCode enum = %v, want %v", enum, codes)
	}
	for _, c := range codes {
		if !strings.Contains(v.doc.Info.Description, "| `"+c+"` |") {
			t.Errorf("info.description's table lacks %s", c)
		}
	}
}

func TestValidLoginPasses(t *testing.T) {
	v := newValidator(t)
	req := request(t, "POST", "/auth/login")
	h := headers("Cache-Control", "no-store")
	for _, data := range []map[string]any{tokenPair(true), tokenPair(false)} {
		if err := v.ValidateResponse(req, 200, h, body(t, success(200, "/auth/login", data))); err != nil {
			t.Error(err)
		}
	}
}

func TestMissingRequestIDFails(t *testing.T) {
	v := newValidator(t)
	req := request(t, "POST", "/auth/login")
	env := with(success(200, "/auth/login", tokenPair(false)), "requestId", del)
	err := v.ValidateResponse(req, 200, headers("Cache-Control", "no-store"), body(t, env))
	if err == nil || !strings.Contains(err.Error(), "requestId") {
		t.Fatalf("want an error about requestId, got %v", err)
	}
}

func TestUnknownErrorCodeFails(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct{ method, path string }{
		{"POST", "/auth/login"},
		{"GET", "/users/me"},
		{"GET", "/no/such/route"},
	} {
		req := request(t, tt.method, tt.path)
		err := v.ValidateResponse(req, 401, headers(), body(t, failure(401, tt.path, "BAD_LUCK")))
		if err == nil || !strings.Contains(err.Error(), "allowed values") {
			t.Errorf("%s %s: want an enum error, got %v", tt.method, tt.path, err)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	v := newValidator(t)
	// 404 on an unknown path and 405 on a known path: the error envelope passes.
	if err := v.ValidateResponse(request(t, "GET", "/nope"), 404, headers(), body(t, failure(404, "/nope", "NOT_FOUND"))); err != nil {
		t.Error(err)
	}
	if err := v.ValidateResponse(request(t, "PUT", "/auth/login"), 405, headers("Allow", "POST"), body(t, failure(405, "/auth/login", "METHOD_NOT_ALLOWED"))); err != nil {
		t.Error(err)
	}
	// A CORS preflight.
	if err := v.ValidateResponse(request(t, "OPTIONS", "/auth/refresh"), 204, http.Header{"X-Request-Id": {reqID}}, nil); err != nil {
		t.Error(err)
	}

	bad := map[string]struct {
		status int
		header http.Header
		body   []byte
	}{
		"success on unknown path": {200, headers(), body(t, success(200, "/nope", nil))},
		"envelope with data":      {404, headers(), body(t, with(failure(404, "/nope", "NOT_FOUND"), "data", nil))},
		"plain text":              {404, http.Header{"X-Request-Id": {reqID}, "Content-Type": {"text/plain"}}, []byte("404 page not found")},
		"code of another status":  {404, headers(), body(t, failure(404, "/nope", "METHOD_NOT_ALLOWED"))},
		"no X-Request-ID":         {404, http.Header{"Content-Type": {jsonType}}, body(t, failure(404, "/nope", "NOT_FOUND"))},
	}
	for name, tt := range bad {
		if err := v.ValidateResponse(request(t, "GET", "/nope"), tt.status, tt.header, tt.body); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}

func TestExchanges(t *testing.T) {
	v := newValidator(t)
	stepUp := `Bearer error="insufficient_user_authentication", max_age=600`
	events := map[string]any{
		"items": []any{map[string]any{
			"id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "type": "login_failed",
			"createdAt": "2026-11-25T22:30:40Z", "sessionId": nil, "ip": "203.0.113.7", "userAgent": "",
		}},
		"nextCursor": nil,
	}
	session := map[string]any{
		"id": sessionID, "createdAt": "2026-11-25T22:31:00Z", "lastUsedAt": "2026-11-25T22:31:00Z",
		"expiresAt": "2026-12-02T22:31:00Z", "userAgent": "curl/8", "ip": "::1", "current": true,
	}
	jwks := map[string]any{"keys": []any{map[string]any{
		"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
		"kid": "k1", "alg": "EdDSA", "use": "sig",
	}}}
	privateJWKS := map[string]any{"keys": []any{map[string]any{
		"kty": "OKP", "crv": "Ed25519", "x": "abc", "d": "secret", "kid": "k1", "alg": "EdDSA", "use": "sig",
	}}}
	clear := "refresh_token=; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
	set := "refresh_token=abc; Path=/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict"

	tests := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         any // marshalled unless []byte
		ok           bool
	}{
		{"register 201", "POST", "/auth/register", 201, headers("Cache-Control", "no-store", "Set-Cookie", set), success(201, "/auth/register", tokenPair(false)), true},
		{"register without no-store", "POST", "/auth/register", 201, headers(), success(201, "/auth/register", tokenPair(false)), false},
		{"register 409", "POST", "/auth/register", 409, headers(), failure(409, "/auth/register", "EMAIL_TAKEN"), true},
		{"register validation details", "POST", "/auth/register", 400, headers(), with(failure(400, "/auth/register", "VALIDATION_FAILED"), "error",
			map[string]any{"code": "VALIDATION_FAILED", "details": []any{map[string]any{"field": "email", "message": "must be a valid email address"}}}), true},
		{"register 200 instead of 201", "POST", "/auth/register", 200, headers("Cache-Control", "no-store"), success(200, "/auth/register", tokenPair(false)), false},
		{"login statusCode mismatch", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), success(201, "/auth/login", tokenPair(false)), false},
		{"login path mismatch", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), success(200, "/auth/register", tokenPair(false)), false},
		{"login requestId mismatch", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), with(success(200, "/auth/login", tokenPair(false)), "requestId", "other"), false},
		{"login without charset", "POST", "/auth/login", 200, http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {reqID}, "Cache-Control": {"no-store"}}, success(200, "/auth/login", tokenPair(false)), false},
		{"login unknown field in user", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), success(200, "/auth/login", with(tokenPair(false), "user", with(user(), "passwordHash", "x"))), false},
		{"login bad token type", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), success(200, "/auth/login", with(tokenPair(false), "tokenType", "bearer")), false},
		{"login bad uuid", "POST", "/auth/login", 200, headers("Cache-Control", "no-store"), success(200, "/auth/login", with(tokenPair(false), "user", with(user(), "id", "42"))), false},
		{"login 401 wrong code", "POST", "/auth/login", 401, headers(), failure(401, "/auth/login", "TOKEN_EXPIRED"), false},
		{"login 401", "POST", "/auth/login", 401, headers(), failure(401, "/auth/login", "INVALID_CREDENTIALS"), true},
		{"login 429", "POST", "/auth/login", 429, headers("Retry-After", "30"), failure(429, "/auth/login", "TOO_MANY_REQUESTS"), true},
		{"login 429 without Retry-After", "POST", "/auth/login", 429, headers(), failure(429, "/auth/login", "TOO_MANY_REQUESTS"), false},
		{"login code with wrong status (default)", "POST", "/auth/login", 418, headers(), failure(418, "/auth/login", "TOKEN_EXPIRED"), false},
		{"refresh 401 reuse", "POST", "/auth/refresh", 401, headers("Set-Cookie", clear), failure(401, "/auth/refresh", "REFRESH_TOKEN_REUSED"), true},
		{"refresh 403 csrf", "POST", "/auth/refresh", 403, headers(), failure(403, "/auth/refresh", "CSRF_REJECTED"), true},
		{"logout 200", "POST", "/auth/logout", 200, headers("Set-Cookie", clear), success(200, "/auth/logout", nil), true},
		{"logout without clearing", "POST", "/auth/logout", 200, headers(), success(200, "/auth/logout", nil), false},
		{"logout with data", "POST", "/auth/logout", 200, headers("Set-Cookie", clear), success(200, "/auth/logout", map[string]any{}), false},
		{"logout-all data missing", "POST", "/auth/logout-all", 200, headers("Set-Cookie", clear), with(success(200, "/auth/logout-all", nil), "data", del), false},
		{"sessions", "GET", "/auth/sessions", 200, headers(), success(200, "/auth/sessions", []any{session}), true},
		{"session revoke", "DELETE", "/auth/sessions/" + sessionID, 200, headers(), success(200, "/auth/sessions/"+sessionID, nil), true},
		{"session revoke 404", "DELETE", "/auth/sessions/" + sessionID, 404, headers(), failure(404, "/auth/sessions/"+sessionID, "NOT_FOUND"), true},
		{"me", "GET", "/users/me", 200, headers(), success(200, "/users/me", user()), true},
		{"me 401 expired", "GET", "/users/me", 401, headers("WWW-Authenticate", `Bearer error="invalid_token"`), failure(401, "/users/me", "TOKEN_EXPIRED"), true},
		{"me with 201", "GET", "/users/me", 201, headers(), success(201, "/users/me", user()), false},
		{"me with an unknown envelope member", "GET", "/users/me", 200, headers(), with(success(200, "/users/me", user()), "extra", 1), false},
		{"me 401 with a code of another response", "GET", "/users/me", 401, headers(), failure(401, "/users/me", "INVALID_CREDENTIALS"), false},
		{"password 403 fresh", "PUT", "/users/me/password", 403, headers("WWW-Authenticate", stepUp), failure(403, "/users/me/password", "FRESH_AUTH_REQUIRED"), true},
		{"password 403 without challenge", "PUT", "/users/me/password", 403, headers(), failure(403, "/users/me/password", "FRESH_AUTH_REQUIRED"), false},
		{"delete me", "DELETE", "/users/me", 200, headers("Set-Cookie", clear), success(200, "/users/me", nil), true},
		{"security events", "GET", "/users/me/security-events?limit=5", 200, headers(), success(200, "/users/me/security-events", events), true},
		{"security events bad type", "GET", "/users/me/security-events", 200, headers(), success(200, "/users/me/security-events",
			map[string]any{"items": []any{with(events["items"].([]any)[0].(map[string]any), "type", "coffee")}, "nextCursor": nil}), false},
		{"jwks", "GET", "/.well-known/jwks.json", 200, headers(), jwks, true},
		{"jwks with private key", "GET", "/.well-known/jwks.json", 200, headers(), privateJWKS, false},
		{"jwks in an envelope", "GET", "/.well-known/jwks.json", 200, headers(), success(200, "/.well-known/jwks.json", jwks), false},
		{"healthz", "GET", "/healthz", 200, headers(), success(200, "/healthz", map[string]any{"status": "ok"}), true},
		{"readyz 503", "GET", "/readyz", 503, headers(), failure(503, "/readyz", "SERVICE_UNAVAILABLE"), true},
		{"readyz 503 wrong code", "GET", "/readyz", 503, headers(), failure(503, "/readyz", "INTERNAL"), false},
		{"HEAD healthz", "HEAD", "/healthz", 200, headers(), []byte{}, true},
		{"HEAD with a body", "HEAD", "/healthz", 200, headers(), success(200, "/healthz", map[string]any{"status": "ok"}), false},
		{"304 on an asset", "GET", "/docs/swagger-ui.css", 304, http.Header{"X-Request-Id": {reqID}}, []byte{}, true},
		{"500 leaks nothing extra", "GET", "/users/me", 500, headers(), with(failure(500, "/users/me", "INTERNAL"), "stack", "main.go:1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, isBytes := tt.body.([]byte)
			if !isBytes {
				b = body(t, tt.body)
			}
			err := v.ValidateResponse(request(t, tt.method, tt.path), tt.status, tt.header, b)
			if tt.ok && err != nil {
				t.Errorf("want ok, got %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("want an error, got none")
			}
			if !tt.ok && err != nil {
				t.Log(err)
			}
		})
	}
}

// TestDocsHandlerMatchesSpec runs the docs handler behind a stand-in for the
// request-ID middleware and validates what it serves.
func TestDocsHandlerMatchesSpec(t *testing.T) {
	v := newValidator(t)
	h := docs.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", reqID)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, p := range []string{
		"/docs", "/docs/openapi.yaml", "/docs/openapi.json", "/docs/swagger-ui-bundle.js",
		"/docs/swagger-ui.css", "/docs/favicon-16x16.png", "/docs/swagger-initializer.js", "/docs/nope.txt",
	} {
		req, err := http.NewRequest("GET", srv.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := v.ValidateResponse(req, resp.StatusCode, resp.Header, b); err != nil {
			t.Error(err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	v := newValidator(t)
	good := body(t, success(200, "/auth/login", tokenPair(true)))
	bad := body(t, with(success(200, "/auth/login", tokenPair(true)), "requestId", del))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				req := request(t, "POST", "/auth/login")
				errGood := v.ValidateResponse(req, 200, headers("Cache-Control", "no-store"), good)
				errBad := v.ValidateResponse(req, 200, headers("Cache-Control", "no-store"), bad)
				if errGood != nil || errBad == nil {
					t.Errorf("goroutine %d: good=%v bad=%v", i, errGood, errBad)
					return
				}
				_ = v.Operations()
			}
		})
	}
	wg.Wait()
}

func TestErrorMessageIsDescriptive(t *testing.T) {
	v := newValidator(t)
	req := request(t, "GET", "/users/me")
	err := v.ValidateResponse(req, 200, http.Header{"Content-Type": {jsonType}}, body(t, success(200, "/users/me", with(user(), "email", 5))))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"GET /users/me -> 200", "X-Request-ID", "email"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// errorCodes are the codes a response's x-error-codes lists.
func errorCodes(r *openapi3.Response) []string {
	raw, _ := r.Extensions["x-error-codes"].([]any)
	out := make([]string, 0, len(raw))
	for _, c := range raw {
		if s, ok := c.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
