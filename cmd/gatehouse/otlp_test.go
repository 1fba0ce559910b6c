package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP collector that, like a real one, accepts
// spans only at its traces path and answers 404 anywhere else.
type otlpReceiver struct {
	srv  *httptest.Server
	path string

	mu    sync.Mutex
	spans []string // names of the spans accepted
	stray []string // method and path of every request it refused
}

func startOTLPReceiver(t *testing.T, path string) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{path: path}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != r.path || req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.mu.Lock()
		r.stray = append(r.stray, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	var msg collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				r.spans = append(r.spans, sp.GetName())
			}
		}
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

func (r *otlpReceiver) received() (spans, stray []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.spans...), append([]string(nil), r.stray...)
}

// TestOTLPEndpointConventions: with the documented
// OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318, spans reach a collector
// that only accepts /v1/traces (they used to be posted to /, which a real
// collector drops); OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is and
// wins over the base URL. The real exporter of the real graph, flushed by
// the stop.
func TestOTLPEndpointConventions(t *testing.T) {
	cases := []struct {
		name     string
		accepts  string
		settings func(base string) map[string]string
	}{
		{"base URL gets /v1/traces", "/v1/traces", func(base string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base}
		}},
		{"base URL with a path and a slash", "/otlp/v1/traces", func(base string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/otlp/"}
		}},
		{"traces URL as is, over the base", "/custom/spans", func(base string) map[string]string {
			return map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        base + "/elsewhere",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base + "/custom/spans",
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcv := startOTLPReceiver(t, c.accepts)
			env := testEnv("sqlite::memory:")
			for k, v := range c.settings(rcv.srv.URL) {
				env[k] = v
			}
			s := startServer(t, env)
			expect(t, s.client().do("GET", "/users/me", nil), 401, "UNAUTHENTICATED")
			s.stop() // flushes the batch of spans

			spans, stray := rcv.received()
			if len(stray) > 0 {
				t.Errorf("requests the collector refused: %v", stray)
			}
			found := false
			for _, n := range spans {
				found = found || n == "GET /users/me"
			}
			if !found {
				t.Fatalf("the collector at %s got no span of GET /users/me; spans %v", c.accepts, spans)
			}
		})
	}
}
