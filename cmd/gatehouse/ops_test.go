package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
)

func TestBuildInfoMetric(t *testing.T) {
	env := testEnv("sqlite://" + filepath.Join(t.TempDir(), "g.db"))
	env["METRICS_ADDR"] = "127.0.0.1:0"
	_, ms := startServerWithMetrics(t, env)
	scrape := scrapeMetrics(t, ms)
	if !strings.Contains(scrape, `gatehouse_build_info{goversion="go`) || !strings.Contains(scrape, `version="dev"} 1`) {
		t.Fatalf("no build info in:\n%s", scrape)
	}
}

// A database that cannot be reached at start is one line on stderr and
// exit 1, not a dependency-injection dump.
func TestStartWithUnreachableDatabase(t *testing.T) {
	t.Setenv("CONFIG_FILE", "")
	t.Setenv("DATABASE_URL", "postgres://gatehouse@127.0.0.1:1/gatehouse?connect_timeout=2")
	t.Setenv("LOG_LEVEL", "error")
	var out, errOut bytes.Buffer
	code := run(nil, &out, &errOut)
	msg := errOut.String()
	if code != 1 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "connect") ||
		strings.Contains(msg, "could not build") || strings.Contains(msg, ".go:") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}

// Admin actions, reuse detection and throttling are WARN lines with the
// event name and no secret.
func TestWarnLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	warnNotifier{log}.AdminAction(context.Background(), audit.Event{Type: audit.AdminUserDisabled, ActorID: "a", UserID: "u"})
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	o := warnObserver{m, log}
	o.RefreshReuseDetected()
	o.LoginThrottled()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{`"event":"admin_user_disabled"`, `"event":"refresh_reuse_detected"`, `"event":"login_throttled"`}
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], `"level":"WARN"`) || !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q lacks %s", i, lines[i], w)
		}
	}
}

// Keys written before DATA_ENCRYPTION_KEY was set (signing keys and the
// refresh-token key) are sealed by the first start with it, tokens keep
// verifying and refreshing (same keys), and a start without the
// key then fails with one clear error instead of serving.
func TestSigningKeysEncryptedOnFirstStartWithKey(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		s := startServer(t, env)
		c := s.client()
		p := c.register("ada@example.com", "ada's password 1")
		s.stop()

		env["DATA_ENCRYPTION_KEY"] = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
		s2 := startServer(t, env)
		c2 := s2.client()
		c2.bearer = p.AccessToken
		expect(t, c2.do("GET", "/users/me", nil), 200, "")

		cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		db, err := database.Open(databaseConfig(cfg), nil)
		if err != nil {
			t.Fatal(err)
		}
		var pem string
		if err := db.Raw("SELECT private_key_pem FROM signing_keys").Row().Scan(&pem); err != nil {
			t.Fatal(err)
		}
		// Issue 21 item 12: the refresh-token MAC key too; sessions begun
		// before go on refreshing (the same key, now sealed).
		var secret []byte
		var sealed *string
		if err := db.Raw("SELECT secret, sealed FROM refresh_token_keys").Row().Scan(&secret, &sealed); err != nil {
			t.Fatal(err)
		}
		_ = database.Close(db)
		if strings.Contains(pem, "PRIVATE KEY") || !strings.HasPrefix(pem, "gh1:") {
			t.Fatalf("stored key not sealed: %.40q", pem)
		}
		if secret != nil || sealed == nil || !strings.HasPrefix(*sealed, "gh1:") {
			t.Fatalf("refresh token key not sealed: secret %d bytes, sealed %v", len(secret), sealed)
		}
		c2.cookies = c.cookies
		expect(t, c2.do("POST", "/auth/refresh", nil), 200, "")
		s2.stop()

		delete(env, "DATA_ENCRYPTION_KEY")
		cfg, _ = config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		app := fx.New(serveOptions(fx.Supply(cfg)), fx.NopLogger)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = app.Err()
		if err == nil {
			err = app.Start(ctx)
			_ = app.Stop(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), "DATA_ENCRYPTION_KEY is not set") {
			t.Fatalf("start without the key: %v", err)
		}
	})
}

// Mail on, the example app off and the default link templates: the service
// refuses to start, with one line naming the template, instead of mailing
// links to a page that answers 404.
func TestMailLinksToAnOffExampleAppRefused(t *testing.T) {
	t.Setenv("CONFIG_FILE", "")
	t.Setenv("DATABASE_URL", "sqlite::memory:")
	t.Setenv("MAIL_URL", "smtp://mail.example.com")
	t.Setenv("EXAMPLE_APP_ENABLED", "false")
	t.Setenv("PASSWORD_RESET_LINK", "https://app.example.com/#/reset?token={token}")
	var out, errOut bytes.Buffer
	code := run(nil, &out, &errOut)
	msg := errOut.String()
	if code != 1 || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "config: EMAIL_VERIFY_LINK: ") ||
		strings.Contains(msg, "PASSWORD_RESET_LINK") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}

// HTTP_ADDR on another port than the default PUBLIC_URL's is one WARN line
// at start, naming both settings.
func TestPortMismatchWarnedOnce(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := startServerWith(t, testEnv("sqlite::memory:"), fx.Decorate(func(*slog.Logger) *slog.Logger { return log }))
	expect(t, s.client().do("GET", "/healthz", nil), 200, "")
	s.stop()
	var warned []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(line, "PUBLIC_URL") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"level":"WARN"`) || !strings.Contains(warned[0], "HTTP_ADDR listens on port 0") {
		t.Fatalf("warnings about PUBLIC_URL: %q", warned)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
