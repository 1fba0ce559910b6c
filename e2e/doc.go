// Package e2e holds Gatehouse's end-to-end tests: the real gatehouse binary, driven
// by a headless Chromium through the DevTools protocol (chromedp).
//
//   - The example single-page app (examples/spa), served by the service itself and
//     from another origin: sign in with the refresh cookie, silent refresh on
//     TOKEN_EXPIRED, step-up on FRESH_AUTH_REQUIRED, password change, sessions,
//     sign out; two tabs that refresh at the same moment.
//   - The admin console of the example app (#/admin/...): every action, against an
//     instance on SQLite and one on PostgreSQL (REQUIRE_POSTGRES=1 makes missing
//     PostgreSQL binaries a failure, as elsewhere).
//   - The Swagger UI at /docs: it renders the spec offline and "Try it out" works.
//
// Run them with `make test-e2e` (or `go test ./e2e/`). They need Debian's Chromium
// (`apt-get install chromium`); without a browser they are skipped, unless
// REQUIRE_BROWSER=1, which turns a missing browser into a failure. E2E_BROWSER names
// another browser binary; E2E_GATEHOUSE_BIN a gatehouse binary to test instead of
// building ./cmd/gatehouse. On a failure each test saves a screenshot of every tab, the
// browser console and the server log under test-artifacts/e2e/<test name>/ at the
// module root; E2E_SCREENSHOTS=1 also saves screenshots of a passing run under
// test-artifacts/screenshots/.
package e2e
