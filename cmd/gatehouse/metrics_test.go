package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/infrastructure/metricsserver"
)

// startServerWithMetrics is startServer that also reports the metrics
// listener, whose address (with METRICS_ADDR=...:0) is known only after start.
func startServerWithMetrics(t *testing.T, env map[string]string) (*server, *metricsserver.Server) {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var (
		srv *httpserver.Server
		e   *echo.Echo
		ms  *metricsserver.Server
	)
	app := fx.New(serveOptions(fx.Supply(cfg)), fx.Populate(&srv, &e, &ms), fx.NopLogger)
	if err := app.Err(); err != nil {
		t.Fatalf("build app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}
	s := &server{t: t, base: "http://" + srv.Addr().String(), app: app, cfg: cfg, echo: e}
	t.Cleanup(s.stop)
	return s, ms
}

// scrapeMetrics GETs /metrics from the metrics listener.
func scrapeMetrics(t *testing.T, ms *metricsserver.Server) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ms.Addr().String() + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d: %s", resp.StatusCode, body)
	}
	return string(body)
}

// missing lists the wanted lines (or line prefixes) absent from a scrape.
func missing(scrape string, want []string) []string {
	var out []string
	for _, w := range want {
		if !strings.Contains(scrape, "\n"+w) {
			out = append(out, w)
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["METRICS_ADDR"] = "127.0.0.1:0"
		s, ms := startServerWithMetrics(t, env)
		if ms.Addr() == nil {
			t.Fatal("METRICS_ADDR set but no metrics listener")
		}
		if ms.Addr().String() == strings.TrimPrefix(s.base, "http://") {
			t.Fatal("metrics served on the public listener")
		}

		c := s.client()
		c.register("metrics@example.com", "correct horse battery")
		_, r := c.login("metrics@example.com", "correct horse battery", "")
		expect(t, r, 200, "")
		_, r = c.login("metrics@example.com", "wrong horse battery", "")
		expect(t, r, 401, "INVALID_CREDENTIALS")
		expect(t, c.do("POST", "/auth/refresh", nil), 200, "")
		expect(t, c.do("GET", "/no/such/page", nil), 404, "NOT_FOUND")

		// The public listener never serves the metrics.
		expect(t, c.do("GET", "/metrics", nil), 404, "NOT_FOUND")

		want := []string{
			`gatehouse_logins_total{result="succeeded"} 1`,
			`gatehouse_logins_total{result="failed"} 1`,
			`gatehouse_refresh_rotations_total 1`,
			`gatehouse_refresh_reuse_detected_total 0`,
			`gatehouse_http_requests_total{method="POST",route="/auth/login",status="200"} 1`,
			`gatehouse_http_requests_total{method="POST",route="/auth/login",status="401"} 1`,
			`gatehouse_http_requests_total{method="POST",route="/auth/refresh",status="200"} 1`,
			`gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
			`gatehouse_http_request_duration_seconds_count{method="POST",route="/auth/login"} 2`,
			`go_sql_max_open_connections{db_name="gatehouse"} `,
			`go_sql_open_connections{db_name="gatehouse"} `,
			`go_sql_in_use_connections{db_name="gatehouse"} `,
			`go_sql_wait_count_total{db_name="gatehouse"} `,
			`go_goroutines `,
		}
		// A request is counted once its handler returns, which may be just
		// after the client has read the response.
		var gaps []string
		for deadline := time.Now().Add(5 * time.Second); ; {
			out := scrapeMetrics(t, ms)
			if gaps = missing(out, want); len(gaps) == 0 {
				if strings.Contains(out, "/no/such/page") {
					t.Error("a raw URL became a label value")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scrape lacks %q:\n%s", gaps, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestMetricsOffByDefault(t *testing.T) {
	s, ms := startServerWithMetrics(t, testEnv("sqlite::memory:"))
	if ms.Enabled() || ms.Addr() != nil {
		t.Fatalf("metrics listener running without METRICS_ADDR: %v", ms.Addr())
	}
	expect(t, s.client().do("GET", "/metrics", nil), 404, "NOT_FOUND")
}
