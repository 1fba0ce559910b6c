package config

import (
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// setting is one row of the settings table: a variable name, its default
// (in the same syntax an operator would write) and how a raw value is
// stored into, and shown from, the Config the table was built for.
type setting struct {
	name string
	def  string
	// set parses and validates raw and stores it; on error nothing is stored.
	set func(raw string) error
	// show returns the stored value in a form fit for a log line.
	show func() any
}

// field is the common row: one variable parsed into one field.
func field[T any](name, def string, dst *T, parse func(string) (T, error)) setting {
	return setting{
		name: name,
		def:  def,
		set: func(raw string) error {
			v, err := parse(raw)
			if err == nil {
				*dst = v
			}
			return err
		},
		show: func() any { return display(*dst) },
	}
}

// shownAs replaces how the setting appears in Config.Redacted, for fields
// whose stored form reads badly in a log line.
func (s setting) shownAs(show func() any) setting {
	s.show = show
	return s
}

// display turns a stored value into something that logs readably: slog's
// JSON handler would print a time.Duration as nanoseconds.
func display(v any) any {
	switch v := v.(type) {
	case time.Duration:
		return v.String()
	case []netip.Prefix:
		out := make([]string, len(v))
		for i, p := range v {
			out[i] = p.String()
		}
		return out
	case []string:
		return append([]string{}, v...)
	}
	return v
}

// settings is the table of every setting, bound to the fields of c. The
// order is the order of configs/config.yaml. Adding a setting is adding a
// row here (and a line to configs/config.yaml and configs/.env.example,
// which a test checks).
func settings(c *Config) []setting {
	const maxInt = math.MaxInt32
	return []setting{
		field("HTTP_ADDR", ":3000", &c.HTTP.Addr, listenAddr(false)),
		field("BODY_LIMIT", "64KB", &c.HTTP.BodyLimit, sizeIn(1<<10, 64<<20)).
			shownAs(func() any { return formatSize(c.HTTP.BodyLimit) }),
		field("HTTP_READ_HEADER_TIMEOUT", "5s", &c.HTTP.ReadHeaderTimeout, duration(1, noMax)),
		field("HTTP_READ_TIMEOUT", "15s", &c.HTTP.ReadTimeout, duration(1, noMax)),
		field("HTTP_WRITE_TIMEOUT", "30s", &c.HTTP.WriteTimeout, duration(1, noMax)),
		field("HTTP_IDLE_TIMEOUT", "120s", &c.HTTP.IdleTimeout, duration(1, noMax)),
		field("REQUEST_TIMEOUT", "10s", &c.HTTP.RequestTimeout, duration(1, noMax)),
		field("SHUTDOWN_TIMEOUT", "20s", &c.HTTP.ShutdownTimeout, duration(1, noMax)),
		field("TRUSTED_PROXIES", "", &c.HTTP.TrustedProxies, prefixes),
		field("CORS_ALLOWED_ORIGINS", "", &c.HTTP.CORSAllowedOrigins, origins),

		{
			name: "DATABASE_URL",
			def:  "sqlite://./data/gatehouse.db",
			set: func(raw string) error {
				db, err := parseDatabaseURL(raw)
				if err == nil {
					c.Database.URL, c.Database.Driver, c.Database.DSN = raw, db.driver, db.dsn
				}
				return err
			},
			show: func() any { return redactURL(c.Database.URL) },
		},
		field("DATABASE_PASSWORD_FILE", "", &c.Database.PasswordFile, regularFile),
		field("DB_MAX_OPEN_CONNS", "20", &c.Database.MaxOpenConns, intIn(1, maxInt)),
		field("DB_MAX_IDLE_CONNS", "20", &c.Database.MaxIdleConns, intIn(0, maxInt)),
		field("DB_CONN_MAX_LIFETIME", "30m", &c.Database.ConnMaxLifetime, duration(0, noMax)),
		field("DB_MIGRATE_ON_START", "true", &c.Database.MigrateOnStart, boolean),

		// Empty means PUBLIC_URL (derived below, once PUBLIC_URL is known).
		field("JWT_ISSUER", "", &c.JWT.Issuer, printable),
		field("JWT_AUDIENCE", "gatehouse", &c.JWT.Audience, nonEmpty),
		field("ACCESS_TOKEN_TTL", "15m", &c.JWT.AccessTokenTTL, duration(1, 24*time.Hour)),
		field("JWT_LEEWAY", "0s", &c.JWT.Leeway, duration(0, 30*time.Second)),
		field("JWT_PRIVATE_KEY_FILE", "", &c.JWT.PrivateKeyFile, regularFile),
		field("JWT_KEY_ROTATION_INTERVAL", "720h", &c.JWT.RotationInterval, duration(0, noMax)),
		field("JWT_KEY_PUBLISH_AHEAD", "1h", &c.JWT.PublishAhead, duration(0, noMax)),
		field("JWT_KEY_RELOAD_INTERVAL", "1m", &c.JWT.ReloadInterval, duration(time.Second, noMax)),
		{
			name: "DATA_ENCRYPTION_KEY",
			def:  "",
			set: func(raw string) error {
				if raw == "" {
					c.JWT.DataKeys = nil
					return nil
				}
				k, err := sealbox.Parse(raw)
				if err == nil {
					c.JWT.DataKeys = k
				}
				return err
			},
			// Never the key: only whether one is set, and its public ID.
			show: func() any {
				if c.JWT.DataKeys == nil {
					return "unset"
				}
				return "set (key id " + c.JWT.DataKeys.KeyID() + ")"
			},
		},

		field("REFRESH_IDLE_TTL", "168h", &c.Session.RefreshIdleTTL, duration(1, noMax)),
		field("REFRESH_ABSOLUTE_TTL", "720h", &c.Session.RefreshAbsoluteTTL, duration(1, noMax)),
		field("REFRESH_REUSE_GRACE", "10s", &c.Session.RefreshReuseGrace, duration(0, 5*time.Minute)),
		field("REFRESH_TOKEN_KEY_FILE", "", &c.Session.RefreshKeyFile, regularFile),
		field("STEP_UP_MAX_AGE", "10m", &c.Session.StepUpMaxAge, duration(1, noMax)),
		field("SESSION_PURGE_INTERVAL", "1h", &c.Session.PurgeInterval, duration(1, noMax)),
		field("MAX_SESSIONS_PER_USER", "100", &c.Session.MaxPerUser, intIn(1, 100000)),
		field("SESSION_CACHE_TTL", "0s", &c.Session.RevocationCacheTTL, duration(0, time.Second)),

		field("COOKIE_SECURE", "true", &c.Cookie.Secure, boolean),
		{
			name: "COOKIE_SAMESITE",
			def:  "strict",
			set: func(raw string) error {
				mode, name, err := sameSite(raw)
				if err == nil {
					c.Cookie.SameSite, c.Cookie.SameSiteName = mode, name
				}
				return err
			},
			show: func() any { return c.Cookie.SameSiteName },
		},

		field("PASSWORD_ARGON2_MEMORY", "19MiB", &c.Password.MemoryKiB, kibIn(8<<10, 1<<30)).
			shownAs(func() any { return formatSize(int64(c.Password.MemoryKiB) << 10) }),
		field("PASSWORD_ARGON2_ITERATIONS", "2", &c.Password.Iterations, intIn[uint32](1, 20)),
		field("PASSWORD_ARGON2_PARALLELISM", "1", &c.Password.Parallelism, intIn[uint8](1, 16)),
		field("PASSWORD_HASH_CONCURRENCY", "0", &c.Password.MaxConcurrent, hashConcurrency),

		field("LOGIN_MAX_FAILURES", "10", &c.Login.MaxFailures, intIn(1, maxInt)),
		field("LOGIN_LOCKOUT", "15m", &c.Login.Lockout, duration(1, noMax)),
		field("LOGIN_BACKOFF_AFTER", "5", &c.Login.BackoffAfter, intIn(0, maxInt)),
		field("LOGIN_BACKOFF_BASE", "1s", &c.Login.BackoffBase, duration(0, time.Hour)),
		field("LOGIN_ACCOUNT_BACKOFF_AFTER", "100", &c.Login.AccountBackoffAfter, intIn(0, maxInt)),
		field("LOGIN_ACCOUNT_MAX_DELAY", "30s", &c.Login.AccountMaxDelay, duration(1, time.Hour)),
		rateSetting("EMAIL_CHANGE_LIMIT", "10/1h", &c.Login.EmailChanges, &c.Login.EmailChangeWindow),

		{
			name: "RATE_LIMIT_PER_IP",
			def:  "600/1m",
			set: func(raw string) error {
				r, err := parseRate(raw)
				if err == nil {
					c.RateLimit.PerIP, c.RateLimit.Window = r.n, r.window
				}
				return err
			},
			show: func() any {
				if c.RateLimit.PerIP == 0 {
					return "0"
				}
				return fmt.Sprintf("%d/%s", c.RateLimit.PerIP, c.RateLimit.Window)
			},
		},

		field("SECURITY_EVENT_RETENTION", "8760h", &c.Audit.Retention, duration(time.Hour, noMax)),
		rateSetting("SECURITY_EVENT_LIMIT", "300/1h", &c.Audit.PerUser, &c.Audit.Window),

		field("LOG_LEVEL", "info", &c.Log.Level, oneOf("debug", "info", "warn", "error")),
		field("LOG_FORMAT", "json", &c.Log.Format, oneOf("json", "text")),

		field("PUBLIC_URL", defaultPublicURL, &c.Mail.PublicURL, publicURL),
		field("MAIL_URL", "", &c.Mail.URL, mailURL).shownAs(func() any { return redactMailURL(c.Mail.URL) }),
		field("MAIL_PASSWORD_FILE", "", &c.Mail.PasswordFile, regularFile),
		field("MAIL_FROM", "Gatehouse <no-reply@localhost>", &c.Mail.From, mailFrom),
		field("MAIL_TEMPLATES_DIR", "", &c.Mail.TemplatesDir, directory),
		field("EMAIL_VERIFY_LINK", "", &c.Mail.VerifyLink, linkTemplate),
		field("PASSWORD_RESET_LINK", "", &c.Mail.ResetLink, linkTemplate),
		field("EMAIL_VERIFY_TTL", "24h", &c.Mail.VerifyTTL, duration(time.Minute, 30*24*time.Hour)),
		field("PASSWORD_RESET_TTL", "30m", &c.Mail.ResetTTL, duration(time.Minute, 24*time.Hour)),
		field("REQUIRE_EMAIL_VERIFICATION", "false", &c.Mail.RequireVerification, boolean),
		field("MAIL_POLL_INTERVAL", "1s", &c.Mail.PollInterval, duration(10*time.Millisecond, time.Minute)),
		field("MAIL_RETRY_BASE", "30s", &c.Mail.RetryBase, duration(10*time.Millisecond, time.Hour)),
		rateSetting("MAIL_RATE_PER_ADDRESS", "3/15m", &c.Mail.PerAddress, &c.Mail.PerAddressWindow),
		rateSetting("MAIL_RATE_PER_IP", "30/15m", &c.Mail.PerIP, &c.Mail.PerIPWindow),

		field("OTEL_EXPORTER_OTLP_ENDPOINT", "", &c.Tracing.OTLPEndpoint, httpURL),
		field("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", &c.Tracing.OTLPTracesEndpoint, httpURL),
		field("MFA_ISSUER", "Gatehouse", &c.MFA.Issuer, nonEmpty),
		// NIST SP 800-63B 5.2.2: no more than 100 consecutive failures, and
		// no "off".
		field("MFA_MAX_FAILURES", "100", &c.MFA.MaxFailures, intIn(1, 100)),
		field("WEBAUTHN_RP_ID", "", &c.MFA.RPID, rpID),
		field("WEBAUTHN_RP_NAME", "Gatehouse", &c.MFA.RPName, nonEmpty),
		field("WEBAUTHN_ORIGINS", "", &c.MFA.Origins, origins),

		field("OIDC_PROVIDER_ENABLED", "true", &c.OIDC.Enabled, boolean),
		field("OIDC_LOGIN_URL", "", &c.OIDC.LoginURL, loginURLTemplate),
		field("OIDC_ACCESS_TOKEN_TTL", "15m", &c.OIDC.AccessTokenTTL, duration(time.Minute, 24*time.Hour)),
		field("OIDC_CODE_TTL", "60s", &c.OIDC.CodeTTL, duration(time.Second, 10*time.Minute)),

		field("WEBHOOK_URL", "", &c.Webhooks.URL, endpointURL),
		field("WEBHOOK_SECRET", "", &c.Webhooks.Secrets, webhookSecrets).
			shownAs(func() any { return secretCount(c.Webhooks.Secrets) }),
		field("WEBHOOK_EVENTS", "", &c.Webhooks.Events, func(s string) (string, error) { return s, nil }),
		field("WEBHOOK_POLL_INTERVAL", "1s", &c.Webhooks.PollInterval, duration(10*time.Millisecond, time.Minute)),
		field("HOOK_BEFORE_SIGNUP_URL", "", &c.Webhooks.HookURL, endpointURL),
		field("HOOK_SECRET", "", &c.Webhooks.HookSecrets, webhookSecrets).
			shownAs(func() any { return secretCount(c.Webhooks.HookSecrets) }),
		field("HOOK_TIMEOUT", "2s", &c.Webhooks.HookTimeout, duration(100*time.Millisecond, 30*time.Second)),

		field("METRICS_ADDR", "", &c.MetricsAddr, listenAddr(true)),
		field("EXAMPLE_APP_ENABLED", "false", &c.ExampleApp, boolean),
	}
}

// check is a rule across settings, run after every setting parsed. It is
// reported under name and skipped when any of needs failed to parse, so
// one typo does not produce a cascade of follow-up errors.
type check struct {
	name  string
	needs []string
	err   func(c *Config) error
}

// checks are the cross-setting rules.
func checks() []check {
	return []check{
		{"REFRESH_ABSOLUTE_TTL", []string{"REFRESH_ABSOLUTE_TTL", "REFRESH_IDLE_TTL"}, func(c *Config) error {
			if c.Session.RefreshAbsoluteTTL < c.Session.RefreshIdleTTL {
				return fmt.Errorf("must be at least REFRESH_IDLE_TTL (%s), got %s",
					c.Session.RefreshIdleTTL, c.Session.RefreshAbsoluteTTL)
			}
			return nil
		}},
		{"COOKIE_SAMESITE", []string{"COOKIE_SAMESITE", "COOKIE_SECURE"}, func(c *Config) error {
			// Browsers drop SameSite=None cookies without Secure, which
			// would look like "refresh never works" rather than an error.
			if c.Cookie.SameSiteName == "none" && !c.Cookie.Secure {
				return fmt.Errorf(`"none" requires COOKIE_SECURE=true (browsers reject SameSite=None cookies without Secure)`)
			}
			return nil
		}},
		{"REQUIRE_EMAIL_VERIFICATION", []string{"REQUIRE_EMAIL_VERIFICATION", "MAIL_URL"}, func(c *Config) error {
			// Nobody could ever log in: the links could not be sent.
			if c.Mail.RequireVerification && !c.Mail.Enabled() {
				return fmt.Errorf("true needs MAIL_URL (verification links must be mailed)")
			}
			return nil
		}},
		exampleLink("EMAIL_VERIFY_LINK", func(c *Config) *string { return &c.Mail.VerifyLink }, "verify-email"),
		exampleLink("PASSWORD_RESET_LINK", func(c *Config) *string { return &c.Mail.ResetLink }, "reset-password"),
		// Derived: the provider's login page and issuer come from PUBLIC_URL
		// unless set.
		{"OIDC_LOGIN_URL", []string{"OIDC_LOGIN_URL", "PUBLIC_URL", "JWT_ISSUER"}, func(c *Config) error {
			if c.OIDC.LoginURL == "" {
				c.OIDC.LoginURL = c.Mail.PublicURL + "/example/#/authorize?request={id}"
			}
			c.OIDC.Issuer = c.Mail.PublicURL
			if u, err := url.Parse(c.JWT.Issuer); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				c.OIDC.Issuer = strings.TrimRight(c.JWT.Issuer, "/")
			}
			return nil
		}},
		{"WEBHOOK_SECRET", []string{"WEBHOOK_URL", "WEBHOOK_SECRET"}, func(c *Config) error {
			if c.Webhooks.URL != "" && len(c.Webhooks.Secrets) == 0 {
				return errors.New("is required with WEBHOOK_URL")
			}
			return nil
		}},
		{"HOOK_SECRET", []string{"HOOK_BEFORE_SIGNUP_URL", "HOOK_SECRET", "WEBHOOK_SECRET"}, func(c *Config) error {
			if len(c.Webhooks.HookSecrets) == 0 {
				c.Webhooks.HookSecrets = c.Webhooks.Secrets
			}
			if c.Webhooks.HookURL != "" && len(c.Webhooks.HookSecrets) == 0 {
				return errors.New("is required with HOOK_BEFORE_SIGNUP_URL (or WEBHOOK_SECRET)")
			}
			return nil
		}},
		{"DATABASE_PASSWORD_FILE", []string{"DATABASE_PASSWORD_FILE", "DATABASE_URL"}, func(c *Config) error {
			// Not only a check: it completes the URL with the secret.
			if c.Database.PasswordFile == "" {
				return nil
			}
			if c.Database.Driver != "postgres" {
				return errors.New("is only for a postgres DATABASE_URL")
			}
			b, err := os.ReadFile(c.Database.PasswordFile)
			if err != nil {
				return errors.New("cannot be read")
			}
			pw := strings.TrimRight(string(b), "\r\n")
			u, err := url.Parse(c.Database.URL)
			if err != nil || u.User == nil || u.User.Username() == "" {
				return errors.New("needs a user name in DATABASE_URL (postgres://USER@host/db)")
			}
			u.User = url.UserPassword(u.User.Username(), pw)
			c.Database.URL, c.Database.DSN = u.String(), u.String()
			return nil
		}},
		{"MAIL_PASSWORD_FILE", []string{"MAIL_PASSWORD_FILE", "MAIL_URL"}, func(c *Config) error {
			// Not only a check: it completes MAIL_URL with the secret.
			if c.Mail.PasswordFile == "" {
				return nil
			}
			u, err := url.Parse(c.Mail.URL)
			if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") {
				return errors.New("is only for an smtp:// or smtps:// MAIL_URL")
			}
			if u.User == nil || u.User.Username() == "" {
				return errors.New("needs a user name in MAIL_URL (smtp://USER@host:587)")
			}
			if _, set := u.User.Password(); set {
				return errors.New("MAIL_URL has a password already")
			}
			b, err := os.ReadFile(c.Mail.PasswordFile)
			if err != nil {
				return errors.New("cannot be read")
			}
			u.User = url.UserPassword(u.User.Username(), strings.TrimRight(string(b), "\r\n"))
			c.Mail.URL = u.String()
			return nil
		}},
		{"JWT_KEY_PUBLISH_AHEAD", []string{"JWT_KEY_PUBLISH_AHEAD", "JWT_KEY_RELOAD_INTERVAL", "JWT_KEY_ROTATION_INTERVAL"}, func(c *Config) error {
			// Every instance must have loaded a new key before it signs.
			if c.JWT.RotationInterval > 0 && c.JWT.PublishAhead <= c.JWT.ReloadInterval {
				return fmt.Errorf("must be longer than JWT_KEY_RELOAD_INTERVAL (%s) while rotation is on, got %s", c.JWT.ReloadInterval, c.JWT.PublishAhead)
			}
			if c.JWT.RotationInterval > 0 && c.JWT.RotationInterval <= c.JWT.PublishAhead {
				return fmt.Errorf("must be shorter than JWT_KEY_ROTATION_INTERVAL (%s), got %s", c.JWT.RotationInterval, c.JWT.PublishAhead)
			}
			return nil
		}},
		// Derived, not checked: the issuer is where the discovery document
		// is served, which standard OIDC clients insist on.
		{"JWT_ISSUER", []string{"JWT_ISSUER", "PUBLIC_URL"}, func(c *Config) error {
			if c.JWT.Issuer == "" {
				c.JWT.Issuer = c.Mail.PublicURL
			}
			return nil
		}},
		{"WEBAUTHN_RP_ID", []string{"WEBAUTHN_RP_ID", "WEBAUTHN_ORIGINS", "PUBLIC_URL", "CORS_ALLOWED_ORIGINS"}, func(c *Config) error {
			return c.deriveWebAuthn()
		}},
		{"METRICS_ADDR", []string{"METRICS_ADDR", "HTTP_ADDR"}, func(c *Config) error {
			// Metrics must never be served on the public listener.
			if c.MetricsAddr != "" && c.MetricsAddr == c.HTTP.Addr {
				if _, port, _ := net.SplitHostPort(c.MetricsAddr); port != "0" {
					return fmt.Errorf("must differ from HTTP_ADDR (%q)", c.HTTP.Addr)
				}
			}
			return nil
		}},
	}
}

// exampleLink derives an empty link template: the example app's page under
// PUBLIC_URL. With mail on and the example app off, that default would mail
// links to a page that answers 404, so the start is refused instead.
func exampleLink(name string, link func(*Config) *string, page string) check {
	return check{name, []string{name, "PUBLIC_URL", "MAIL_URL", "EXAMPLE_APP_ENABLED"}, func(c *Config) error {
		p := link(c)
		if *p != "" {
			return nil
		}
		*p = c.Mail.PublicURL + "/example/#/" + page + "?token={token}"
		if c.Mail.Enabled() && !c.ExampleApp {
			return fmt.Errorf("unset while MAIL_URL is set and EXAMPLE_APP_ENABLED=false: the default (%s) would mail links to a page that is off; set it to your app's page with {token}, or EXAMPLE_APP_ENABLED=true", *p)
		}
		return nil
	}}
}

// Warnings are settings that are valid but probably not what the operator
// meant; the service logs each once at start.
func (c Config) Warnings() []string {
	var out []string
	// The default PUBLIC_URL names port 3000: listening elsewhere, every
	// mailed link, the WebAuthn origin and the discovery document point at
	// a port nothing serves.
	if _, port, err := net.SplitHostPort(c.HTTP.Addr); err == nil && c.Mail.PublicURL == defaultPublicURL && port != "3000" {
		out = append(out, fmt.Sprintf("HTTP_ADDR listens on port %s but PUBLIC_URL is its default %s: links, passkey origins and the discovery document name port 3000; set PUBLIC_URL to the URL clients use", port, defaultPublicURL))
	}
	return out
}

// defaultPublicURL is PUBLIC_URL's default.
const defaultPublicURL = "http://localhost:3000"

// rateSetting is a "N/WINDOW" (or "0" for off) setting stored in two fields.
func rateSetting(name, def string, n *int, window *time.Duration) setting {
	return setting{
		name: name,
		def:  def,
		set: func(raw string) error {
			r, err := parseRate(raw)
			if err == nil {
				*n, *window = r.n, r.window
			}
			return err
		},
		show: func() any {
			if *n == 0 {
				return "0"
			}
			return fmt.Sprintf("%d/%s", *n, *window)
		},
	}
}

// httpURL accepts "" or an absolute http(s) URL with a host.
func httpURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an http:// or https:// URL, e.g. http://collector:4318")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		// The exporter keeps only scheme, host and path: a query would be
		// dropped without a word.
		return "", errors.New("want a URL without a query or fragment")
	}
	return raw, nil
}
