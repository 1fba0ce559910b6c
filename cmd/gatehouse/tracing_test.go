package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/infrastructure/tracing"
)

// startTracedServer is startServer with the SDK's in-memory exporter in
// place of the (off by default) OTLP one.
func startTracedServer(t *testing.T, env map[string]string) (*server, *tracetest.InMemoryExporter) {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp))
	var (
		srv *httpserver.Server
		e   *echo.Echo
	)
	app := fx.New(serveOptions(fx.Supply(cfg)), fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp }),
		fx.Populate(&srv, &e), fx.NopLogger)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, base: "http://" + srv.Addr().String(), app: app, cfg: cfg, echo: e}
	t.Cleanup(s.stop)
	return s, exp
}

// spanTree renders the spans of one trace as an indented tree, parents
// first, for assertions and for the log.
func spanTree(spans tracetest.SpanStubs, traceID trace.TraceID) (string, map[string]int) {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == traceID {
			ids[s.SpanContext.SpanID()] = true
		}
	}
	for _, s := range spans {
		if s.SpanContext.TraceID() != traceID {
			continue
		}
		if ids[s.Parent.SpanID()] {
			children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	depth := map[string]int{}
	var walk func(s tracetest.SpanStub, d int)
	walk = func(s tracetest.SpanStub, d int) {
		attrs := []string{}
		for _, a := range s.Attributes {
			switch a.Key {
			case "http.route", "http.response.status_code", "db.query.text", "db.system.name":
				attrs = append(attrs, fmt.Sprintf("%s=%v", a.Key, a.Value.String()))
			}
		}
		fmt.Fprintf(&b, "%s%s [%s] %s\n", strings.Repeat("  ", d), s.Name, s.EndTime.Sub(s.StartTime).Round(time.Microsecond), strings.Join(attrs, " "))
		if _, ok := depth[s.Name]; !ok {
			depth[s.Name] = d
		}
		kids := children[s.SpanContext.SpanID()]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime.Before(kids[j].StartTime) })
		for _, k := range kids {
			walk(k, d+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String(), depth
}

// TestTraceOfARefresh: one refresh is one trace: the server span (joined to
// the caller's traceparent), the use case under it, and the database
// statements under that; no secret is recorded.
func TestTraceOfARefresh(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		s, exp := startTracedServer(t, testEnv(dbURL(t)))
		c := s.client()
		r := c.do("POST", "/auth/register", map[string]any{"email": "ada@example.com", "password": "ada's password 1", "refreshTokenTransport": "body"})
		expect(t, r, 201, "")
		var p tokenPair
		r.data(t, &p)
		exp.Reset()

		const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		r = c.do("POST", "/auth/refresh", map[string]any{"refreshToken": p.RefreshToken}, withHeader("traceparent", parent))
		expect(t, r, 200, "")
		var next tokenPair
		r.data(t, &next)
		tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
		spans := exp.GetSpans()
		tree, depth := spanTree(spans, tid)
		t.Logf("trace %s of POST /auth/refresh (in-memory exporter):\n%s", tid, tree)
		if depth["POST /auth/refresh"] != 0 || depth["usecase auth.Refresh"] != 1 {
			t.Fatalf("spans not nested server > use case:\n%s", tree)
		}
		if !strings.Contains(tree, "db.") {
			t.Fatalf("no database span:\n%s", tree)
		}
		for _, sp := range spans {
			if sp.Name == "POST /auth/refresh" && sp.Parent.SpanID().String() != "00f067aa0ba902b7" {
				t.Fatalf("server span did not join the caller's trace: parent %s", sp.Parent.SpanID())
			}
		}
		for _, secret := range []string{p.RefreshToken, next.RefreshToken, next.AccessToken, "ada's password"} {
			if strings.Contains(tree, secret) || strings.Contains(fmt.Sprint(spans), secret) {
				t.Fatal("a secret reached a span")
			}
		}
	})
}
