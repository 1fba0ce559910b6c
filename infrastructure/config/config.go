// Package config loads Gatehouse's typed configuration once, at start, and
// validates all of it before anything else runs.
//
// Every setting has a working default, so the service starts with no
// configuration at all. A value can come from, in order of precedence:
//
//  1. an environment variable (HTTP_ADDR, ACCESS_TOKEN_TTL, ...);
//  2. a flat YAML file whose keys are the variable names in lower case
//     (http_addr, access_token_ttl, ...): the file named by CONFIG_FILE, or
//     configs/config.yaml when CONFIG_FILE is unset and that file exists;
//  3. the built-in default.
//
// A bad value is never replaced by the default: Load fails with a one-line
// message naming the variable, so the operator sees the mistake at start
// instead of a service that silently behaves differently from what they wrote.
//
// The settings themselves are declared once, in the table in settings.go.
package config

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/sealbox"
)

// Config is the complete, validated configuration of the service. Obtain it
// from Load; every field then holds a checked value (derived fields included).
type Config struct {
	HTTP      HTTP
	Database  Database
	JWT       JWT
	Session   Session
	Cookie    Cookie
	Password  Password
	Login     Login
	RateLimit RateLimit
	Audit     Audit
	Log       Log
	Mail      Mail
	Tracing   Tracing
	MFA       MFA
	OIDC      OIDC
	Webhooks  Webhooks

	// MetricsAddr is the listen address of the Prometheus /metrics listener
	// (METRICS_ADDR). Empty, the default, means no metrics listener.
	MetricsAddr string
	// ExampleApp reports whether the example SPA is served at /example/
	// (EXAMPLE_APP_ENABLED, default false: a production auth origin should
	// serve no demo pages; `make run` turns it on).
	ExampleApp bool

	// file is the YAML file the values were read from ("" when none), kept
	// only so the startup log line can say where the settings came from.
	file string
}

// Tracing configures OpenTelemetry.
type Tracing struct {
	// OTLPEndpoint is the base URL of an OTLP/HTTP collector
	// (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://collector:4318): spans go to
	// its /v1/traces, as the OpenTelemetry environment conventions say.
	OTLPEndpoint string
	// OTLPTracesEndpoint is the full URL spans are posted to
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), used as is; it wins over
	// OTLPEndpoint. Both empty, the default, turns tracing off.
	OTLPTracesEndpoint string
}

// TracesURL is where spans are posted, or "" when tracing is off: the
// per-signal URL as is, else the base URL with "v1/traces" appended as a
// path segment (http://collector:4318 and http://collector:4318/ both give
// http://collector:4318/v1/traces; a base with a path keeps it).
func (t Tracing) TracesURL() string {
	if t.OTLPTracesEndpoint != "" {
		return t.OTLPTracesEndpoint
	}
	if t.OTLPEndpoint == "" {
		return ""
	}
	return strings.TrimRight(t.OTLPEndpoint, "/") + "/v1/traces"
}

// HTTP configures the public HTTP listener.
type HTTP struct {
	// Addr is the listen address (HTTP_ADDR, default ":3000").
	Addr string
	// BodyLimit is the largest accepted request body in bytes (BODY_LIMIT,
	// default "64KB" = 65536; binary units; 1 KiB..64 MiB).
	BodyLimit int64
	// ReadHeaderTimeout bounds reading the request headers
	// (HTTP_READ_HEADER_TIMEOUT, default 5s); it is what stops slowloris.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request (HTTP_READ_TIMEOUT, 15s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the response (HTTP_WRITE_TIMEOUT, 30s).
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive idle time (HTTP_IDLE_TIMEOUT, 120s).
	IdleTimeout time.Duration
	// RequestTimeout is the deadline put on each request's context
	// (REQUEST_TIMEOUT, 10s).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown (SHUTDOWN_TIMEOUT, 20s).
	ShutdownTimeout time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES, comma-separated CIDRs; a bare IP is a /32 or /128).
	// Empty by default: no proxy is trusted. Never nil after Load.
	TrustedProxies []netip.Prefix
	// CORSAllowedOrigins are the origins allowed for CORS with credentials
	// and for cookie-authenticated requests (CORS_ALLOWED_ORIGINS,
	// comma-separated). Each is normalized to lower-case scheme://host[:port]
	// without a default port, the form browsers send in the Origin header.
	// Empty by default. Never nil after Load.
	CORSAllowedOrigins []string
}

// Database configures the database connection.
type Database struct {
	// URL is the database URL as configured (DATABASE_URL, default
	// "sqlite://./data/gatehouse.db"). It may hold a password: log
	// Config.Redacted, never this field.
	URL string
	// Driver is derived from URL: "postgres" or "sqlite".
	Driver string
	// DSN is derived from URL: for postgres the URL itself, for sqlite the
	// file path (with any query string) or ":memory:".
	DSN string
	// PasswordFile names a file holding the database password
	// (DATABASE_PASSWORD_FILE), for a secret mounted by Docker or Kubernetes:
	// Load puts it into URL and DSN, so the password appears in no
	// environment variable or compose file.
	PasswordFile string
	// MaxOpenConns caps open connections (DB_MAX_OPEN_CONNS, default 20).
	MaxOpenConns int
	// MaxIdleConns caps idle connections (DB_MAX_IDLE_CONNS, default 20:
	// as many as may be open, because a pool that closes connections a
	// moment after a burst reopens them on the next, and that churn was the
	// largest cost of refresh under load).
	// database/sql lowers it to MaxOpenConns when it is larger.
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (DB_CONN_MAX_LIFETIME, 30m;
	// 0 means connections are never recycled by age).
	ConnMaxLifetime time.Duration
	// MigrateOnStart applies pending migrations at start
	// (DB_MIGRATE_ON_START, default true).
	MigrateOnStart bool
}

// JWT configures access tokens.
type JWT struct {
	// Issuer is the iss claim and the discovery document's issuer
	// (JWT_ISSUER, default PUBLIC_URL, so standard OIDC clients accept the
	// document; it defaulted to "gatehouse" before).
	Issuer string
	// Audience is the aud claim (JWT_AUDIENCE, default "gatehouse").
	Audience string
	// AccessTokenTTL is the access token lifetime (ACCESS_TOKEN_TTL,
	// default 15m; greater than 0 and at most 24h).
	AccessTokenTTL time.Duration
	// Leeway is the clock skew tolerated on exp/nbf (JWT_LEEWAY, default 0s,
	// at most 30s: the contract allows only a few seconds).
	Leeway time.Duration
	// PrivateKeyFile is a PEM file with the signing key(s)
	// (JWT_PRIVATE_KEY_FILE). Empty, the default, means a key generated at
	// first start and stored in the database. When set, Load checks that it
	// is a readable regular file.
	PrivateKeyFile string
	// RotationInterval is how long each database-managed key signs before
	// the next takes over (JWT_KEY_ROTATION_INTERVAL, default 720h; 0 off).
	RotationInterval time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs
	// (JWT_KEY_PUBLISH_AHEAD, default 1h).
	PublishAhead time.Duration
	// ReloadInterval is how often each instance re-reads the keys
	// (JWT_KEY_RELOAD_INTERVAL, default 1m).
	ReloadInterval time.Duration
	// DataKeys encrypts private keys (and other secrets) at rest
	// (DATA_ENCRYPTION_KEY: base64 of 32 bytes, or file:PATH; several keys
	// comma-separated when changing it, the first encrypting). Nil when unset.
	DataKeys *sealbox.Keyring
}

// Session configures refresh-token sessions.
type Session struct {
	// RefreshIdleTTL is the idle lifetime since the last refresh
	// (REFRESH_IDLE_TTL, default 168h).
	RefreshIdleTTL time.Duration
	// RefreshAbsoluteTTL is the lifetime since login (REFRESH_ABSOLUTE_TTL,
	// default 720h; at least RefreshIdleTTL).
	RefreshAbsoluteTTL time.Duration
	// RefreshReuseGrace is how long a just-rotated refresh token is still
	// answered instead of treated as reuse (REFRESH_REUSE_GRACE, default
	// 10s; 0..5m).
	RefreshReuseGrace time.Duration
	// RefreshKeyFile holds the MAC key of refresh tokens, 32 bytes in
	// base64 (REFRESH_TOKEN_KEY_FILE). Empty, the default, means a key
	// generated at first start and stored in the database.
	RefreshKeyFile string
	// MaxPerUser caps an account's active sessions; starting one more
	// revokes the oldest (MAX_SESSIONS_PER_USER, default 100).
	MaxPerUser int
	// StepUpMaxAge is how recent auth_time must be for sensitive operations
	// (STEP_UP_MAX_AGE, default 10m).
	StepUpMaxAge time.Duration
	// PurgeInterval is how often expired sessions are deleted
	// (SESSION_PURGE_INTERVAL, default 1h).
	PurgeInterval time.Duration
	// RevocationCacheTTL is how long a session-liveness answer may be cached
	// per instance (SESSION_CACHE_TTL, default 0s = no cache; at most 1s so
	// a revocation reaches every instance almost at once).
	RevocationCacheTTL time.Duration
}

// Cookie configures the refresh-token cookie.
type Cookie struct {
	// Secure sets the Secure attribute (COOKIE_SECURE, default true; turn it
	// off only for plain-HTTP development).
	Secure bool
	// SameSite is the SameSite attribute (COOKIE_SAMESITE, default strict).
	SameSite http.SameSite
	// SameSiteName is the normalized name of SameSite ("strict", "lax" or
	// "none"), for logs.
	SameSiteName string
}

// Password configures argon2id hashing.
type Password struct {
	// MemoryKiB is the argon2id memory cost in KiB
	// (PASSWORD_ARGON2_MEMORY, default "19MiB" = 19456; 8 KiB..1 GiB).
	MemoryKiB uint32
	// Iterations is the argon2id time cost (PASSWORD_ARGON2_ITERATIONS,
	// default 2; 1..20).
	Iterations uint32
	// Parallelism is the argon2id lanes (PASSWORD_ARGON2_PARALLELISM,
	// default 1; 1..16).
	Parallelism uint8
	// MaxConcurrent caps hashes computed at once, so a login burst cannot
	// exhaust memory (PASSWORD_HASH_CONCURRENCY, 0..1024). The configured
	// 0, the default, means "one per usable CPU" and is resolved by Load to
	// runtime.GOMAXPROCS(0), so after Load it is always at least 1.
	MaxConcurrent int
}

// Login configures per-account login throttling.
type Login struct {
	// MaxFailures is the number of failed password attempts within Lockout
	// before the account is locked for Lockout (LOGIN_MAX_FAILURES,
	// default 10; at least 1).
	MaxFailures int
	// Lockout is the lockout window and duration (LOGIN_LOCKOUT, 15m).
	Lockout time.Duration
	// BackoffAfter is the number of consecutive failures after which each
	// further attempt must wait (LOGIN_BACKOFF_AFTER, default 5).
	BackoffAfter int
	// BackoffBase is the first such wait, doubled with each further failure
	// (LOGIN_BACKOFF_BASE, default 1s, at most 1h).
	BackoffBase time.Duration
	// AccountBackoffAfter is the number of failures on one account from all
	// clients together, within Lockout, after which each further attempt on
	// it must wait (LOGIN_ACCOUNT_BACKOFF_AFTER, default 100; 0 turns it
	// off). The other limits above count per account and client.
	AccountBackoffAfter int
	// AccountMaxDelay caps that wait: the account is slowed, never locked
	// (LOGIN_ACCOUNT_MAX_DELAY, default 30s).
	AccountMaxDelay time.Duration
	// EmailChanges and EmailChangeWindow bound email changes per account
	// (EMAIL_CHANGE_LIMIT, default "10/1h"; "0" turns it off).
	EmailChanges      int
	EmailChangeWindow time.Duration
}

// Audit configures the security events.
type Audit struct {
	// Retention is how long security events are kept
	// (SECURITY_EVENT_RETENTION, default 8760h, 365 days).
	Retention time.Duration
	// PerUser and Window bound the events one account adds
	// (SECURITY_EVENT_LIMIT, default "300/1h"; "0" turns it off).
	PerUser int
	Window  time.Duration
}

// RateLimit configures the per-client rate limit (IPv6 by /64) on every
// route but the health probes.
type RateLimit struct {
	// PerIP is the number of requests allowed per Window (RATE_LIMIT_PER_IP,
	// default "600/1m"). 0, configured as "0", turns the limit off.
	PerIP int
	// Window is the rate-limit window; 0 when the limit is off.
	Window time.Duration
}

// Log configures the structured logger.
type Log struct {
	// Level is "debug", "info", "warn" or "error" (LOG_LEVEL, default info).
	Level string
	// Format is "json" or "text" (LOG_FORMAT, default json).
	Format string
}

// Mail configures outgoing mail and the account-recovery flows.
type Mail struct {
	// PublicURL is the service's own external URL, without a trailing slash
	// (PUBLIC_URL, default "http://localhost:3000"); links are built on it.
	PublicURL string
	// URL selects the transport (MAIL_URL): "" (the default) is mail off,
	// "log:" writes mails to the log, smtp:// and smtps:// deliver. It may
	// hold a password: log Config.Redacted, never this field.
	URL string
	// PasswordFile names a file holding the SMTP password
	// (MAIL_PASSWORD_FILE), for a mounted secret: Load puts it into URL, so
	// the password appears in no environment variable or compose file.
	PasswordFile string
	// From is the sender (MAIL_FROM, default "Gatehouse <no-reply@localhost>").
	From string
	// TemplatesDir is a directory of mail templates over the bundled ones
	// (MAIL_TEMPLATES_DIR, default "": the bundled ones only). Load checks
	// that it is a directory; its templates are checked when the mailer
	// loads them, at start.
	TemplatesDir string
	// VerifyLink and ResetLink are the link templates ({token} is replaced;
	// EMAIL_VERIFY_LINK, PASSWORD_RESET_LINK). Empty configured means the
	// example app under PublicURL, which Load fills in.
	VerifyLink, ResetLink string
	// VerifyTTL and ResetTTL are the lifetimes of emailed tokens
	// (EMAIL_VERIFY_TTL 24h, PASSWORD_RESET_TTL 30m).
	VerifyTTL, ResetTTL time.Duration
	// RequireVerification refuses login to unverified accounts and makes
	// registration answer alike for new and existing addresses
	// (REQUIRE_EMAIL_VERIFICATION, default false; needs MAIL_URL).
	RequireVerification bool
	// PollInterval is how often each instance looks for due mail
	// (MAIL_POLL_INTERVAL, default 1s).
	PollInterval time.Duration
	// RetryBase is the wait after a first failed delivery, doubled per
	// further failure up to an hour (MAIL_RETRY_BASE, default 30s).
	RetryBase time.Duration
	// PerAddress and PerAddressWindow bound the mails that forgot-password,
	// verification requests and repeated registrations can trigger for one
	// address (MAIL_RATE_PER_ADDRESS, default "3/15m"; "0" off).
	PerAddress       int
	PerAddressWindow time.Duration
	// PerIP and PerIPWindow bound the same requests per client IP
	// (MAIL_RATE_PER_IP, default "30/15m"; "0" off).
	PerIP       int
	PerIPWindow time.Duration
}

// Enabled reports whether a mail transport is configured.
func (m Mail) Enabled() bool { return m.URL != "" }

// OIDC configures Gatehouse as an OpenID provider for other apps.
type OIDC struct {
	// Enabled serves the provider's endpoints (OIDC_PROVIDER_ENABLED,
	// default true).
	Enabled bool
	// LoginURL is where /oauth2/authorize sends the browser, "{id}" the
	// request's ID (OIDC_LOGIN_URL); empty in the setting means the example
	// app's authorize page under PUBLIC_URL, which Load fills in.
	LoginURL string
	// AccessTokenTTL is the lifetime of clients' access tokens
	// (OIDC_ACCESS_TOKEN_TTL, default 15m).
	AccessTokenTTL time.Duration
	// CodeTTL is the lifetime of authorization codes (OIDC_CODE_TTL,
	// default 60s).
	CodeTTL time.Duration
	// Issuer is the iss of ID tokens and the base of the provider's
	// endpoints: JWT_ISSUER when it is an http(s) URL, else PUBLIC_URL
	// (derived by Load; OIDC clients need a URL).
	Issuer string
}

// MFA configures second factors. Their secrets at rest are sealed with
// JWT.DataKeys (DATA_ENCRYPTION_KEY), the one data-encryption setting.
type MFA struct {
	// Issuer is the label authenticator apps show (MFA_ISSUER, default
	// "Gatehouse").
	Issuer string
	// MaxFailures is the ceiling of consecutive failed second-factor codes
	// per account, past which TOTP codes are refused until a recovery code
	// or a password reset (MFA_MAX_FAILURES, 1 to 100, default 100).
	MaxFailures int
	// RPID is the WebAuthn relying party ID (WEBAUTHN_RP_ID); empty in the
	// setting means the host of PUBLIC_URL, which Load fills in.
	RPID string
	// RPName is the relying party's display name (WEBAUTHN_RP_NAME,
	// default "Gatehouse").
	RPName string
	// Origins are the origins WebAuthn responses may come from
	// (WEBAUTHN_ORIGINS, comma-separated); empty in the setting means the
	// origin of PUBLIC_URL plus CORS_ALLOWED_ORIGINS, which Load fills in.
	Origins []string
}
