package metrics_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/adapter/metrics"
)

func newMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scrape returns the exposition text the handler serves.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestCountersMove(t *testing.T) {
	m := newMetrics(t)
	m.LoginSucceeded()
	m.LoginFailed()
	m.LoginFailed()
	m.RefreshRotated()
	m.RefreshReuseDetected()
	m.LoginThrottled()
	m.IPThrottled()
	m.IPThrottled()
	m.MailQueued()
	m.MailQueued()
	m.MailSent()
	m.MailFailed(false)
	m.MailFailed(false)
	m.MailFailed(true)

	out := scrape(t, m)
	for _, want := range []string{
		`gatehouse_logins_total{result="succeeded"} 1`,
		`gatehouse_logins_total{result="failed"} 2`,
		`gatehouse_refresh_rotations_total 1`,
		`gatehouse_refresh_reuse_detected_total 1`,
		`gatehouse_throttled_total{kind="login"} 1`,
		`gatehouse_throttled_total{kind="ip"} 2`,
		`gatehouse_mail_queued_total 2`,
		`gatehouse_mail_sent_total 1`,
		`gatehouse_mail_failed_total{outcome="retry"} 2`,
		`gatehouse_mail_failed_total{outcome="gave_up"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestOutcomeSeriesExistBeforeFirstEvent(t *testing.T) {
	// rate() over a series that appears only with its first event misses
	// that event, so the fixed label values start at zero.
	out := scrape(t, newMetrics(t))
	for _, want := range []string{
		`gatehouse_logins_total{result="succeeded"} 0`,
		`gatehouse_logins_total{result="failed"} 0`,
		`gatehouse_refresh_rotations_total 0`,
		`gatehouse_refresh_reuse_detected_total 0`,
		`gatehouse_throttled_total{kind="login"} 0`,
		`gatehouse_throttled_total{kind="ip"} 0`,
		`gatehouse_mail_queued_total 0`,
		`gatehouse_mail_sent_total 0`,
		`gatehouse_mail_failed_total{outcome="retry"} 0`,
		`gatehouse_mail_failed_total{outcome="gave_up"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestObserveRequest(t *testing.T) {
	m := newMetrics(t)
	m.ObserveRequest("/auth/login", http.MethodPost, 200, 30*time.Millisecond)
	m.ObserveRequest("/auth/login", http.MethodPost, 401, 20*time.Millisecond)
	m.ObserveRequest("/auth/login", http.MethodPost, 200, 2*time.Second)

	out := scrape(t, m)
	for _, want := range []string{
		`gatehouse_http_requests_total{method="POST",route="/auth/login",status="200"} 2`,
		`gatehouse_http_requests_total{method="POST",route="/auth/login",status="401"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="POST",route="/auth/login"} 3`,
		`gatehouse_http_request_duration_seconds_bucket{method="POST",route="/auth/login",le="0.001"} 0`,
		`gatehouse_http_request_duration_seconds_bucket{method="POST",route="/auth/login",le="0.025"} 1`,
		`gatehouse_http_request_duration_seconds_bucket{method="POST",route="/auth/login",le="0.05"} 2`,
		`gatehouse_http_request_duration_seconds_bucket{method="POST",route="/auth/login",le="5"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestRequestLabelsBounded(t *testing.T) {
	m := newMetrics(t)
	// What a client controls (an unmatched path, the method) must not mint
	// new series however many distinct values it sends.
	for i := range 50 {
		m.ObserveRequest("", "BREW"+strings.Repeat("X", i), 404, time.Millisecond)
		m.ObserveRequest(metrics.UnmatchedRoute, http.MethodGet, 404, time.Millisecond)
	}
	m.ObserveRequest("/auth/sessions/:id", http.MethodDelete, 200, time.Millisecond)
	m.ObserveRequest("/healthz", http.MethodGet, 0, time.Millisecond)

	if n := testutil.CollectAndCount(m.Registry(), "gatehouse_http_requests_total"); n != 4 {
		t.Errorf("%d request series, want 4", n)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`gatehouse_http_requests_total{method="OTHER",route="unmatched",status="404"} 50`,
		`gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 50`,
		`gatehouse_http_requests_total{method="DELETE",route="/auth/sessions/:id",status="200"} 1`,
		`gatehouse_http_requests_total{method="GET",route="/healthz",status="other"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestHandlerServesRuntimeAndPoolMetrics(t *testing.T) {
	m := newMetrics(t)
	// A *sql.DB that was never opened still reports its (empty) pool.
	db := sql.OpenDB(nopConnector{})
	t.Cleanup(func() { _ = db.Close() })
	if err := m.RegisterDB(db); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterDB(db); err == nil {
		t.Error("registering the database twice succeeded")
	}
	m.ObserveRequest("/healthz", http.MethodGet, 200, time.Millisecond)

	out := scrape(t, m)
	for _, want := range []string{
		"# TYPE gatehouse_http_requests_total counter",
		"# TYPE gatehouse_http_request_duration_seconds histogram",
		"# TYPE gatehouse_logins_total counter",
		"# TYPE gatehouse_refresh_rotations_total counter",
		"# TYPE gatehouse_refresh_reuse_detected_total counter",
		"# TYPE gatehouse_throttled_total counter",
		`go_sql_max_open_connections{db_name="gatehouse"}`,
		`go_sql_in_use_connections{db_name="gatehouse"}`,
		`go_sql_wait_count_total{db_name="gatehouse"}`,
		"go_goroutines ",
		"promhttp_metric_handler_errors_total",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	// No global registry: two instances (two apps in one test binary)
	// neither collide nor share counts.
	a, b := newMetrics(t), newMetrics(t)
	a.LoginSucceeded()
	if out := scrape(t, b); !strings.Contains(out, `gatehouse_logins_total{result="succeeded"} 0`) {
		t.Error("second instance counted the first one's login")
	}
}

// nopConnector is a database/sql connector that never connects.
type nopConnector struct{}

func (nopConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database")
}

func (nopConnector) Driver() driver.Driver { return nil }
