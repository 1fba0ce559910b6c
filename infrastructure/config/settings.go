package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

// setting is a variable with its default, as declared() lists them. The
// compound rows also say how a value is stored and shown.
type setting struct {
	name, def string
	set       func(raw string) error
	show      func() any
}

// compound are the settings a field's type alone cannot parse: a size
// stored in KiB, and "N/WINDOW" limits ("0" is off) stored in two fields.
// Every other setting is a tagged field of Config.
func compound(c *Config) []setting {
	return []setting{
		{"PASSWORD_ARGON2_MEMORY", "19MiB", func(s string) (err error) {
			c.Password.MemoryKiB, err = kibIn(8<<10, 1<<30)(s)
			return err
		}, func() any { return formatSize(int64(c.Password.MemoryKiB) << 10) }},
		rateSetting("EMAIL_CHANGE_LIMIT", "10/1h", &c.Login.EmailChanges, &c.Login.EmailChangeWindow),
		rateSetting("RATE_LIMIT_PER_IP", "600/1m", &c.RateLimit.PerIP, &c.RateLimit.Window),
		rateSetting("SECURITY_EVENT_LIMIT", "300/1h", &c.Audit.PerUser, &c.Audit.Window),
		rateSetting("MAIL_RATE_PER_ADDRESS", "3/15m", &c.Mail.PerAddress, &c.Mail.PerAddressWindow),
		rateSetting("MAIL_RATE_PER_IP", "30/15m", &c.Mail.PerIP, &c.Mail.PerIPWindow),
		listSetting("OAUTH_PROVIDERS", &c.OAuth.IDs, providerIDs),
		listSetting("OAUTH_REDIRECT_URLS", &c.OAuth.RedirectURLs, redirectURLs),
	}
}

// listSetting is a comma-separated list with its own item rules.
func listSetting(name string, dst *[]string, parse func(string) ([]string, error)) setting {
	return setting{name, "", func(raw string) (err error) {
		*dst, err = parse(raw)
		return err
	}, func() any { return append([]string{}, *dst...) }}
}

// rateSetting is a "N/WINDOW" (or "0" for off) setting stored in two fields.
func rateSetting(name, def string, n *int, window *time.Duration) setting {
	return setting{name, def, func(raw string) (err error) {
		*n, *window, err = parseRate(raw)
		return err
	}, func() any {
		if *n == 0 {
			return "0"
		}
		return fmt.Sprintf("%d/%s", *n, *window)
	}}
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
	return append([]check{
		// Derived: what the fields stored in another form say.
		{"DATABASE_URL", []string{"DATABASE_URL"}, func(c *Config) error {
			db, err := parseDatabaseURL(c.Database.URL)
			c.Database.Driver, c.Database.DSN = db.driver, db.dsn
			return err
		}},
		{"COOKIE_SAMESITE", []string{"COOKIE_SAMESITE"}, func(c *Config) error {
			c.Cookie.SameSite = map[string]http.SameSite{"strict": http.SameSiteStrictMode, "lax": http.SameSiteLaxMode,
				"none": http.SameSiteNoneMode}[c.Cookie.SameSiteName]
			return nil
		}},
		// 0 means one per CPU, so consumers never see 0 (a semaphore of size
		// 0 would block every login forever).
		{"PASSWORD_HASH_CONCURRENCY", []string{"PASSWORD_HASH_CONCURRENCY"}, func(c *Config) error {
			if c.Password.MaxConcurrent == 0 {
				c.Password.MaxConcurrent = runtime.GOMAXPROCS(0)
			}
			return nil
		}},
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
		// Unlike the links above, an unset one never refuses the start: a
		// deployment that set those before sign-in codes existed must keep
		// starting. Without the example app the mail then carries the code
		// alone (and a warning says so).
		{"EMAIL_CODE_LINK", []string{"EMAIL_CODE_LINK", "PUBLIC_URL", "MAIL_URL", "EXAMPLE_APP_ENABLED"}, func(c *Config) error {
			if c.EmailCode.Link == "" && (c.ExampleApp || !c.Mail.Enabled()) {
				c.EmailCode.Link = c.Mail.PublicURL + "/example/#/email-code?token={token}"
			}
			return nil
		}},
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
		{"DATABASE_PASSWORD_FILE", []string{"DATABASE_PASSWORD_FILE", "DATABASE_URL"}, func(c *Config) error {
			// Not only a check: it completes the URL with the secret.
			if c.Database.PasswordFile == "" {
				return nil
			}
			if c.Database.Driver != "postgres" {
				return errors.New("is only for a postgres DATABASE_URL")
			}
			pw, err := readSecret(c.Database.PasswordFile)
			if err != nil {
				return err
			}
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
			pw, err := readSecret(c.Mail.PasswordFile)
			if err != nil {
				return err
			}
			u.User = url.UserPassword(u.User.Username(), pw)
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
	}, webhookChecks()...)
}

// readSecret reads a mounted secret (a *_FILE setting) without its final
// line break. The error never names the path's content or the OS detail.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errors.New("cannot be read")
	}
	return strings.TrimRight(string(b), "\r\n"), nil
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
	if c.Mail.Enabled() && c.EmailCode.Link == "" {
		out = append(out, "EMAIL_CODE_LINK is unset and the example app is off: sign-in code mails carry the code without a link; set it to your app's page with {token} to mail a link too")
	}
	return out
}

// defaultPublicURL is PUBLIC_URL's default.
const defaultPublicURL = "http://localhost:3000"
