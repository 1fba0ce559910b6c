package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
)

// This file holds what the failure, shutdown, fleet and timing tests share:
// a request helper for load goroutines, which must not call t.Fatal and must
// see transport errors instead of failing on them, and small statistics.

// outcome is what one probe saw.
type outcome struct {
	// resp is the checked response; nil when err is set.
	resp *response
	// err is the transport error, if any (dial, write, read, timeout).
	err     error
	elapsed time.Duration
	// reused: the request went out on a kept-alive connection.
	reused bool
	// wrote: the whole request was written to the connection.
	wrote bool
	// firstByte: at least one byte of a response arrived.
	firstByte bool
	// requestID is the X-Request-ID the probe sent.
	requestID string
}

// status is the HTTP status, 0 on a transport error.
func (o outcome) status() int {
	if o.resp == nil {
		return 0
	}
	return o.resp.Status
}

func (o outcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("error after %s (reused=%v wrote=%v firstByte=%v): %v", o.elapsed, o.reused, o.wrote, o.firstByte, o.err)
	}
	return fmt.Sprintf("%d %s after %s", o.resp.Status, o.resp.code(), o.elapsed)
}

var probeSeq atomic.Int64

// probe sends one request to base+path and checks any response the way
// client.do does (spec, envelope, statusCode, X-Request-ID, no 5xx but 503),
// reporting problems with t.Errorf, which load goroutines may call. A
// transport error is returned, not reported: the caller decides what it
// means. bearer, when not empty, is sent as the access token.
func probe(t testing.TB, hc *http.Client, base, method, path string, body any, bearer string, hdr ...string) outcome {
	var rd io.Reader
	ct := ""
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	out := outcome{requestID: fmt.Sprintf("probe-%d-%d", time.Now().UnixNano(), probeSeq.Add(1))}
	var reused, wrote, firstByte atomic.Bool
	trace := &httptrace.ClientTrace{
		// Called again when the Transport retries on another connection;
		// the last call describes the attempt whose result we get.
		GotConn:              func(i httptrace.GotConnInfo) { reused.Store(i.Reused); wrote.Store(false) },
		WroteRequest:         func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
		GotFirstResponseByte: func() { firstByte.Store(true) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, base+path, rd)
	if err != nil {
		panic(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req.Header.Set("X-Request-ID", out.requestID)
	start := time.Now()
	resp, err := hc.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err == nil {
			out.resp = checkResponse(t, req, resp, b)
		}
	}
	out.elapsed = time.Since(start)
	out.err = err
	out.reused, out.wrote, out.firstByte = reused.Load(), wrote.Load(), firstByte.Load()
	return out
}

// checkResponse applies the harness's per-response checks with t.Errorf.
func checkResponse(t testing.TB, req *http.Request, resp *http.Response, body []byte) *response {
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: body, Cookies: resp.Cookies()}
	method, path := req.Method, req.URL.Path
	if err := spectest.Shared(t).ValidateResponse(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("%s %s: response does not match the spec: %v", method, path, err)
	}
	if isJSON(resp.Header.Get("Content-Type")) && path != "/.well-known/jwks.json" && !strings.HasPrefix(path, "/docs") {
		if err := json.Unmarshal(body, &out.Env); err != nil {
			t.Errorf("%s %s: body is not an envelope: %v: %s", method, path, err, body)
		} else {
			if out.Env.StatusCode != resp.StatusCode {
				t.Errorf("%s %s: statusCode %d != HTTP %d", method, path, out.Env.StatusCode, resp.StatusCode)
			}
			if rid := resp.Header.Get("X-Request-ID"); rid == "" || rid != out.Env.RequestID {
				t.Errorf("%s %s: X-Request-ID %q vs requestId %q", method, path, rid, out.Env.RequestID)
			}
			if out.Env.Success != (resp.StatusCode < 400) {
				t.Errorf("%s %s: success=%v with status %d", method, path, out.Env.Success, resp.StatusCode)
			}
		}
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: server error %d: %s", method, path, resp.StatusCode, body)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && out.code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("%s %s: 503 with code %q, want SERVICE_UNAVAILABLE: %s", method, path, out.code(), body)
	}
	return out
}

// pairOf decodes the token pair of a 200/201 outcome, or returns false.
func pairOf(t testing.TB, o outcome) (tokenPair, bool) {
	var p tokenPair
	if o.resp == nil || (o.resp.Status != 200 && o.resp.Status != 201) {
		return p, false
	}
	if err := json.Unmarshal(o.resp.Env.Data, &p); err != nil {
		t.Errorf("decode token pair: %v: %s", err, o.resp.Body)
		return p, false
	}
	return p, true
}

// durations summarises a sample.
type durations []time.Duration

func (d durations) sorted() durations {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

func (d durations) median() time.Duration { return d.quantile(0.5) }

// quantile is the q-quantile (0..1), interpolating between ranks.
func (d durations) quantile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := d.sorted()
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	frac := pos - float64(i)
	return s[i] + time.Duration(frac*float64(s[i+1]-s[i]))
}

func (d durations) String() string {
	if len(d) == 0 {
		return "n=0"
	}
	s := d.sorted()
	r := func(x time.Duration) time.Duration { return x.Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d min=%s p25=%s median=%s max=%s", len(s), r(s[0]), r(d.quantile(0.25)), r(d.median()), r(s[len(s)-1]))
}

// startApp starts the real application graph like startServer, for any
// testing.TB (benchmarks included), and returns its base URL.
func startApp(tb testing.TB, env map[string]string) string {
	tb.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	var srv *httpserver.Server
	app := fx.New(serveOptions(fx.Supply(cfg)), fx.Populate(&srv), fx.NopLogger)
	if err := app.Err(); err != nil {
		tb.Fatalf("build app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		tb.Fatalf("start app: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Stop(ctx)
	})
	return "http://" + srv.Addr().String()
}
