package metricsserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/metricsserver"
)

// startModule runs the Module alone with addr as MetricsAddr and a handler
// that answers "scraped".
func startModule(t *testing.T, addr string) *metricsserver.Server {
	t.Helper()
	cfg := config.Config{MetricsAddr: addr}
	cfg.HTTP.ReadHeaderTimeout = 5 * time.Second
	cfg.HTTP.ShutdownTimeout = 5 * time.Second
	var s *metricsserver.Server
	app := fx.New(
		metricsserver.Module(),
		fx.Supply(cfg, slog.New(slog.DiscardHandler)),
		fx.Provide(fx.Annotate(
			func() http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "scraped") })
			},
			fx.ResultTags(`name:"`+metricsserver.HandlerName+`"`),
		)),
		fx.Populate(&s),
		fx.NopLogger,
	)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestOffByDefault(t *testing.T) {
	s := startModule(t, "")
	if s.Enabled() || s.Addr() != nil {
		t.Fatalf("metrics listener running with no METRICS_ADDR: %v", s.Addr())
	}
}

func TestServesOnlyMetrics(t *testing.T) {
	s := startModule(t, "127.0.0.1:0")
	if !s.Enabled() || s.Addr() == nil {
		t.Fatal("metrics listener not running")
	}
	base := "http://" + s.Addr().String()
	if code, body := get(t, base+metricsserver.Path); code != http.StatusOK || body != "scraped" {
		t.Errorf("GET /metrics: %d %q", code, body)
	}
	for _, p := range []string{"/", "/healthz", "/metrics/x", "/auth/login"} {
		if code, _ := get(t, base+p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}

func TestTakenAddressFailsStart(t *testing.T) {
	s := startModule(t, "127.0.0.1:0")
	cfg := config.Config{MetricsAddr: s.Addr().String()}
	app := fx.New(
		metricsserver.Module(),
		fx.Supply(cfg, slog.New(slog.DiscardHandler)),
		fx.Provide(fx.Annotate(func() http.Handler { return http.NotFoundHandler() }, fx.ResultTags(`name:"metrics"`))),
		fx.NopLogger,
	)
	err := app.Start(context.Background())
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("second listener on the same address started")
	}
	if !strings.Contains(err.Error(), s.Addr().String()) {
		t.Errorf("error does not name the address: %v", err)
	}
}
