// Package metrics records Gatehouse's Prometheus metrics: HTTP requests by
// route and status, authentication outcomes reported by the use cases,
// throttling, database pool use and the Go runtime and process.
//
// Everything lives in one private registry (never the global default), so
// the metrics are exposed only where Handler is mounted: the separate
// METRICS_ADDR listener, never the public API.
package metrics

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// namespace prefixes every Gatehouse metric, and names the database in the
// pool metrics (go_sql_*{db_name="gatehouse"}).
const namespace = "gatehouse"

// UnmatchedRoute is the route label of requests that matched no route, so a
// scan of random URLs cannot create new series.
const UnmatchedRoute = "unmatched"

// otherMethod is the method label of any method outside the standard set;
// the method comes from the client, so it must not become a label as is.
const otherMethod = "OTHER"

// durationBuckets cover 1 ms (a token check) to 5 s (a stalled dependency);
// a login, which hashes a password, lands in the tens of milliseconds.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Metrics holds the registry and the collectors. It satisfies authn.Observer
// and the HTTP layer's request observer; every method is cheap and safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	loginSucceeded  prometheus.Counter
	loginFailed     prometheus.Counter
	rotations       prometheus.Counter
	reuseDetected   prometheus.Counter
	throttledLogin  prometheus.Counter
	throttledClient prometheus.Counter
	mailQueued      prometheus.Counter
	mailSent        prometheus.Counter
	mailFailed      retryCounters
	webhookQueued   prometheus.Gauge
	webhookSent     prometheus.Counter
	webhookFailed   retryCounters
	federated       *prometheus.CounterVec
}

var (
	_ authn.Observer    = (*Metrics)(nil)
	_ recovery.Observer = (*Metrics)(nil)
)

// New returns Metrics with its own registry holding the Gatehouse
// collectors and the Go runtime and process collectors.
func New() (*Metrics, error) {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route template, method and status.",
	}, []string{"route", "method", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route template and method.",
		Buckets: durationBuckets,
	}, []string{"route", "method"})
	logins, c := newCounters("", "logins_total",
		"Password logins, by result (succeeded or failed).", "result", "succeeded", "failed")
	m.loginSucceeded, m.loginFailed = c[0], c[1]
	m.rotations = newCounter("", "refresh_rotations_total", "Refresh tokens rotated.")
	m.reuseDetected = newCounter("", "refresh_reuse_detected_total",
		"Rotated refresh tokens presented again; each revoked its session.")
	throttled, c := newCounters("", "throttled_total",
		"Requests refused by throttling, by kind (login: the per-account login throttle; ip: the per-client-IP rate limit).",
		"kind", "login", "ip")
	m.throttledLogin, m.throttledClient = c[0], c[1]

	m.mailQueued = newCounter("mail", "queued_total", "Mails written to the outbox.")
	m.mailSent = newCounter("mail", "sent_total", "Mails accepted by the mail transport.")
	failed, mailFailed := newRetryCounters("mail",
		"Failed delivery attempts, by outcome (retry: tried again later; gave_up: the message was abandoned).")
	m.mailFailed = mailFailed

	// Bounded labels: providers come from configuration, outcomes from
	// the use case's fixed list.
	m.federated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "federated_signins_total",
		Help: "Sign-ins through other identity providers, by provider and outcome (success, linked, denied, failed, account_exists, email_required, identity_taken, disabled, signup_rejected, hook_unavailable).",
	}, []string{"provider", "outcome"})

	m.webhookQueued = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "webhook", Name: "queued",
		Help: "Webhook events waiting in the outbox (pending), as this instance last counted them.",
	})
	m.webhookSent = newCounter("webhook", "delivered_total", "Webhook events the receiver accepted (2xx).")
	whFailed, webhookFailed := newRetryCounters("webhook",
		"Failed webhook attempts, by outcome (retry: tried again later; gave_up: kept as failed).")
	m.webhookFailed = webhookFailed

	err := errors.Join(
		m.reg.Register(m.webhookQueued),
		m.reg.Register(m.webhookSent),
		m.reg.Register(whFailed),
		m.reg.Register(m.federated),
		m.reg.Register(m.mailQueued),
		m.reg.Register(m.mailSent),
		m.reg.Register(failed),
		m.reg.Register(m.requests),
		m.reg.Register(m.duration),
		m.reg.Register(logins),
		m.reg.Register(m.rotations),
		m.reg.Register(m.reuseDetected),
		m.reg.Register(throttled),
		m.reg.Register(collectors.NewGoCollector()),
		m.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: register collectors: %w", err)
	}
	return m, nil
}

// newCounter is a Gatehouse counter; subsystem may be empty.
func newCounter(subsystem, name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help})
}

// newCounters is a Gatehouse counter with one label of a fixed set of
// values, and its counter for each value in order: the series exist (at
// zero) before anything happens, and no other value can become a label.
func newCounters(subsystem, name, help, label string, values ...string) (*prometheus.CounterVec, []prometheus.Counter) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help},
		[]string{label})
	out := make([]prometheus.Counter, len(values))
	for i, v := range values {
		out[i] = vec.WithLabelValues(v)
	}
	return vec, out
}

// retryCounters count an outbox's failed delivery attempts by outcome:
// retry (tried again later) or gave_up (the last attempt).
type retryCounters struct{ retried, givenUp prometheus.Counter }

// newRetryCounters is the outbox subsystem's failed_total{outcome}.
func newRetryCounters(subsystem, help string) (*prometheus.CounterVec, retryCounters) {
	vec, c := newCounters(subsystem, "failed_total", help, "outcome", "retry", "gave_up")
	return vec, retryCounters{retried: c[0], givenUp: c[1]}
}

// count counts one failed attempt; final when it was the last.
func (r retryCounters) count(final bool) {
	if final {
		r.givenUp.Inc()
		return
	}
	r.retried.Inc()
}

// RegisterDB adds the connection-pool statistics of db (go_sql_* with
// db_name="gatehouse"). Call it once per Metrics.
func (m *Metrics) RegisterDB(db *sql.DB) error {
	if err := m.reg.Register(collectors.NewDBStatsCollector(db, namespace)); err != nil {
		return fmt.Errorf("metrics: register database stats: %w", err)
	}
	return nil
}

// RegisterBuildInfo adds gatehouse_build_info{version, goversion} = 1, so
// dashboards can tell which build each instance runs.
func (m *Metrics) RegisterBuildInfo(version, goVersion string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Build of the running instance; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion},
	})
	g.Set(1)
	return m.reg.Register(g)
}

// Registry is the private registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. Mount it
// only on the metrics listener.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Counts failed scrapes in promhttp_metric_handler_errors_total.
		Registry: m.reg,
		// Scrapes are cheap, but a stuck scraper must not pile them up.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// ObserveRequest records one answered HTTP request. route must be a route
// template (or "" / UnmatchedRoute when none matched), never a raw URL;
// methods outside the standard set are counted as "OTHER".
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = UnmatchedRoute
	}
	method = normalizeMethod(method)
	m.requests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// IPThrottled counts a request refused by the per-client-IP rate limit.
func (m *Metrics) IPThrottled() { m.throttledClient.Inc() }

// LoginSucceeded counts a successful password login.
func (m *Metrics) LoginSucceeded() { m.loginSucceeded.Inc() }

// LoginFailed counts a login refused for wrong credentials.
func (m *Metrics) LoginFailed() { m.loginFailed.Inc() }

// RefreshRotated counts a refresh-token rotation.
func (m *Metrics) RefreshRotated() { m.rotations.Inc() }

// RefreshReuseDetected counts a detected refresh-token reuse.
func (m *Metrics) RefreshReuseDetected() { m.reuseDetected.Inc() }

// LoginThrottled counts a password attempt refused by the per-account login
// throttle (throttled_total{kind="login"}).
func (m *Metrics) LoginThrottled() { m.throttledLogin.Inc() }

// MailQueued counts a mail written to the outbox.
func (m *Metrics) MailQueued() { m.mailQueued.Inc() }

// MailSent counts a mail the transport accepted.
func (m *Metrics) MailSent() { m.mailSent.Inc() }

// MailFailed counts a failed delivery attempt; final when it was the last.
func (m *Metrics) MailFailed(final bool) { m.mailFailed.count(final) }

// WebhookQueued sets the number of webhook events waiting.
func (m *Metrics) WebhookQueued(n int) { m.webhookQueued.Set(float64(n)) }

// WebhookDelivered counts an event the receiver accepted.
func (m *Metrics) WebhookDelivered() { m.webhookSent.Inc() }

// WebhookFailed counts a failed attempt; givenUp when it was the last.
func (m *Metrics) WebhookFailed(givenUp bool) { m.webhookFailed.count(givenUp) }

func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return otherMethod
}

// statusLabel is the decimal status; anything outside 100..599 (which a
// server never sends) collapses to one label.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// FederatedSignIn counts a sign-in through another provider by outcome.
func (m *Metrics) FederatedSignIn(provider, outcome string) {
	m.federated.WithLabelValues(provider, outcome).Inc()
}
