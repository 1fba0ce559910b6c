// Package config loads Gatehouse's typed configuration once, at start, and
// validates all of it before anything else runs.
//
// Every setting is one field below: its variable name and default sit in
// the field's env and envDefault tags (github.com/caarlos0/env reads them),
// and a check tag adds a range ("1ns,24h") or a named check ("listen").
// Adding a setting is adding a field (plus its line in configs/config.yaml
// and configs/.env.example, which tests check); one stored in two fields
// is a row in compound (settings.go).
// A value comes from, in order of precedence: the environment variable; a
// flat YAML file whose keys are the variable names in lower case (the file
// named by CONFIG_FILE, or configs/config.yaml when that is unset and the
// file exists); the default. So the service starts with no configuration.
//
// A bad value is never replaced by the default: Load fails with one line
// naming each bad variable, so the operator sees the mistake at start.
package config

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/sealbox"
)

// Config is the complete, validated configuration of the service. Obtain it
// from Load; every field then holds a checked value (derived fields too).
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
	EmailCode EmailCode
	OAuth     OAuth
	Webhooks  Webhooks

	// MetricsAddr is the Prometheus /metrics listener; empty means none.
	MetricsAddr string `env:"METRICS_ADDR" check:"listen?"`
	// ExampleApp serves the example SPA at /example/ (off by default: a
	// production auth origin serves no demo pages; `make run` turns it on).
	ExampleApp bool `env:"EXAMPLE_APP_ENABLED" envDefault:"false"`

	// file is the YAML file the values were read from ("" when none), kept
	// only so the startup log line can say where the settings came from.
	file string
}

// Tracing configures OpenTelemetry; both endpoints empty turns it off.
type Tracing struct {
	// OTLPEndpoint is the base URL of an OTLP/HTTP collector: spans go to
	// its /v1/traces, as the OpenTelemetry environment conventions say.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT" check:"httpurl"`
	// OTLPTracesEndpoint is the full URL spans are posted to; it wins.
	OTLPTracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" check:"httpurl"`
}

// TracesURL is where spans are posted, or "" when tracing is off: the
// per-signal URL as is, else the base URL with "v1/traces" appended as a
// path segment (a base with a path keeps it).
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
	Addr string `env:"HTTP_ADDR" envDefault:":3000" check:"listen"`
	// BodyLimit is the largest request body in bytes (binary units: KB = KiB).
	BodyLimit int64 `env:"BODY_LIMIT" envDefault:"64KB" check:"1KiB,64MiB"`
	// ReadHeaderTimeout is what stops slowloris.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s" check:"1ns,"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"15s" check:"1ns,"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s" check:"1ns,"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s" check:"1ns,"`
	// RequestTimeout is the deadline put on each request's context.
	RequestTimeout  time.Duration `env:"REQUEST_TIMEOUT" envDefault:"10s" check:"1ns,"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" check:"1ns,"`
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (comma-separated CIDRs; a bare IP is a /32 or /128). Never nil.
	TrustedProxies []netip.Prefix `env:"TRUSTED_PROXIES"`
	// CORSAllowedOrigins may send credentialed and cookie-authenticated
	// requests, normalized to the form browsers send in Origin. Never nil.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS"`
}

// Database configures the database connection.
type Database struct {
	// URL may hold a password: log Config.Redacted, never this field.
	URL string `env:"DATABASE_URL" envDefault:"sqlite://./data/gatehouse.db" check:"dburl"`
	// Driver ("postgres" or "sqlite") and DSN are derived from URL: for
	// sqlite the path (with any query) or ":memory:".
	Driver, DSN string
	// PasswordFile holds the password for a postgres URL (a mounted secret):
	// Load puts it into URL and DSN, so no variable or compose file holds it.
	PasswordFile string `env:"DATABASE_PASSWORD_FILE" check:"file"`
	MaxOpenConns int    `env:"DB_MAX_OPEN_CONNS" envDefault:"20" check:"1,2147483647"`
	// MaxIdleConns defaults to MaxOpenConns: a pool that closes connections
	// after a burst reopens them on the next, and that churn was the largest
	// cost of refresh under load.
	MaxIdleConns int `env:"DB_MAX_IDLE_CONNS" envDefault:"20" check:"0,2147483647"`
	// ConnMaxLifetime 0 means connections are never recycled by age.
	ConnMaxLifetime time.Duration `env:"DB_CONN_MAX_LIFETIME" envDefault:"30m" check:"0s,"`
	MigrateOnStart  bool          `env:"DB_MIGRATE_ON_START" envDefault:"true"`
}

// JWT configures access tokens and signing keys.
type JWT struct {
	// Issuer defaults to PUBLIC_URL, where the discovery document is, so
	// standard OIDC clients accept it.
	Issuer         string        `env:"JWT_ISSUER" check:"printable"`
	Audience       string        `env:"JWT_AUDIENCE" envDefault:"gatehouse" check:"nonempty"`
	AccessTokenTTL time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m" check:"1ns,24h"`
	// Leeway is the clock skew tolerated on exp/nbf: the contract allows a few seconds.
	Leeway time.Duration `env:"JWT_LEEWAY" envDefault:"0s" check:"0s,30s"`
	// PrivateKeyFile is a PEM file with the signing key(s); empty means keys
	// generated and kept in the database.
	PrivateKeyFile string `env:"JWT_PRIVATE_KEY_FILE" check:"file"`
	// RotationInterval is how long each database key signs (0 is off);
	// PublishAhead how long a new key is in the JWKS before it signs;
	// ReloadInterval how often each instance re-reads the keys.
	RotationInterval time.Duration `env:"JWT_KEY_ROTATION_INTERVAL" envDefault:"720h" check:"0s,"`
	PublishAhead     time.Duration `env:"JWT_KEY_PUBLISH_AHEAD" envDefault:"1h" check:"0s,"`
	ReloadInterval   time.Duration `env:"JWT_KEY_RELOAD_INTERVAL" envDefault:"1m" check:"1s,"`
	// DataKeys encrypts private keys and other secrets at rest (base64 of 32
	// bytes, or file:PATH; several comma-separated while changing it, the
	// first encrypting). Nil when unset.
	DataKeys *sealbox.Keyring `env:"DATA_ENCRYPTION_KEY"`
}

// Session configures refresh-token sessions.
type Session struct {
	// RefreshIdleTTL counts from the last refresh, RefreshAbsoluteTTL (at
	// least the idle one) from login.
	RefreshIdleTTL     time.Duration `env:"REFRESH_IDLE_TTL" envDefault:"168h" check:"1ns,"`
	RefreshAbsoluteTTL time.Duration `env:"REFRESH_ABSOLUTE_TTL" envDefault:"720h" check:"1ns,"`
	// RefreshReuseGrace is how long a just-rotated token is answered
	// instead of treated as reuse.
	RefreshReuseGrace time.Duration `env:"REFRESH_REUSE_GRACE" envDefault:"10s" check:"0s,5m"`
	// RefreshKeyFile holds the refresh tokens' MAC key (32 bytes, base64);
	// empty means a key generated and kept in the database.
	RefreshKeyFile string `env:"REFRESH_TOKEN_KEY_FILE" check:"file"`
	// StepUpMaxAge is how recent auth_time must be for sensitive operations.
	StepUpMaxAge  time.Duration `env:"STEP_UP_MAX_AGE" envDefault:"10m" check:"1ns,"`
	PurgeInterval time.Duration `env:"SESSION_PURGE_INTERVAL" envDefault:"1h" check:"1ns,"`
	// MaxPerUser caps an account's sessions; one more revokes the oldest.
	MaxPerUser int `env:"MAX_SESSIONS_PER_USER" envDefault:"100" check:"1,100000"`
	// RevocationCacheTTL caches session liveness per instance (0 = none; at
	// most 1s so a revocation reaches every instance almost at once).
	RevocationCacheTTL time.Duration `env:"SESSION_CACHE_TTL" envDefault:"0s" check:"0s,1s"`
}

// Cookie configures the refresh-token cookie.
type Cookie struct {
	// Secure is off only for plain-HTTP development.
	Secure bool `env:"COOKIE_SECURE" envDefault:"true"`
	// SameSiteName is "strict", "lax" or "none"; SameSite is derived from it.
	SameSiteName string `env:"COOKIE_SAMESITE" envDefault:"strict" check:"oneof:strict,lax,none"`
	SameSite     http.SameSite
}

// Password configures argon2id hashing.
type Password struct {
	// MemoryKiB is the memory cost (PASSWORD_ARGON2_MEMORY, a size such as
	// "19MiB"; a row in compound, as the type alone cannot say it is a size).
	MemoryKiB   uint32
	Iterations  uint32 `env:"PASSWORD_ARGON2_ITERATIONS" envDefault:"2" check:"1,20"`
	Parallelism uint8  `env:"PASSWORD_ARGON2_PARALLELISM" envDefault:"1" check:"1,16"`
	// MaxConcurrent caps hashes at once, so a login burst cannot exhaust
	// memory; 0 means one per usable CPU, resolved by Load (so it is >= 1).
	MaxConcurrent int `env:"PASSWORD_HASH_CONCURRENCY" envDefault:"0" check:"0,1024"`
}

// Login configures login throttling. The "N/WINDOW" limits ("0" is off)
// are rows in compound, as each fills two fields.
type Login struct {
	// MaxFailures within Lockout lock the account (per account and client).
	MaxFailures int           `env:"LOGIN_MAX_FAILURES" envDefault:"10" check:"1,2147483647"`
	Lockout     time.Duration `env:"LOGIN_LOCKOUT" envDefault:"15m" check:"1ns,"`
	// After BackoffAfter consecutive failures each attempt waits BackoffBase,
	// doubled per further failure.
	BackoffAfter int           `env:"LOGIN_BACKOFF_AFTER" envDefault:"5" check:"0,2147483647"`
	BackoffBase  time.Duration `env:"LOGIN_BACKOFF_BASE" envDefault:"1s" check:"0s,1h"`
	// AccountBackoffAfter failures on one account from all clients slow it
	// (0 off), by at most AccountMaxDelay: slowed, never locked.
	AccountBackoffAfter int           `env:"LOGIN_ACCOUNT_BACKOFF_AFTER" envDefault:"100" check:"0,2147483647"`
	AccountMaxDelay     time.Duration `env:"LOGIN_ACCOUNT_MAX_DELAY" envDefault:"30s" check:"1ns,1h"`
	// EmailChanges per EmailChangeWindow bound email changes (EMAIL_CHANGE_LIMIT).
	EmailChanges      int
	EmailChangeWindow time.Duration
}

// Audit configures the security events.
type Audit struct {
	Retention time.Duration `env:"SECURITY_EVENT_RETENTION" envDefault:"8760h" check:"1h,"`
	// PerUser per Window bound the events one account adds (SECURITY_EVENT_LIMIT).
	PerUser int
	Window  time.Duration
}

// RateLimit is the per-client limit (IPv6 by /64) on every route but the
// probes: PerIP requests per Window (RATE_LIMIT_PER_IP; both 0 when off).
type RateLimit struct {
	PerIP  int
	Window time.Duration
}

// Log configures the structured logger.
type Log struct {
	Level  string `env:"LOG_LEVEL" envDefault:"info" check:"oneof:debug,info,warn,error"`
	Format string `env:"LOG_FORMAT" envDefault:"json" check:"oneof:json,text"`
}

// Mail configures outgoing mail and the account-recovery flows.
type Mail struct {
	// PublicURL is the service's external URL without a trailing slash;
	// links, the WebAuthn origin and the issuer derive from it.
	PublicURL string `env:"PUBLIC_URL" envDefault:"http://localhost:3000" check:"publicurl"`
	// URL is "" (mail off), "log:" or smtp(s)://. It may hold a password:
	// log Config.Redacted, never this field.
	URL string `env:"MAIL_URL" check:"mailurl"`
	// PasswordFile holds the SMTP password (a mounted secret); Load puts it into URL.
	PasswordFile string `env:"MAIL_PASSWORD_FILE" check:"file"`
	From         string `env:"MAIL_FROM" envDefault:"Gatehouse <no-reply@localhost>" check:"from"`
	// TemplatesDir overrides bundled templates; the mailer checks them at start.
	TemplatesDir string `env:"MAIL_TEMPLATES_DIR" check:"dir"`
	// VerifyLink and ResetLink have {token} replaced; empty means the example
	// app under PublicURL, which Load fills in.
	VerifyLink string        `env:"EMAIL_VERIFY_LINK" check:"link:{token}"`
	ResetLink  string        `env:"PASSWORD_RESET_LINK" check:"link:{token}"`
	VerifyTTL  time.Duration `env:"EMAIL_VERIFY_TTL" envDefault:"24h" check:"1m,720h"`
	ResetTTL   time.Duration `env:"PASSWORD_RESET_TTL" envDefault:"30m" check:"1m,24h"`
	// RequireVerification refuses login to unverified accounts and makes
	// registration answer alike for new and existing addresses (needs MAIL_URL).
	RequireVerification bool          `env:"REQUIRE_EMAIL_VERIFICATION" envDefault:"false"`
	PollInterval        time.Duration `env:"MAIL_POLL_INTERVAL" envDefault:"1s" check:"10ms,1m"`
	// RetryBase is the wait after a first failed delivery, doubled per failure up to an hour.
	RetryBase time.Duration `env:"MAIL_RETRY_BASE" envDefault:"30s" check:"10ms,1h"`
	// PerAddress and PerIP bound the mails one address or client can trigger
	// (MAIL_RATE_PER_ADDRESS, MAIL_RATE_PER_IP).
	PerAddress       int
	PerAddressWindow time.Duration
	PerIP            int
	PerIPWindow      time.Duration
}

// Enabled reports whether a mail transport is configured.
func (m Mail) Enabled() bool { return m.URL != "" }

// EmailCode configures sign-in with an emailed code.
type EmailCode struct {
	// TTL is the lifetime of a code and its link.
	TTL time.Duration `env:"EMAIL_CODE_TTL" envDefault:"10m" check:"1m,1h"`
	// Signup lets a code be mailed to an address with no account, and
	// create it.
	Signup bool `env:"EMAIL_CODE_SIGNUP" envDefault:"false"`
	// Link has {token} replaced; empty means the example app under
	// PublicURL when that is served (or mail is off), which Load fills in,
	// else no link: the mail carries the code alone.
	Link string `env:"EMAIL_CODE_LINK" check:"link:{token}"`
}

// OIDC configures Gatehouse as an OpenID provider for other apps.
type OIDC struct {
	Enabled bool `env:"OIDC_PROVIDER_ENABLED" envDefault:"true"`
	// LoginURL is where /oauth2/authorize sends the browser, {id} the
	// request's ID; empty means the example app's page, filled in by Load.
	LoginURL       string        `env:"OIDC_LOGIN_URL" check:"link:{id}"`
	AccessTokenTTL time.Duration `env:"OIDC_ACCESS_TOKEN_TTL" envDefault:"15m" check:"1m,24h"`
	CodeTTL        time.Duration `env:"OIDC_CODE_TTL" envDefault:"60s" check:"1s,10m"`
	// Issuer is derived: JWT_ISSUER when it is an http(s) URL, else PUBLIC_URL.
	Issuer string
}

// MFA configures second factors; their secrets are sealed with JWT.DataKeys.
type MFA struct {
	// Issuer is the label authenticator apps show.
	Issuer string `env:"MFA_ISSUER" envDefault:"Gatehouse" check:"nonempty"`
	// MaxFailures is the ceiling of consecutive failed codes before TOTP is
	// refused (NIST SP 800-63B 5.2.2: at most 100, never off).
	MaxFailures int `env:"MFA_MAX_FAILURES" envDefault:"100" check:"1,100"`
	// RPID is the WebAuthn relying party ID; empty means PUBLIC_URL's host.
	RPID   string `env:"WEBAUTHN_RP_ID" check:"rpid"`
	RPName string `env:"WEBAUTHN_RP_NAME" envDefault:"Gatehouse" check:"nonempty"`
	// Origins WebAuthn responses may come from; empty means PUBLIC_URL's
	// origin plus CORS_ALLOWED_ORIGINS.
	Origins []string `env:"WEBAUTHN_ORIGINS"`
}
