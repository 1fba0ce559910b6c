package httpadapter

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each request is a server span named by its route (continuing the
// caller's traceparent) with a child span for its use case; a 5xx marks
// both as errors; no header, body or query reaches the spans.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := newTestServer(t, func(d *Deps, _ *Options) { d.Tracer = tp })

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	s.do(http.MethodPost, "/auth/login?x=secret-query", creds, header("traceparent", parent), header("X-Request-ID", "rid-1"))
	s.auth.err = unavailableErr{}
	s.do(http.MethodPost, "/auth/refresh", `{"refreshToken":"rt"}`)
	s.do(http.MethodGet, "/nope", "")

	type span struct {
		name, parentSpan, trace string
		status                  codes.Code
		attrs                   map[attribute.Key]attribute.Value
	}
	var got []span
	for _, sp := range rec.Ended() {
		m := map[attribute.Key]attribute.Value{}
		for _, a := range sp.Attributes() {
			m[a.Key] = a.Value
			if v := a.Value.String(); strings.Contains(v, "secret") || strings.Contains(v, "correct horse") || strings.Contains(v, "Bearer") {
				t.Errorf("span %s records %s=%s", sp.Name(), a.Key, v)
			}
		}
		got = append(got, span{sp.Name(), sp.Parent().SpanID().String(), sp.SpanContext().TraceID().String(), sp.Status().Code, m})
	}
	find := func(name string) span {
		for _, sp := range got {
			if sp.name == name {
				return sp
			}
		}
		t.Fatalf("no span %q in %+v", name, got)
		return span{}
	}
	login := find("POST /auth/login")
	if login.trace != "4bf92f3577b34da6a3ce929d0e0e4736" || login.parentSpan != "00f067aa0ba902b7" ||
		login.attrs["gatehouse.request_id"].AsString() != "rid-1" || login.attrs["http.response.status_code"].AsInt64() != 200 {
		t.Errorf("login span %+v", login)
	}
	if uc := find("usecase auth.Login"); uc.trace != login.trace || uc.status == codes.Error {
		t.Errorf("use-case span %+v", uc)
	}
	if r := find("POST /auth/refresh"); r.status != codes.Error || r.attrs["http.response.status_code"].AsInt64() != 503 {
		t.Errorf("failed refresh span %+v", r)
	}
	if uc := find("usecase auth.Refresh"); uc.status != codes.Error {
		t.Errorf("failed use-case span %+v", uc)
	}
	if u := find("GET unmatched"); u.attrs["http.route"].AsString() != "unmatched" {
		t.Errorf("unmatched span %+v", u)
	}
}
