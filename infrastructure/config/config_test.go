package config

import (
	"bufio"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// vars is a lookup backed by a map, as Load's tests pass it.
type vars map[string]string

func (e vars) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// noFile points CONFIG_FILE at an empty file so a test never depends on
// which configs/config.yaml happens to sit in the working directory.
func noFile(t *testing.T, e vars) vars {
	t.Helper()
	if _, ok := e["CONFIG_FILE"]; !ok {
		e["CONFIG_FILE"] = writeFile(t, "empty.yaml", "")
	}
	return e
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, e vars) Config {
	t.Helper()
	c, err := Load(e.lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// defaults is the configuration the service runs with when nothing is set.
func defaults() Config {
	return Config{
		HTTP: HTTP{
			Addr:               ":3000",
			BodyLimit:          65536,
			ReadHeaderTimeout:  5 * time.Second,
			ReadTimeout:        15 * time.Second,
			WriteTimeout:       30 * time.Second,
			IdleTimeout:        120 * time.Second,
			RequestTimeout:     10 * time.Second,
			ShutdownTimeout:    20 * time.Second,
			TrustedProxies:     []netip.Prefix{},
			CORSAllowedOrigins: []string{},
		},
		Database: Database{
			URL:             "sqlite://./data/gatehouse.db",
			Driver:          "sqlite",
			DSN:             "./data/gatehouse.db",
			MaxOpenConns:    20,
			MaxIdleConns:    20,
			ConnMaxLifetime: 30 * time.Minute,
			MigrateOnStart:  true,
		},
		JWT: JWT{
			Issuer:           "http://localhost:3000",
			Audience:         "gatehouse",
			AccessTokenTTL:   15 * time.Minute,
			RotationInterval: 720 * time.Hour, PublishAhead: time.Hour, ReloadInterval: time.Minute,
		},
		Session: Session{
			RefreshIdleTTL:     168 * time.Hour,
			RefreshAbsoluteTTL: 720 * time.Hour,
			RefreshReuseGrace:  10 * time.Second,
			MaxPerUser:         100,
			StepUpMaxAge:       10 * time.Minute,
			PurgeInterval:      time.Hour,
		},
		Cookie:   Cookie{Secure: true, SameSite: http.SameSiteStrictMode, SameSiteName: "strict"},
		Password: Password{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, MaxConcurrent: runtime.GOMAXPROCS(0)},
		Login: Login{MaxFailures: 10, Lockout: 15 * time.Minute, BackoffAfter: 5, BackoffBase: time.Second,
			AccountBackoffAfter: 100, AccountMaxDelay: 30 * time.Second, EmailChanges: 10, EmailChangeWindow: time.Hour},
		Audit:      Audit{Retention: 365 * 24 * time.Hour, PerUser: 300, Window: time.Hour},
		RateLimit:  RateLimit{PerIP: 600, Window: time.Minute},
		Log:        Log{Level: "info", Format: "json"},
		ExampleApp: false,
		Mail: Mail{
			PublicURL:  "http://localhost:3000",
			From:       "Gatehouse <no-reply@localhost>",
			VerifyLink: "http://localhost:3000/example/#/verify-email?token={token}",
			ResetLink:  "http://localhost:3000/example/#/reset-password?token={token}",
			VerifyTTL:  24 * time.Hour, ResetTTL: 30 * time.Minute,
			PollInterval: time.Second, RetryBase: 30 * time.Second,
			PerAddress: 3, PerAddressWindow: 15 * time.Minute, PerIP: 30, PerIPWindow: 15 * time.Minute,
		},
		MFA: MFA{
			Issuer: "Gatehouse", MaxFailures: 100, RPID: "localhost", RPName: "Gatehouse",
			Origins: []string{"http://localhost:3000"},
		},
		EmailCode: EmailCode{TTL: 10 * time.Minute, Link: "http://localhost:3000/example/#/email-code?token={token}"},
		OIDC: OIDC{
			Enabled: true, LoginURL: "http://localhost:3000/example/#/authorize?request={id}",
			AccessTokenTTL: 15 * time.Minute, CodeTTL: time.Minute, Issuer: "http://localhost:3000",
		},
		OAuth: OAuth{
			IDs: []string{}, RedirectURLs: []string{"http://localhost:3000/*"},
			GitHubURL: "https://github.com", GitHubAPIURL: "https://api.github.com",
		},
		Webhooks: Webhooks{HookTimeout: 2 * time.Second, PollInterval: time.Second},
	}
}

// sameSettings compares two configs, ignoring which file they came from.
func sameSettings(a, b Config) bool {
	a.file, b.file = "", ""
	return reflect.DeepEqual(a, b)
}

func TestLoadDefaults(t *testing.T) {
	for name, e := range map[string]vars{
		"nil env, no default file": nil,
		"empty file":               noFile(t, vars{}),
		"CONFIG_FILE empty":        {"CONFIG_FILE": ""},
	} {
		t.Run(name, func(t *testing.T) {
			// The package directory has no configs/config.yaml, so the
			// missing default file must be fine.
			c, err := Load(e.lookup)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !sameSettings(c, defaults()) {
				t.Errorf("got  %+v\nwant %+v", c, defaults())
			}
		})
	}
}

func TestLoadNilLookup(t *testing.T) {
	c, err := Load(nil)
	if err != nil || !sameSettings(c, defaults()) {
		t.Fatalf("Load(nil) = %+v, %v", c, err)
	}
}

func TestEveryEnvVarOverrides(t *testing.T) {
	keyFile := writeFile(t, "key.pem", "not parsed here")
	pwFile := writeFile(t, "db_password", "p\n")
	overrides := []struct {
		name, raw string
		got       func(Config) any
		want      any
	}{
		{"HTTP_ADDR", "127.0.0.1:8080", func(c Config) any { return c.HTTP.Addr }, "127.0.0.1:8080"},
		{"BODY_LIMIT", "1MiB", func(c Config) any { return c.HTTP.BodyLimit }, int64(1 << 20)},
		{"HTTP_READ_HEADER_TIMEOUT", "2s", func(c Config) any { return c.HTTP.ReadHeaderTimeout }, 2 * time.Second},
		{"HTTP_READ_TIMEOUT", "3s", func(c Config) any { return c.HTTP.ReadTimeout }, 3 * time.Second},
		{"HTTP_WRITE_TIMEOUT", "4s", func(c Config) any { return c.HTTP.WriteTimeout }, 4 * time.Second},
		{"HTTP_IDLE_TIMEOUT", "5s", func(c Config) any { return c.HTTP.IdleTimeout }, 5 * time.Second},
		{"REQUEST_TIMEOUT", "6s", func(c Config) any { return c.HTTP.RequestTimeout }, 6 * time.Second},
		{"SHUTDOWN_TIMEOUT", "7s", func(c Config) any { return c.HTTP.ShutdownTimeout }, 7 * time.Second},
		{"TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10,::1", func(c Config) any { return c.HTTP.TrustedProxies },
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("::1/128")}},
		{"CORS_ALLOWED_ORIGINS", "https://App.Example.com:443, http://localhost:5173", func(c Config) any { return c.HTTP.CORSAllowedOrigins },
			[]string{"https://app.example.com", "http://localhost:5173"}},
		{"DATABASE_URL", "postgres://u:p@db:5432/app?sslmode=disable", func(c Config) any {
			return [3]string{c.Database.URL, c.Database.Driver, c.Database.DSN}
		}, [3]string{"postgres://u:p@db:5432/app?sslmode=disable", "postgres", "postgres://u:p@db:5432/app?sslmode=disable"}},
		{"DB_MAX_OPEN_CONNS", "50", func(c Config) any { return c.Database.MaxOpenConns }, 50},
		{"DB_MAX_IDLE_CONNS", "0", func(c Config) any { return c.Database.MaxIdleConns }, 0},
		{"DB_CONN_MAX_LIFETIME", "0s", func(c Config) any { return c.Database.ConnMaxLifetime }, time.Duration(0)},
		{"DB_MIGRATE_ON_START", "NO", func(c Config) any { return c.Database.MigrateOnStart }, false},
		{"JWT_ISSUER", "https://auth.example.com", func(c Config) any { return c.JWT.Issuer }, "https://auth.example.com"},
		{"JWT_AUDIENCE", "api", func(c Config) any { return c.JWT.Audience }, "api"},
		{"ACCESS_TOKEN_TTL", "5m", func(c Config) any { return c.JWT.AccessTokenTTL }, 5 * time.Minute},
		{"JWT_LEEWAY", "2s", func(c Config) any { return c.JWT.Leeway }, 2 * time.Second},
		{"JWT_PRIVATE_KEY_FILE", keyFile, func(c Config) any { return c.JWT.PrivateKeyFile }, keyFile},
		// The file holds the URL's own password, so the DATABASE_URL case holds too.
		{"DATABASE_PASSWORD_FILE", pwFile, func(c Config) any { return c.Database.PasswordFile }, pwFile},
		{"JWT_KEY_ROTATION_INTERVAL", "0", func(c Config) any { return c.JWT.RotationInterval }, time.Duration(0)},
		{"JWT_KEY_PUBLISH_AHEAD", "2h", func(c Config) any { return c.JWT.PublishAhead }, 2 * time.Hour},
		{"JWT_KEY_RELOAD_INTERVAL", "30s", func(c Config) any { return c.JWT.ReloadInterval }, 30 * time.Second},
		{"DATA_ENCRYPTION_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", func(c Config) any { return c.JWT.DataKeys != nil && c.JWT.DataKeys.KeyID() != "" }, true},
		{"REFRESH_IDLE_TTL", "1h", func(c Config) any { return c.Session.RefreshIdleTTL }, time.Hour},
		{"REFRESH_ABSOLUTE_TTL", "2h", func(c Config) any { return c.Session.RefreshAbsoluteTTL }, 2 * time.Hour},
		{"REFRESH_REUSE_GRACE", "0s", func(c Config) any { return c.Session.RefreshReuseGrace }, time.Duration(0)},
		{"MAX_SESSIONS_PER_USER", "5", func(c Config) any { return c.Session.MaxPerUser }, 5},
		{"REFRESH_TOKEN_KEY_FILE", keyFile, func(c Config) any { return c.Session.RefreshKeyFile }, keyFile},
		{"STEP_UP_MAX_AGE", "1m", func(c Config) any { return c.Session.StepUpMaxAge }, time.Minute},
		{"SESSION_PURGE_INTERVAL", "10m", func(c Config) any { return c.Session.PurgeInterval }, 10 * time.Minute},
		{"SESSION_CACHE_TTL", "500ms", func(c Config) any { return c.Session.RevocationCacheTTL }, 500 * time.Millisecond},
		{"COOKIE_SECURE", "False", func(c Config) any { return c.Cookie.Secure }, false},
		{"COOKIE_SAMESITE", "Lax", func(c Config) any { return [2]any{c.Cookie.SameSite, c.Cookie.SameSiteName} },
			[2]any{http.SameSiteLaxMode, "lax"}},
		{"PASSWORD_ARGON2_MEMORY", "64MiB", func(c Config) any { return c.Password.MemoryKiB }, uint32(65536)},
		{"PASSWORD_ARGON2_ITERATIONS", "3", func(c Config) any { return c.Password.Iterations }, uint32(3)},
		{"PASSWORD_ARGON2_PARALLELISM", "4", func(c Config) any { return c.Password.Parallelism }, uint8(4)},
		{"PASSWORD_HASH_CONCURRENCY", "1024", func(c Config) any { return c.Password.MaxConcurrent }, 1024},
		{"LOGIN_MAX_FAILURES", "3", func(c Config) any { return c.Login.MaxFailures }, 3},
		{"LOGIN_LOCKOUT", "1h", func(c Config) any { return c.Login.Lockout }, time.Hour},
		{"LOGIN_BACKOFF_AFTER", "0", func(c Config) any { return c.Login.BackoffAfter }, 0},
		{"LOGIN_BACKOFF_BASE", "250ms", func(c Config) any { return c.Login.BackoffBase }, 250 * time.Millisecond},
		{"LOGIN_ACCOUNT_BACKOFF_AFTER", "0", func(c Config) any { return c.Login.AccountBackoffAfter }, 0},
		{"LOGIN_ACCOUNT_MAX_DELAY", "2m", func(c Config) any { return c.Login.AccountMaxDelay }, 2 * time.Minute},
		{"EMAIL_CHANGE_LIMIT", "3/1m", func(c Config) any { return [2]any{c.Login.EmailChanges, c.Login.EmailChangeWindow} }, [2]any{3, time.Minute}},
		{"SECURITY_EVENT_RETENTION", "720h", func(c Config) any { return c.Audit.Retention }, 720 * time.Hour},
		{"SECURITY_EVENT_LIMIT", "0", func(c Config) any { return [2]any{c.Audit.PerUser, c.Audit.Window} }, [2]any{0, time.Duration(0)}},
		{"RATE_LIMIT_PER_IP", "100/10s", func(c Config) any { return [2]any{c.RateLimit.PerIP, c.RateLimit.Window} },
			[2]any{100, 10 * time.Second}},
		{"LOG_LEVEL", "DEBUG", func(c Config) any { return c.Log.Level }, "debug"},
		{"LOG_FORMAT", "text", func(c Config) any { return c.Log.Format }, "text"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", func(c Config) any { return c.Tracing.OTLPEndpoint }, "http://collector:4318"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://otlp.example.com/v1/traces", func(c Config) any { return c.Tracing.OTLPTracesEndpoint }, "https://otlp.example.com/v1/traces"},
		{"METRICS_ADDR", ":9090", func(c Config) any { return c.MetricsAddr }, ":9090"},
		{"EXAMPLE_APP_ENABLED", "1", func(c Config) any { return c.ExampleApp }, true},
		{"OIDC_PROVIDER_ENABLED", "false", func(c Config) any { return c.OIDC.Enabled }, false},
		{"OIDC_LOGIN_URL", "https://app.example.com/login?r={id}", func(c Config) any { return c.OIDC.LoginURL }, "https://app.example.com/login?r={id}"},
		{"OIDC_ACCESS_TOKEN_TTL", "5m", func(c Config) any { return c.OIDC.AccessTokenTTL }, 5 * time.Minute},
		{"OIDC_CODE_TTL", "30s", func(c Config) any { return c.OIDC.CodeTTL }, 30 * time.Second},
		{"WEBHOOK_URL", "https://app.example.com/hooks?k=1", func(c Config) any { return c.Webhooks.URL }, "https://app.example.com/hooks?k=1"},
		{"WEBHOOK_SECRET", testSecret24 + "," + testSecret32, func(c Config) any { return c.Webhooks.Secrets }, []string{testSecret24, testSecret32}},
		{"WEBHOOK_EVENTS", "user.created", func(c Config) any { return c.Webhooks.Events }, "user.created"},
		{"WEBHOOK_POLL_INTERVAL", "200ms", func(c Config) any { return c.Webhooks.PollInterval }, 200 * time.Millisecond},
		{"HOOK_BEFORE_SIGNUP_URL", "http://app:8080/signup", func(c Config) any { return c.Webhooks.HookURL }, "http://app:8080/signup"},
		{"HOOK_SECRET", testSecret32, func(c Config) any { return c.Webhooks.HookSecrets }, []string{testSecret32}},
		{"HOOK_TIMEOUT", "500ms", func(c Config) any { return c.Webhooks.HookTimeout }, 500 * time.Millisecond},
		{"PUBLIC_URL", "https://id.example.com/", func(c Config) any { return c.Mail.PublicURL }, "https://id.example.com"},
		// The password comes from MAIL_PASSWORD_FILE (pwFile holds "p").
		{"MAIL_URL", "smtps://u@mail.example.com", func(c Config) any { return c.Mail.URL }, "smtps://u:p@mail.example.com"},
		{"MAIL_FROM", "Acme <id@example.com>", func(c Config) any { return c.Mail.From }, "Acme <id@example.com>"},
		{"MAIL_PASSWORD_FILE", pwFile, func(c Config) any { return c.Mail.PasswordFile }, pwFile},
		{"MAIL_TEMPLATES_DIR", os.TempDir(), func(c Config) any { return c.Mail.TemplatesDir }, os.TempDir()},
		{"EMAIL_VERIFY_LINK", "https://app.example.com/#/v?token={token}", func(c Config) any { return c.Mail.VerifyLink }, "https://app.example.com/#/v?token={token}"},
		{"PASSWORD_RESET_LINK", "https://app.example.com/#/r?token={token}", func(c Config) any { return c.Mail.ResetLink }, "https://app.example.com/#/r?token={token}"},
		{"EMAIL_VERIFY_TTL", "48h", func(c Config) any { return c.Mail.VerifyTTL }, 48 * time.Hour},
		{"PASSWORD_RESET_TTL", "15m", func(c Config) any { return c.Mail.ResetTTL }, 15 * time.Minute},
		{"EMAIL_CODE_TTL", "5m", func(c Config) any { return c.EmailCode.TTL }, 5 * time.Minute},
		{"EMAIL_CODE_SIGNUP", "true", func(c Config) any { return c.EmailCode.Signup }, true},
		{"EMAIL_CODE_LINK", "https://app.example.com/#/c?token={token}", func(c Config) any { return c.EmailCode.Link }, "https://app.example.com/#/c?token={token}"},
		{"REQUIRE_EMAIL_VERIFICATION", "true", func(c Config) any { return c.Mail.RequireVerification }, true},
		{"MAIL_POLL_INTERVAL", "250ms", func(c Config) any { return c.Mail.PollInterval }, 250 * time.Millisecond},
		{"MAIL_RETRY_BASE", "5s", func(c Config) any { return c.Mail.RetryBase }, 5 * time.Second},
		{"MAIL_RATE_PER_ADDRESS", "0", func(c Config) any { return c.Mail.PerAddress }, 0},
		{"MAIL_RATE_PER_IP", "100/1h", func(c Config) any { return [2]any{c.Mail.PerIP, c.Mail.PerIPWindow} }, [2]any{100, time.Hour}},
		{"MFA_ISSUER", "Example Inc", func(c Config) any { return c.MFA.Issuer }, "Example Inc"},
		{"MFA_MAX_FAILURES", "20", func(c Config) any { return c.MFA.MaxFailures }, 20},
		{"WEBAUTHN_RP_ID", "Example.com", func(c Config) any { return c.MFA.RPID }, "example.com"},
		{"WEBAUTHN_RP_NAME", "Example", func(c Config) any { return c.MFA.RPName }, "Example"},
		{"WEBAUTHN_ORIGINS", "https://auth.example.com, https://App.example.com", func(c Config) any { return c.MFA.Origins },
			[]string{"https://auth.example.com", "https://app.example.com"}},
		{"OAUTH_PROVIDERS", "github, corp-sso", func(c Config) any { return c.OAuth.IDs }, []string{"github", "corp-sso"}},
		{"OAUTH_REDIRECT_URLS", "https://app.example.com/*,https://m.example.com/cb", func(c Config) any { return c.OAuth.RedirectURLs },
			[]string{"https://app.example.com/*", "https://m.example.com/cb"}},
		{"OAUTH_GITHUB_URL", "https://ghe.example.com", func(c Config) any { return c.OAuth.GitHubURL }, "https://ghe.example.com"},
		{"OAUTH_GITHUB_API_URL", "https://ghe.example.com/api/v3", func(c Config) any { return c.OAuth.GitHubAPIURL }, "https://ghe.example.com/api/v3"},
		// The per-provider variables, named after the ids.
		{"OAUTH_GITHUB_CLIENT_ID", "gh-id", func(c Config) any { return prov(c, 0).ClientID }, "gh-id"},
		{"OAUTH_GITHUB_CLIENT_SECRET", "gh-secret", func(c Config) any { return prov(c, 0).Scopes }, []string{"read:user", "user:email"}},
		{"OAUTH_CORP_SSO_ISSUER", "https://sso.example.com", func(c Config) any { return prov(c, 1).Issuer }, "https://sso.example.com"},
		{"OAUTH_CORP_SSO_CLIENT_ID", "corp", func(c Config) any { return prov(c, 1).Scopes }, []string{"openid", "email", "profile"}},
		{"OAUTH_CORP_SSO_CLIENT_SECRET", "s", func(c Config) any { return prov(c, 1).ClientSecret }, "s"},
		{"OAUTH_CORP_SSO_NAME", "Corp SSO", func(c Config) any { return prov(c, 1).Name }, "Corp SSO"},
	}

	// Every setting of the table must be covered here.
	covered := map[string]bool{}
	for _, o := range overrides {
		covered[o.name] = true
	}
	for _, s := range declared() {
		if !covered[s.name] {
			t.Errorf("setting %s has no override case", s.name)
		}
	}

	e := noFile(t, vars{})
	for _, o := range overrides {
		e[o.name] = "  " + o.raw + " " // values are trimmed
	}
	c := mustLoad(t, e)
	d := defaults()
	for _, o := range overrides {
		t.Run(o.name, func(t *testing.T) {
			if got := o.got(c); !reflect.DeepEqual(got, o.want) {
				t.Errorf("got %#v, want %#v", got, o.want)
			}
			if reflect.DeepEqual(o.got(d), o.want) {
				t.Errorf("case does not differ from the default")
			}
		})
	}
}

func TestFileAndPrecedence(t *testing.T) {
	file := writeFile(t, "gatehouse.yaml", `
http_addr: ":4000"
access_token_ttl: 1m
cookie_secure: false
cookie_samesite: lax
db_max_open_conns: 5
cors_allowed_origins:
  - https://a.example
  - https://b.example
metrics_addr:            # null means empty
`)
	c := mustLoad(t, vars{"CONFIG_FILE": file, "ACCESS_TOKEN_TTL": "2m", "DB_MAX_OPEN_CONNS": "7"})

	want := defaults()
	want.HTTP.Addr = ":4000"                  // file over default
	want.JWT.AccessTokenTTL = 2 * time.Minute // env over file
	want.Database.MaxOpenConns = 7            // env over file
	want.Cookie = Cookie{Secure: false, SameSite: http.SameSiteLaxMode, SameSiteName: "lax"}
	want.HTTP.CORSAllowedOrigins = []string{"https://a.example", "https://b.example"}
	// WebAuthn origins default to PUBLIC_URL's plus the CORS ones.
	want.MFA.Origins = []string{"http://localhost:3000", "https://a.example", "https://b.example"}
	if !sameSettings(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if got := c.Redacted()["CONFIG_FILE"]; got != file {
		t.Errorf("Redacted CONFIG_FILE = %v, want %s", got, file)
	}

	// An empty environment value is a value: it overrides the file.
	f2 := writeFile(t, "m.yaml", "metrics_addr: \":9090\"\n")
	if c := mustLoad(t, vars{"CONFIG_FILE": f2, "METRICS_ADDR": ""}); c.MetricsAddr != "" {
		t.Errorf("METRICS_ADDR= did not override the file: %q", c.MetricsAddr)
	}
}

// A provider's settings may sit in the file too, under the environment
// like every other; a bad one names its line, and a key of a provider not
// enabled is an unknown key.
func TestProvidersFromFile(t *testing.T) {
	file := writeFile(t, "providers.yaml", `
oauth_providers: corp-sso
oauth_corp_sso_issuer: https://sso.example.com
oauth_corp_sso_client_id: from-file
oauth_corp_sso_client_secret: file-secret
oauth_corp_sso_scopes: [openid, email, groups]
`)
	c := mustLoad(t, vars{"CONFIG_FILE": file, "OAUTH_CORP_SSO_CLIENT_ID": "from-env"})
	got := prov(c, 0)
	want := Provider{ID: "corp-sso", Name: "corp-sso", Issuer: "https://sso.example.com", ClientID: "from-env",
		ClientSecret: "file-secret", Scopes: []string{"openid", "email", "groups"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("provider = %+v, want %+v", got, want)
	}

	bad := writeFile(t, "bad-provider.yaml", "oauth_providers: corp\noauth_corp_issuer: not-a-url\noauth_corp_client_id: a\noauth_corp_client_secret: b\noauth_other_client_id: x\n")
	_, err := Load(vars{"CONFIG_FILE": bad}.lookup)
	assertOneLineError(t, Config{}, err, "OAUTH_CORP_ISSUER: invalid URL", "bad-provider.yaml:2)", `bad-provider.yaml:5: unknown key "oauth_other_client_id"`)
}

func TestDefaultFileInWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configs", "config.yaml"), []byte("http_addr: \":5000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if c := mustLoad(t, vars{}); c.HTTP.Addr != ":5000" {
		t.Errorf("default file not read: HTTP_ADDR = %q", c.HTTP.Addr)
	}
}

// assertOneLineError checks the shape every Load error must have.
func assertOneLineError(t *testing.T, c Config, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want an error containing %q", wants)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: ") || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line starting with \"config: \": %q", msg)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("Load returned a non-zero Config with its error")
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string // "" with missing=true: the file does not exist
		missing bool
		wants   []string
	}{
		{name: "explicit file missing", missing: true, wants: []string{"CONFIG_FILE", "no such file"}},
		{name: "unparsable", content: "http_addr: [\n", wants: []string{"bad.yaml", "yaml"}},
		{name: "not a mapping", content: "- a\n- b\n", wants: []string{"flat mapping"}},
		{name: "unknown key", content: "http_addr: \":1\"\nhtp_addr: \":2\"\n", wants: []string{`bad.yaml:2: unknown key "htp_addr"`}},
		{name: "upper-case key", content: "HTTP_ADDR: \":1\"\n", wants: []string{`unknown key "HTTP_ADDR"`, `"http_addr"`}},
		{name: "config_file is not a key", content: "config_file: x.yaml\n", wants: []string{`unknown key "config_file"`}},
		{name: "duplicate key", content: "log_level: info\nlog_level: debug\n", wants: []string{`mapping key "log_level" already defined`}},
		{name: "nested value", content: "log_level:\n  a: b\n", wants: []string{`key "log_level"`}},
		{name: "bad value names variable and line", content: "\naccess_token_ttl: abc\n",
			wants: []string{`config: ACCESS_TOKEN_TTL: invalid duration "abc" (from `, "bad.yaml:2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.yaml")
			_ = os.Remove(p)
			if !tt.missing {
				if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(vars{"CONFIG_FILE": p}.lookup)
			assertOneLineError(t, c, err, tt.wants...)
		})
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name     string
		env      vars
		want     string // besides the variable name
		variable string // the variable the error must name; "" = the only key of env
	}{
		{"unparsable duration", vars{"ACCESS_TOKEN_TTL": "abc"}, `invalid duration "abc"`, ""},
		{"duration without unit", vars{"HTTP_READ_TIMEOUT": "15"}, `invalid duration "15"`, ""},
		{"empty duration", vars{"SHUTDOWN_TIMEOUT": ""}, `invalid duration ""`, ""},
		{"negative duration", vars{"REFRESH_REUSE_GRACE": "-1s"}, "negative duration", ""},
		{"negative lifetime", vars{"DB_CONN_MAX_LIFETIME": "-5m"}, "negative duration", ""},
		{"zero TTL", vars{"ACCESS_TOKEN_TTL": "0s"}, "greater than 0", ""},
		{"TTL too long", vars{"ACCESS_TOKEN_TTL": "25h"}, "at most 24h", ""},
		{"leeway too large", vars{"JWT_LEEWAY": "1m"}, "at most 30s", ""},
		{"reuse grace too large", vars{"REFRESH_REUSE_GRACE": "6m"}, "at most 5m", ""},
		{"cache ttl too large", vars{"SESSION_CACHE_TTL": "2s"}, "at most 1s", ""},
		{"absolute below idle", vars{"REFRESH_ABSOLUTE_TTL": "24h"}, "must be at least REFRESH_IDLE_TTL", ""},
		{"unknown SameSite", vars{"COOKIE_SAMESITE": "sometimes"}, `invalid value "sometimes"`, ""},
		{"SameSite none without Secure", vars{"COOKIE_SAMESITE": "none", "COOKIE_SECURE": "false"}, "requires COOKIE_SECURE=true", "COOKIE_SAMESITE"},
		{"bad bool", vars{"COOKIE_SECURE": "ture"}, `invalid boolean "ture"`, ""},
		{"bad bool example app", vars{"EXAMPLE_APP_ENABLED": "on"}, `invalid boolean "on"`, ""},
		{"unknown DB scheme", vars{"DATABASE_URL": "mysql://u:p@h/db"}, `unsupported database scheme "mysql"`, ""},
		{"mail URL scheme", vars{"MAIL_URL": "http://mail:25"}, "invalid mail URL", ""},
		{"mail URL password not echoed", vars{"MAIL_URL": "smtp://u:hunter2@:x"}, "invalid", ""},
		{"mail from", vars{"MAIL_FROM": "not an address"}, "invalid address", ""},
		{"templates dir missing", vars{"MAIL_TEMPLATES_DIR": "/nonexistent/mail"}, "cannot use", ""},
		{"templates dir a file", vars{"MAIL_TEMPLATES_DIR": "/dev/null"}, "not a directory", ""},
		{"link without token", vars{"PASSWORD_RESET_LINK": "https://app.example.com/reset"}, "has no {token}", ""},
		{"relative link", vars{"EMAIL_VERIFY_LINK": "/verify?token={token}"}, "invalid link", ""},
		{"public URL", vars{"PUBLIC_URL": "localhost:3000"}, "invalid URL", ""},
		{"login URL without id", vars{"OIDC_LOGIN_URL": "https://app.example.com/login"}, "has no {id}", ""},
		{"code TTL too long", vars{"OIDC_CODE_TTL": "1h"}, "at most 10m", ""},
		{"provider id", vars{"OAUTH_PROVIDERS": "Google"}, "invalid provider id", ""},
		{"provider without issuer", vars{"OAUTH_PROVIDERS": "corp", "OAUTH_CORP_CLIENT_ID": "a", "OAUTH_CORP_CLIENT_SECRET": "b"}, "required", "OAUTH_CORP_ISSUER"},
		{"provider without secret", vars{"OAUTH_PROVIDERS": "google", "OAUTH_GOOGLE_CLIENT_ID": "a"}, "required", "OAUTH_GOOGLE_CLIENT_SECRET"},
		{"redirect URL relative", vars{"OAUTH_REDIRECT_URLS": "/app/*"}, "invalid redirect URL", ""},
		{"webhook URL without secret", vars{"WEBHOOK_URL": "https://app.example.com/h"}, "is required", "WEBHOOK_SECRET"},
		{"webhook secret without prefix", vars{"WEBHOOK_SECRET": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}, "whsec_", ""},
		{"webhook secret too short", vars{"WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "24 to 64", ""},
		{"webhook secret not base64", vars{"WEBHOOK_SECRET": "whsec_!!!notbase64!!!"}, "base64", ""},
		{"three webhook secrets", vars{"WEBHOOK_SECRET": testSecret24 + "," + testSecret24 + "," + testSecret24}, "two while rotating", ""},
		{"webhook URL with user info", vars{"WEBHOOK_URL": "https://u:p@app.example.com/h", "WEBHOOK_SECRET": testSecret24}, "without user info", "WEBHOOK_URL"},
		{"hook without any secret", vars{"HOOK_BEFORE_SIGNUP_URL": "https://app.example.com/s"}, "is required", "HOOK_SECRET"},
		{"hook timeout too long", vars{"HOOK_TIMEOUT": "1m"}, "at most", ""},
		{"verification without mail", vars{"REQUIRE_EMAIL_VERIFICATION": "true"}, "needs MAIL_URL", ""},
		{"DB URL without scheme", vars{"DATABASE_URL": "just-a-path.db"}, "invalid database URL", ""},
		{"malformed postgres URL", vars{"DATABASE_URL": "postgres://u:p@host:port/db"}, "invalid postgres URL", ""},
		{"postgres URL without host", vars{"DATABASE_URL": "postgres:///db"}, "no host", ""},
		{"sqlite without path", vars{"DATABASE_URL": "sqlite://"}, "invalid sqlite URL", ""},
		{"sqlite opaque", vars{"DATABASE_URL": "sqlite:data.db"}, "invalid sqlite URL", ""},
		{"body limit no unit", vars{"BODY_LIMIT": "65536"}, `invalid size "65536"`, ""},
		{"body limit bad unit", vars{"BODY_LIMIT": "64XB"}, `invalid size "64XB"`, ""},
		{"body limit too small", vars{"BODY_LIMIT": "512B"}, "between 1KiB and 64MiB", ""},
		{"body limit too large", vars{"BODY_LIMIT": "65MB"}, "between 1KiB and 64MiB", ""},
		{"body limit overflow", vars{"BODY_LIMIT": "99999999999999999999GB"}, "too large", ""},
		{"argon memory not whole KiB", vars{"PASSWORD_ARGON2_MEMORY": "10000B"}, "whole number of KiB", ""},
		{"argon memory too small", vars{"PASSWORD_ARGON2_MEMORY": "4KiB"}, "between 8KiB and 1GiB", ""},
		{"argon iterations zero", vars{"PASSWORD_ARGON2_ITERATIONS": "0"}, "between 1 and 20", ""},
		{"argon parallelism", vars{"PASSWORD_ARGON2_PARALLELISM": "17"}, "between 1 and 16", ""},
		{"hash concurrency", vars{"PASSWORD_HASH_CONCURRENCY": "-1"}, "between 0 and 1024", ""},
		{"bad integer", vars{"DB_MAX_OPEN_CONNS": "twenty"}, `invalid integer "twenty"`, ""},
		{"zero open conns", vars{"DB_MAX_OPEN_CONNS": "0"}, "between 1 and", ""},
		{"zero max failures", vars{"LOGIN_MAX_FAILURES": "0"}, "between 1 and", ""},
		// NIST SP 800-63B 5.2.2: at most 100, and never off.
		{"second-factor ceiling off", vars{"MFA_MAX_FAILURES": "0"}, "between 1 and 100", ""},
		{"second-factor ceiling above NIST's", vars{"MFA_MAX_FAILURES": "101"}, "between 1 and 100", ""},
		{"rate without window", vars{"RATE_LIMIT_PER_IP": "600"}, `invalid rate "600"`, ""},
		{"rate bad window", vars{"RATE_LIMIT_PER_IP": "600/minute"}, `invalid rate "600/minute"`, ""},
		{"rate zero over window", vars{"RATE_LIMIT_PER_IP": "0/1m"}, `use "0"`, ""},
		{"rate negative", vars{"RATE_LIMIT_PER_IP": "-1/1m"}, "invalid rate", ""},
		{"bad CIDR", vars{"TRUSTED_PROXIES": "10.0.0.0/33"}, `invalid CIDR "10.0.0.0/33"`, ""},
		{"bad IP", vars{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, `invalid IP or CIDR "proxy.local"`, ""},
		{"CIDR with host bits", vars{"TRUSTED_PROXIES": "10.0.0.1/8"}, "did you mean 10.0.0.0/8", ""},
		{"origin wildcard", vars{"CORS_ALLOWED_ORIGINS": "*"}, `"*" is not allowed`, ""},
		{"origin null", vars{"CORS_ALLOWED_ORIGINS": "null"}, `"null" is not allowed`, ""},
		{"origin trailing slash", vars{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, "no trailing slash", ""},
		{"origin with path", vars{"CORS_ALLOWED_ORIGINS": "https://app.example.com/app"}, "no path", ""},
		{"origin without scheme", vars{"CORS_ALLOWED_ORIGINS": "app.example.com"}, "want scheme://host[:port]", ""},
		{"origin with user", vars{"CORS_ALLOWED_ORIGINS": "https://u@app.example.com"}, "no user info", ""},
		{"origin subdomain wildcard", vars{"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "wildcards", ""},
		{"origin bad port", vars{"CORS_ALLOWED_ORIGINS": "https://a.example:0"}, "invalid port", ""},
		{"bad listen address", vars{"HTTP_ADDR": "3000"}, `invalid listen address "3000"`, ""},
		{"empty listen address", vars{"HTTP_ADDR": ""}, "invalid listen address", ""},
		{"bad metrics port", vars{"METRICS_ADDR": ":99999"}, "invalid port", ""},
		{"metrics on public listener", vars{"METRICS_ADDR": ":3000"}, "must differ from HTTP_ADDR", ""},
		{"issuer with a control character", vars{"JWT_ISSUER": "a\x01b"}, "control characters", ""},
		{"unknown log level", vars{"LOG_LEVEL": "verbose"}, `invalid value "verbose"`, ""},
		{"unknown log format", vars{"LOG_FORMAT": "xml"}, `invalid value "xml"`, ""},
		{"missing key file", vars{"JWT_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "no such file", ""},
		{"key file is a directory", vars{"JWT_PRIVATE_KEY_FILE": os.TempDir()}, "not a regular file", ""},
		{"public URL without scheme", vars{"PUBLIC_URL": "auth.example.com"}, "invalid URL", ""},
		{"public URL with query", vars{"PUBLIC_URL": "https://a.example/?x=1"}, "invalid URL", ""},
		{"RP ID with scheme", vars{"WEBAUTHN_RP_ID": "https://example.com"}, "invalid relying party ID", ""},
		{"RP ID foreign to origins", vars{"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://evil.test"}, "not a registrable suffix", "WEBAUTHN_RP_ID"},
		{"RP ID foreign to public URL", vars{"WEBAUTHN_RP_ID": "example.com"}, "not a registrable suffix", ""},
		{"data key too short", vars{"DATA_ENCRYPTION_KEY": "c2hvcnQ="}, "decodes to 5 bytes, want 32", ""},
		{"data key not base64", vars{"DATA_ENCRYPTION_KEY": "not base64!"}, "not base64", ""},
		{"data key file missing", vars{"DATA_ENCRYPTION_KEY": "file:/nonexistent/key"}, "read key file", ""},
		{"newline in value stays on one line", vars{"LOG_LEVEL": "info\nforged line"}, `invalid value "info\nforged line"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.variable
			for k := range tt.env {
				if name == "" && len(tt.env) == 1 {
					name = k
				}
			}
			c, err := Load(noFile(t, tt.env).lookup)
			assertOneLineError(t, c, err, "config: "+name+": ", tt.want)
		})
	}
}

func TestErrorsDoNotLeakDatabasePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://user:s3cret@host:port/db",
		"mysql://user:s3cret@host/db",
		"postgres://user:s3cret@/db",
	} {
		_, err := Load(noFile(t, vars{"DATABASE_URL": u}).lookup)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("DATABASE_URL=%s: error %v (must exist and not show the password)", u, err)
		}
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	c, err := Load(noFile(t, vars{
		"ACCESS_TOKEN_TTL":     "abc",
		"COOKIE_SAMESITE":      "maybe",
		"REFRESH_IDLE_TTL":     "x", // must not also produce an absolute < idle error
		"REFRESH_ABSOLUTE_TTL": "1h",
	}).lookup)
	assertOneLineError(t, c, err, "ACCESS_TOKEN_TTL:", "COOKIE_SAMESITE:", "REFRESH_IDLE_TTL:", "; ")
	if strings.Contains(err.Error(), "REFRESH_ABSOLUTE_TTL") {
		t.Errorf("cascade error reported: %v", err)
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct{ url, driver, dsn string }{
		{"sqlite://./data/gatehouse.db", "sqlite", "./data/gatehouse.db"},
		{"sqlite:///var/lib/gatehouse/db.sqlite", "sqlite", "/var/lib/gatehouse/db.sqlite"},
		{"sqlite://data.db?_pragma=busy_timeout(5000)", "sqlite", "data.db?_pragma=busy_timeout(5000)"},
		{"sqlite::memory:", "sqlite", ":memory:"},
		{"sqlite://:memory:", "sqlite", ":memory:"},
		{"postgres://u:p@localhost:5432/gatehouse?sslmode=disable", "postgres", "postgres://u:p@localhost:5432/gatehouse?sslmode=disable"},
		{"postgresql://localhost/gatehouse", "postgres", "postgresql://localhost/gatehouse"},
		{"postgres:///gatehouse?host=/var/run/postgresql", "postgres", "postgres:///gatehouse?host=/var/run/postgresql"},
		{"postgres://[::1]:5432/gatehouse", "postgres", "postgres://[::1]:5432/gatehouse"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c := mustLoad(t, noFile(t, vars{"DATABASE_URL": tt.url}))
			if c.Database.Driver != tt.driver || c.Database.DSN != tt.dsn || c.Database.URL != tt.url {
				t.Errorf("got %+v, want driver %q dsn %q", c.Database, tt.driver, tt.dsn)
			}
		})
	}
}

func TestMiscAccepted(t *testing.T) {
	tests := []struct {
		name  string
		env   vars
		check func(Config) bool
	}{
		{"rate limit off", vars{"RATE_LIMIT_PER_IP": "0"}, func(c Config) bool { return c.RateLimit == RateLimit{} }},
		{"SameSite none with Secure", vars{"COOKIE_SAMESITE": "NONE"}, func(c Config) bool {
			return c.Cookie.SameSite == http.SameSiteNoneMode && c.Cookie.SameSiteName == "none"
		}},
		{"size with space and lower case", vars{"BODY_LIMIT": "2 mb"}, func(c Config) bool { return c.HTTP.BodyLimit == 2<<20 }},
		{"KB equals KiB", vars{"BODY_LIMIT": "1KB"}, func(c Config) bool { return c.HTTP.BodyLimit == 1024 }},
		{"argon memory 1GiB", vars{"PASSWORD_ARGON2_MEMORY": "1GiB"}, func(c Config) bool { return c.Password.MemoryKiB == 1<<20 }},
		{"bool yes", vars{"COOKIE_SECURE": "Yes"}, func(c Config) bool { return c.Cookie.Secure }},
		{"list with trailing comma", vars{"TRUSTED_PROXIES": "10.0.0.0/8,"}, func(c Config) bool { return len(c.HTTP.TrustedProxies) == 1 }},
		{"mapped IPv4 is unmapped", vars{"TRUSTED_PROXIES": "::ffff:10.1.2.3"}, func(c Config) bool {
			return c.HTTP.TrustedProxies[0] == netip.MustParsePrefix("10.1.2.3/32")
		}},
		{"origins deduplicated and normalized", vars{"CORS_ALLOWED_ORIGINS": "http://LOCALHOST:80,http://localhost,http://[::1]:8080"},
			func(c Config) bool {
				return reflect.DeepEqual(c.HTTP.CORSAllowedOrigins, []string{"http://localhost", "http://[::1]:8080"})
			}},
		{"port 0 for tests", vars{"HTTP_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0"}, func(c Config) bool { return c.HTTP.Addr == "127.0.0.1:0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := mustLoad(t, noFile(t, tt.env)); !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	c := mustLoad(t, noFile(t, vars{
		"DATABASE_URL": "postgres://gatehouse:s3cret@db:5432/app?sslmode=disable&sslpassword=k3y",
	}))
	r := c.Redacted()
	got, _ := r["DATABASE_URL"].(string)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") || !strings.Contains(got, "gatehouse:xxxxx@db:5432") {
		t.Errorf("DATABASE_URL not redacted: %q", got)
	}
	for _, s := range declared() {
		if _, ok := r[s.name]; !ok {
			t.Errorf("Redacted lacks %s", s.name)
		}
	}
	if r["ACCESS_TOKEN_TTL"] != "15m0s" || r["RATE_LIMIT_PER_IP"] != "600/1m0s" || r["COOKIE_SAMESITE"] != "strict" ||
		r["BODY_LIMIT"] != "64KiB" || r["PASSWORD_ARGON2_MEMORY"] != "19MiB" {
		t.Errorf("Redacted values not log friendly: %v", r)
	}
	if c.Database.URL != "postgres://gatehouse:s3cret@db:5432/app?sslmode=disable&sslpassword=k3y" {
		t.Errorf("Redacted modified the Config")
	}
}

// TestShippedConfigYAML checks that configs/config.yaml names every setting
// and yields exactly the defaults.
func TestShippedConfigYAML(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "config.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range declared() {
		if !strings.Contains(string(data), "\n"+strings.ToLower(s.name)+":") {
			t.Errorf("%s lacks %s", path, strings.ToLower(s.name))
		}
	}
	if c := mustLoad(t, vars{"CONFIG_FILE": path}); !sameSettings(c, defaults()) {
		t.Errorf("%s does not yield the defaults:\ngot  %+v\nwant %+v", path, c, defaults())
	}
}

// TestShippedEnvExample checks that configs/.env.example sets every
// variable, each to its default.
func TestShippedEnvExample(t *testing.T) {
	path := filepath.Join("..", "..", "configs", ".env.example")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := vars{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		e[k] = v
	}
	for _, s := range declared() {
		if _, ok := e[s.name]; !ok {
			t.Errorf("%s lacks %s", path, s.name)
		}
	}
	if c := mustLoad(t, noFile(t, e)); !sameSettings(c, defaults()) {
		t.Errorf("%s does not yield the defaults:\ngot  %+v\nwant %+v", path, c, defaults())
	}
}

// A bad DATA_ENCRYPTION_KEY stops the start with one line that names the
// variable and never echoes the value.
func TestBadDataEncryptionKey(t *testing.T) {
	for _, bad := range []string{"c2hvcnQ=", "not base64 at all", "file:/nonexistent/key"} {
		_, err := Load(noFile(t, vars{"DATA_ENCRYPTION_KEY": bad}).lookup)
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		msg := err.Error()
		if !strings.Contains(msg, "DATA_ENCRYPTION_KEY") || strings.Contains(msg, "\n") || (bad != "file:/nonexistent/key" && strings.Contains(msg, bad)) {
			t.Fatalf("%q: %q", bad, msg)
		}
	}
	// Rotation needs the publish-ahead to outlast the reload interval.
	if _, err := Load(noFile(t, vars{"JWT_KEY_PUBLISH_AHEAD": "30s", "JWT_KEY_RELOAD_INTERVAL": "1m"}).lookup); err == nil || !strings.Contains(err.Error(), "JWT_KEY_PUBLISH_AHEAD") {
		t.Fatalf("got %v", err)
	}
}

// The database password can come from a secret file, so compose files and
// environments never hold it.
func TestDatabasePasswordFile(t *testing.T) {
	pw := writeFile(t, "db_password", "s3cr:t/@pw\n")
	c, err := Load(noFile(t, vars{"DATABASE_URL": "postgres://gatehouse@db:5432/gatehouse?sslmode=disable", "DATABASE_PASSWORD_FILE": pw}).lookup)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Database.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); p != "s3cr:t/@pw" || u.Host != "db:5432" || c.Database.URL != c.Database.DSN {
		t.Fatalf("dsn %q", c.Database.DSN)
	}
	if strings.Contains(fmt.Sprint(c.Redacted()), "s3cr") {
		t.Fatal("password in the redacted config")
	}
	for _, bad := range []vars{
		{"DATABASE_PASSWORD_FILE": pw}, // sqlite default
		{"DATABASE_URL": "postgres://db/gatehouse", "DATABASE_PASSWORD_FILE": pw},
		{"DATABASE_URL": "postgres://u@db/gatehouse", "DATABASE_PASSWORD_FILE": "/nonexistent"},
	} {
		if _, err := Load(noFile(t, bad).lookup); err == nil || !strings.Contains(err.Error(), "DATABASE_PASSWORD_FILE") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// Issue 21 item 9: the issuer defaults to PUBLIC_URL, where the discovery
// document is served (standard OIDC clients refuse any other); a set one,
// the old "gatehouse" included, is kept as it is.
func TestIssuerDefaultsToPublicURL(t *testing.T) {
	if c := mustLoad(t, noFile(t, vars{"PUBLIC_URL": "https://id.example.com/"})); c.JWT.Issuer != "https://id.example.com" {
		t.Errorf("issuer %q, want PUBLIC_URL without its trailing slash", c.JWT.Issuer)
	}
	if c := mustLoad(t, noFile(t, vars{"PUBLIC_URL": "https://id.example.com", "JWT_ISSUER": "gatehouse"})); c.JWT.Issuer != "gatehouse" {
		t.Errorf("explicit issuer replaced: %q", c.JWT.Issuer)
	}
}

// The OpenTelemetry conventions: the base URL gets v1/traces appended as a
// path segment, the per-signal URL is used as is and wins.
func TestTracesURL(t *testing.T) {
	for _, c := range []struct{ base, traces, want string }{
		{"", "", ""},
		{"http://collector:4318", "", "http://collector:4318/v1/traces"},
		{"http://collector:4318/", "", "http://collector:4318/v1/traces"},
		{"https://otlp.example.com/prefix", "", "https://otlp.example.com/prefix/v1/traces"},
		{"http://collector:4318", "http://other:4318/custom", "http://other:4318/custom"},
		{"", "http://other:4318", "http://other:4318"},
	} {
		e := vars{"OTEL_EXPORTER_OTLP_ENDPOINT": c.base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": c.traces}
		if got := mustLoad(t, noFile(t, e)).Tracing.TracesURL(); got != c.want {
			t.Errorf("%q, %q: %q, want %q", c.base, c.traces, got, c.want)
		}
	}
	for _, bad := range []string{"collector:4318", "grpc://collector:4317", "http://collector:4318/v1/traces?x=1"} {
		if _, err := Load(noFile(t, vars{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": bad}).lookup); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Mail on, the example app off and a link template left at its default
// (the example app's page) would mail links that answer 404: the start is
// refused, naming the template that is unset, on one line.
func TestDefaultLinksNeedTheExampleApp(t *testing.T) {
	const verify, reset = "https://app.example.com/#/v?token={token}", "https://app.example.com/#/r?token={token}"
	for _, c := range []struct {
		name      string
		env       vars
		refused   []string
		unnamed   []string
		wantLinks [2]string
	}{
		{"mail on, both default", vars{"MAIL_URL": "smtp://mail.example.com"}, []string{"EMAIL_VERIFY_LINK", "PASSWORD_RESET_LINK"}, nil, [2]string{}},
		{"mail on, reset default", vars{"MAIL_URL": "log:", "EMAIL_VERIFY_LINK": verify}, []string{"PASSWORD_RESET_LINK"}, []string{"EMAIL_VERIFY_LINK"}, [2]string{}},
		{"mail on, both set", vars{"MAIL_URL": "log:", "EMAIL_VERIFY_LINK": verify, "PASSWORD_RESET_LINK": reset}, nil, nil, [2]string{verify, reset}},
		{"mail on, example app on", vars{"MAIL_URL": "log:", "EXAMPLE_APP_ENABLED": "true", "PUBLIC_URL": "https://id.example.com"}, nil, nil,
			[2]string{"https://id.example.com/example/#/verify-email?token={token}", "https://id.example.com/example/#/reset-password?token={token}"}},
		{"mail off", vars{}, nil, nil, [2]string{"http://localhost:3000/example/#/verify-email?token={token}", "http://localhost:3000/example/#/reset-password?token={token}"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(noFile(t, c.env).lookup)
			if len(c.refused) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := [2]string{cfg.Mail.VerifyLink, cfg.Mail.ResetLink}; got != c.wantLinks {
					t.Fatalf("links %q, want %q", got, c.wantLinks)
				}
				// The sign-in code link defaults to the example app's page
				// where that is served (or nothing is mailed), else to none,
				// with a warning: it never refuses the start.
				wantCode := strings.Replace(c.wantLinks[0], "verify-email", "email-code", 1)
				if c.env["EXAMPLE_APP_ENABLED"] != "true" && c.env["MAIL_URL"] != "" {
					wantCode = ""
				}
				if cfg.EmailCode.Link != wantCode {
					t.Fatalf("code link %q, want %q", cfg.EmailCode.Link, wantCode)
				}
				if warned := slices.ContainsFunc(cfg.Warnings(), func(w string) bool { return strings.Contains(w, "EMAIL_CODE_LINK") }); warned != (wantCode == "") {
					t.Fatalf("warnings %q", cfg.Warnings())
				}
				return
			}
			if err == nil {
				t.Fatal("started")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "EXAMPLE_APP_ENABLED=false") {
				t.Fatalf("%q", msg)
			}
			for _, n := range c.refused {
				if !strings.Contains(msg, n+": ") {
					t.Errorf("%q does not name %s", msg, n)
				}
			}
			for _, n := range c.unnamed {
				if strings.Contains(msg, n+": ") {
					t.Errorf("%q names %s, which is set", msg, n)
				}
			}
		})
	}
}

// A port other than PUBLIC_URL's default one is a warning, not an error:
// a proxy may map it; every other setting is quiet.
func TestWarnings(t *testing.T) {
	for _, c := range []struct {
		env  vars
		warn string
	}{
		{vars{}, ""},
		{vars{"HTTP_ADDR": ":8080"}, "HTTP_ADDR listens on port 8080 but PUBLIC_URL is its default http://localhost:3000"},
		{vars{"HTTP_ADDR": "127.0.0.1:3000"}, ""},
		{vars{"HTTP_ADDR": ":8080", "PUBLIC_URL": "https://id.example.com"}, ""},
		{vars{"HTTP_ADDR": ":8080", "PUBLIC_URL": "http://localhost:3000/"}, "port 8080"},
	} {
		w := mustLoad(t, noFile(t, c.env)).Warnings()
		switch {
		case c.warn == "" && len(w) != 0:
			t.Errorf("%v: warnings %q", c.env, w)
		case c.warn != "" && (len(w) != 1 || !strings.Contains(w[0], c.warn) || !strings.Contains(w[0], "PUBLIC_URL")):
			t.Errorf("%v: warnings %q, want one with %q", c.env, w, c.warn)
		}
	}
}

// The SMTP password can come from a secret file, so a compose file names
// the user and host but never the password.
func TestMailPasswordFile(t *testing.T) {
	pw := writeFile(t, "smtp_password", "s3cr:t/@pw\n")
	c, err := Load(noFile(t, vars{"MAIL_URL": "smtp://postmaster%40example.com@smtp.example.com:587", "MAIL_PASSWORD_FILE": pw,
		"EXAMPLE_APP_ENABLED": "true"}).lookup)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Mail.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); p != "s3cr:t/@pw" || u.User.Username() != "postmaster@example.com" || u.Host != "smtp.example.com:587" {
		t.Fatalf("MAIL_URL %q", c.Mail.URL)
	}
	if strings.Contains(fmt.Sprint(c.Redacted()), "s3cr") {
		t.Fatal("password in the redacted config")
	}
	for _, bad := range []vars{
		{"MAIL_PASSWORD_FILE": pw}, // mail off
		{"MAIL_URL": "log:", "MAIL_PASSWORD_FILE": pw},
		{"MAIL_URL": "smtp://smtp.example.com", "MAIL_PASSWORD_FILE": pw},
		{"MAIL_URL": "smtp://u:p@smtp.example.com", "MAIL_PASSWORD_FILE": pw},
		{"MAIL_URL": "smtp://u@smtp.example.com", "MAIL_PASSWORD_FILE": "/nonexistent"},
	} {
		bad["EXAMPLE_APP_ENABLED"] = "true"
		if _, err := Load(noFile(t, bad).lookup); err == nil || !strings.Contains(err.Error(), "MAIL_PASSWORD_FILE") || strings.Contains(err.Error(), "s3cr") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// A typo in a field's check tag must stop the start rather than leave the
// setting unchecked.
func TestBadCheckTagIsAnError(t *testing.T) {
	for _, c := range []struct {
		tag  string
		into any
	}{
		{"nosuch", new(string)},
		{"1x,", new(time.Duration)},
		{"1,z", new(int)},
		{"1QB,", new(int64)},
	} {
		if err := applyCheck(c.tag, "5", reflect.ValueOf(c.into).Elem()); err == nil || !strings.Contains(err.Error(), c.tag) {
			t.Errorf("tag %q: %v", c.tag, err)
		}
	}
}

// Standard Webhooks secrets of 24 and 32 bytes, for the webhook settings.
const (
	testSecret24 = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
	testSecret32 = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// TestWebhookSecretsRedacted: the startup line says whether the secrets
// are set, never what they are; the hook falls back to WEBHOOK_SECRET.
func TestWebhookSecretsRedacted(t *testing.T) {
	c := mustLoad(t, noFile(t, vars{"WEBHOOK_URL": "https://app.example.com/h", "WEBHOOK_SECRET": testSecret24,
		"HOOK_BEFORE_SIGNUP_URL": "https://app.example.com/s"}))
	r := c.Redacted()
	if r["WEBHOOK_SECRET"] != "set" || r["HOOK_SECRET"] != "unset" {
		t.Errorf("redacted %v %v", r["WEBHOOK_SECRET"], r["HOOK_SECRET"])
	}
	for k, v := range r {
		if strings.Contains(fmt.Sprint(v), "MDEyMzQ1") {
			t.Errorf("%s shows a secret: %v", k, v)
		}
	}
	if len(c.Webhooks.HookSecrets) != 1 || c.Webhooks.HookSecrets[0] != testSecret24 {
		t.Errorf("hook secrets %v, want WEBHOOK_SECRET's", c.Webhooks.HookSecrets)
	}
}

// prov is provider i of c, or none.
func prov(c Config, i int) Provider {
	if i < len(c.OAuth.Providers) {
		return c.OAuth.Providers[i]
	}
	return Provider{}
}
