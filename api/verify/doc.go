// Package verify lets a resource server accept Gatehouse access tokens
// without calling Gatehouse on every request.
//
// A Verifier fetches Gatehouse's public keys (the JWK Set at
// /.well-known/jwks.json), caches them and fetches them again when a token
// names a key it does not know (a rotation), at most once per
// Config.MinKeyRefresh. It checks what Gatehouse checks: the signature with
// the key's own algorithm, typ "at+jwt", iss, aud, exp, nbf and iat (with
// Config.Leeway for skewed clocks), and the required claims. Claims exposes
// sub, sid, roles, fresh, auth_time, aal and amr.
//
// Offline verification cannot see a logout: an access token stays valid until
// it expires. Online mode (Config.SessionURL, Gatehouse's GET /auth/session)
// asks Gatehouse whether the session is still alive and caches the answer per
// session for Config.SessionCacheTTL, so a revoked session is refused within
// that time. In online mode Claims.Roles are the account's roles from
// Gatehouse's answer (as they are now), not the token's (as they were when
// it was minted): a role an administrator removed stops counting within the
// cache time too. When Gatehouse cannot be reached the request is refused with
// 503 SERVICE_UNAVAILABLE (fail closed), unless Config.FailOpen is set.
//
// Refusals are *Error values with Gatehouse's codes (UNAUTHENTICATED,
// TOKEN_INVALID, TOKEN_EXPIRED, SESSION_REVOKED, FRESH_AUTH_REQUIRED,
// FORBIDDEN, SERVICE_UNAVAILABLE), and WriteError answers them with the same
// JSON envelope and WWW-Authenticate challenges Gatehouse sends, so a client
// handles a resource server's 401 and 403 exactly as it handles Gatehouse's.
// Middleware (net/http) and the verifyecho package (Echo) put the verified
// Claims in the request; RequireFresh and RequireAAL answer step-up
// challenges as RFC 9470 describes. A resource server's own errors can go
// out the same way: WriteError with an *Error of its own (Details for a
// VALIDATION_FAILED).
//
// Why a request was refused is the operator's to see, not the client's:
// Config.OnRefuse and Config.Logger get every refusal once, with its code
// and reason ("wrong aud", "exp passed", "unknown kid", "key set: ..."),
// never the token.
//
// This package is a Go module of its own, github.com/gatehouse/gatehouse/api/verify
// (tags api/verify/vX.Y.Z), requiring only jwx; the Echo middleware is
// another, .../api/verify/verifyecho, so a net/http server does not get Echo.
package verify
