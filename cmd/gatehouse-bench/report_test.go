package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func sampleResult() *Result {
	h := &Histogram{}
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	return &Result{
		Scenario: "me", Target: "service", Workers: 16, Requests: 103, Errors: 3,
		ErrorKinds: map[string]uint64{"HTTP 401 TOKEN_INVALID": 2, "timeout": 1},
		Latency:    h, Window: 2 * time.Second,
		RSS:  &RSSStats{Samples: 20, MaxMiB: 40.5, SteadyMiB: 38.25},
		Note: "a note",
	}
}

func TestResultJSONShape(t *testing.T) {
	rep := &Report{
		Command: "compare", URL: "http://127.0.0.1:3000", StartedAt: time.Unix(0, 0).UTC(),
		Settings: Settings{Duration: "10s", Warmup: "2s", Concurrency: 16, Users: 64, Rounds: 3, GOMAXPROCS: 2},
		Results:  []ResultJSON{sampleResult().toJSON(1)},
		Comparisons: []Comparison{{
			Target: "me", Floor: floorMe, Threshold: 0.5, Ratios: []float64{0.6, 0.4, 0.7},
		}},
		Memory:    &MemoryReport{PID: 42, MaxMiB: 50, SteadyMiB: 40, SteadyBy: "login", LimitMiB: 64, Verdict: "PASS"},
		ColdStart: &ColdStartReport{Runs: []float64{1, 2}, LimitMs: 300, Verdict: "PASS"},
	}
	rep.Comparisons[0].summarize()
	var buf bytes.Buffer
	if err := writeJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "url", "startedAt", "settings", "results", "comparisons", "memory", "coldStart"} {
		if _, ok := got[k]; !ok {
			t.Errorf("report has no %q", k)
		}
	}
	res := got["results"].([]any)[0].(map[string]any)
	want := map[string]any{
		"scenario": "me", "target": "service", "round": 1.0, "workers": 16.0, "requests": 103.0, "errors": 3.0,
		"rps": 50.0, "windowSeconds": 2.0, "note": "a note",
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("result[%q] = %v, want %v", k, res[k], v)
		}
	}
	for _, k := range []string{"p50Ms", "p99Ms", "meanMs", "maxMs", "errorKinds", "rss"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result has no %q", k)
		}
	}
	if p50 := res["p50Ms"].(float64); p50 < 49 || p50 > 51.6 {
		t.Errorf("p50Ms = %v, want ~50", p50)
	}
	if kinds := res["errorKinds"].(map[string]any); kinds["timeout"] != 1.0 {
		t.Errorf("errorKinds = %v", kinds)
	}
	cmp := got["comparisons"].([]any)[0].(map[string]any)
	if cmp["min"] != 0.4 || cmp["median"] != 0.6 || cmp["max"] != 0.7 || cmp["verdict"] != "PASS" || cmp["threshold"] != 0.5 {
		t.Errorf("comparison = %v", cmp)
	}
	if rs := cmp["ratios"].([]any); len(rs) != 3 || rs[1] != 0.4 {
		t.Errorf("ratios keep round order: %v", rs)
	}

	// A result with no errors still has an (empty) errorKinds object.
	empty := (&Result{Latency: &Histogram{}}).toJSON(0)
	b, _ := json.Marshal(empty)
	if !strings.Contains(string(b), `"errorKinds":{}`) || strings.Contains(string(b), `"round"`) {
		t.Errorf("empty result JSON = %s", b)
	}
}

func TestComparisonVerdict(t *testing.T) {
	c := Comparison{Threshold: 0.9, Ratios: []float64{0.95, 0.5, 0.89}}
	c.summarize()
	if c.Min != 0.5 || c.Median != 0.89 || c.Max != 0.95 || c.Verdict != "MISS" {
		t.Errorf("got %+v", c)
	}
	c = Comparison{Threshold: 0.5, Ratios: []float64{0.5, 0.6}}
	c.summarize()
	if c.Median != 0.55 || c.Verdict != "PASS" {
		t.Errorf("got %+v", c)
	}
	c = Comparison{Threshold: 0.5}
	c.summarize()
	if c.Verdict != "NONE" {
		t.Errorf("no rounds: %+v", c)
	}
}

func TestPrintResultsTable(t *testing.T) {
	r1 := sampleResult().toJSON(0)
	r2 := (&Result{Scenario: "login", Target: "service", Workers: 2, Requests: 10, Latency: &Histogram{}, Window: time.Second}).toJSON(0)
	var buf bytes.Buffer
	if err := printResults(&buf, []ResultJSON{r1, r2}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	head := strings.Fields(lines[0])
	if !slices.Equal(head, []string{"SCENARIO", "TARGET", "WORKERS", "REQUESTS", "REQ/S", "P50", "P99", "ERRORS", "RSS", "MAX", "RSS", "STEADY"}) {
		t.Errorf("header = %q", lines[0])
	}
	if strings.Contains(lines[0], "ROUND") {
		t.Error("ROUND column without rounds")
	}
	row := strings.Fields(lines[1])
	if len(row) != 10 || !slices.Equal(row[:5], []string{"me", "service", "16", "103", "50.0"}) ||
		!slices.Equal(row[7:9], []string{"3", "40.5MiB"}) || !strings.HasPrefix(row[9], "38.") {
		t.Errorf("row = %q", lines[1])
	}
	// Percentiles are read from the histogram: within a bucket of the exact 50 and 99 ms.
	if !strings.HasPrefix(row[5], "49.") && !strings.HasPrefix(row[5], "50.") || !strings.HasPrefix(row[6], "99.") {
		t.Errorf("percentiles = %s %s", row[5], row[6])
	}
	if row := strings.Fields(lines[2]); row[len(row)-1] != "-" {
		t.Errorf("row without RSS = %q", lines[2])
	}
	for _, want := range []string{"me/service: 2 x HTTP 401 TOKEN_INVALID", "me/service: 1 x timeout", "me/service: a note"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every table row has the same width.
	if len(lines[0]) != len(lines[1]) || len(lines[1]) != len(lines[2]) {
		t.Errorf("ragged table:\n%s", out)
	}

	buf.Reset()
	if err := printComparisons(&buf, []Comparison{{Target: "me", Floor: floorMe, Threshold: 0.5, Ratios: []float64{0.61}, Min: 0.61, Median: 0.61, Max: 0.61, Verdict: "PASS"}}); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(strings.Split(buf.String(), "\n")[1]); !slices.Equal(f, []string{"me", "floor-me", "0.610", "0.610", "0.610", ">=0.50", "PASS", "0.610"}) {
		t.Errorf("comparison row = %q", f)
	}
}

func TestCPUColumnAndStatParsing(t *testing.T) {
	stat := []byte("4242 (gate house) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 9 0 100 0 0\n")
	ticks, err := parseStatTicks(stat)
	if err != nil || ticks != 175 {
		t.Fatalf("parseStatTicks = %d, %v; want 150+25", ticks, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c"} {
		if _, err := parseStatTicks([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if ticks, err := readCPUTicks(os.Getpid()); err != nil {
		t.Logf("readCPUTicks(self) = %d, %v (ignored off Linux)", ticks, err)
	}

	t0 := time.Unix(1000, 0)
	samples := []rssSample{{at: t0, ticks: 100}, {at: t0.Add(time.Second), ticks: 150}, {at: t0.Add(2 * time.Second), ticks: 200}}
	// 400 successes in a 4 s window; the samples span 2 s of it: ~200 calls
	// for 100 ticks = 1 s of CPU, 5 ms per call.
	use := cpuOver(samples, 400, 4*time.Second)
	r := &Result{Scenario: "me", Target: floorMe, Latency: &Histogram{}, Window: 4 * time.Second, Requests: 400, CPU: use, CPUOf: "floor-me process"}
	if got := r.CPUPerOp(); got != 5*time.Millisecond {
		t.Errorf("CPUPerOp = %v, want 5ms", got)
	}
	if (cpuOver(samples[:1], 10, time.Second) != cpuUse{}) || (&Result{}).CPUPerOp() != 0 {
		t.Error("one sample should give no estimate")
	}
	var buf bytes.Buffer
	if err := printResults(&buf, []ResultJSON{r.toJSON(0)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.Contains(lines[0], "CPU/OP") || !strings.HasSuffix(strings.TrimSpace(lines[1]), "5.00ms") || !strings.Contains(buf.String(), "CPU/OP: CPU time per successful call") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestParseVmRSSAndSummary(t *testing.T) {
	status := []byte("Name:\tgatehouse\nVmPeak:\t  900 kB\nVmRSS:\t   40960 kB\nThreads: 9\n")
	kib, err := parseVmRSS(status)
	if err != nil || kib != 40960 {
		t.Fatalf("parseVmRSS = %d, %v", kib, err)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
	if _, err := parseVmRSS([]byte("VmRSS: 12 MB\n")); err == nil {
		t.Error("odd unit: no error")
	}
	if kib, err := readRSS(1); err != nil || kib == 0 {
		// pid 1 always exists on Linux; its RSS may be read as root.
		t.Logf("readRSS(1) = %d, %v (ignored)", kib, err)
	}

	t0 := time.Unix(1000, 0)
	var samples []rssSample
	for i, mib := range []uint64{100, 10, 20, 30, 40, 50, 60, 70, 80, 100} {
		samples = append(samples, rssSample{at: t0.Add(time.Duration(i) * time.Second), kib: mib * 1024})
	}
	st := summarizeRSS(samples, t0.Add(time.Second), t0.Add(8*time.Second)) // 10..80
	if st.Samples != 8 || st.MaxMiB != 80 || st.SteadyMiB != 65 {
		t.Errorf("summary = %+v, want 8 samples, max 80, steady median(50,60,70,80)=65", st)
	}
	if summarizeRSS(samples, t0.Add(time.Hour), t0.Add(2*time.Hour)) != nil {
		t.Error("no samples in window should give nil")
	}
}

// fakeUsers is a userRow over a map.
type fakeUsers map[string]floorUser

func (f fakeUsers) UserByID(_ context.Context, id string) (floorUser, error) {
	u, ok := f[id]
	if !ok {
		return floorUser{}, pgx.ErrNoRows
	}
	return u, nil
}

func TestFloorMeHandlerWritesTheServiceEnvelope(t *testing.T) {
	now := time.Now()
	s := newTestSigner(t)
	v := newTestVerifier(t, s.jwks(), now)
	v.now = time.Now
	uid := "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33"
	h := &floorMeHandler{verifier: v, users: fakeUsers{uid: {
		ID: uid, Email: "ada@example.com", Name: "Ada", Roles: []string{"user"},
		CreatedAt: "2026-11-25T22:30:00Z", UpdatedAt: "2026-11-25T22:30:00Z",
	}}}
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(auth string) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		return resp.StatusCode, m, resp.Header
	}

	status, body, hdr := get("Bearer " + s.sign(t, s.header(), validClaims(now)))
	if status != 200 {
		t.Fatalf("status %d: %v", status, body)
	}
	if hdr.Get("Content-Type") != "application/json; charset=utf-8" || hdr.Get("X-Request-ID") == "" {
		t.Errorf("headers = %v", hdr)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if got := keys(body); !slices.Equal(got, []string{"data", "message", "path", "requestId", "statusCode", "success", "timestamp"}) {
		t.Errorf("envelope keys = %v", got)
	}
	if body["success"] != true || body["statusCode"] != 200.0 || body["message"] != "User" || body["path"] != "/users/me" || body["requestId"] != hdr.Get("X-Request-ID") {
		t.Errorf("envelope = %v", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, body["timestamp"].(string)); err != nil || !strings.HasSuffix(body["timestamp"].(string), "Z") {
		t.Errorf("timestamp %v: %v", body["timestamp"], err)
	}
	data := body["data"].(map[string]any)
	if got := keys(data); !slices.Equal(got, []string{"createdAt", "email", "id", "name", "roles", "updatedAt"}) {
		t.Errorf("user keys = %v", got)
	}
	if data["id"] != uid || data["email"] != "ada@example.com" {
		t.Errorf("user = %v", data)
	}

	for name, auth := range map[string]string{
		"no header": "",
		"basic":     "Basic abc",
		"bad token": "Bearer abc.def.ghi",
		"unknown user": "Bearer " + s.sign(t, s.header(), func() map[string]any {
			c := validClaims(now)
			c["sub"] = "ffffffff-3c1f-4e8a-9d2b-6f4c1a8e5d33"
			return c
		}()),
	} {
		status, body, _ := get(auth)
		if status != 401 || body["success"] != false || body["error"] == nil {
			t.Errorf("%s: status %d body %v", name, status, body)
		}
	}
}

func TestErrorKind(t *testing.T) {
	cases := map[string]error{
		"HTTP 401 TOKEN_INVALID": &StatusError{Status: 401, Code: "TOKEN_INVALID"},
		"HTTP 502":               &StatusError{Status: 502},
		"timeout":                context.DeadlineExceeded,
		"database":               kindError{kind: "database", err: errors.New("x")},
		"transport":              errors.New("something"),
	}
	for want, err := range cases {
		if got := errorKind(err); got != want {
			t.Errorf("errorKind(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	c, err := parseArgs([]string{"-duration", "3s", "compare", "-concurrency", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.command != "compare" || c.opts.Duration != 3*time.Second || c.opts.Concurrency != 4 || c.opts.Rounds != 3 {
		t.Errorf("compare: %+v", c)
	}
	c, err = parseArgs([]string{"floor-me"}, io.Discard)
	if err != nil || c.opts.Rounds != 1 {
		t.Errorf("floor-me rounds = %d, %v", c.opts.Rounds, err)
	}
	c, err = parseArgs([]string{"floor-me", "-rounds", "5"}, io.Discard)
	if err != nil || c.opts.Rounds != 5 {
		t.Errorf("floor-me -rounds 5 = %d, %v", c.opts.Rounds, err)
	}
	c, err = parseArgs([]string{"-users", "8", "me", "login"}, io.Discard)
	if err != nil || c.command != "" || !slices.Equal(c.scenarios, []string{"me", "login"}) {
		t.Errorf("scenarios: %+v, %v", c, err)
	}
	c, err = parseArgs([]string{"-scenarios", "refresh, me"}, io.Discard)
	if err != nil || !slices.Equal(c.scenarios, []string{"refresh", "me"}) {
		t.Errorf("-scenarios: %+v, %v", c, err)
	}
	c, err = parseArgs(nil, io.Discard)
	if err != nil || !slices.Equal(c.scenarios, allScenarios()) || c.opts.URL != "http://127.0.0.1:3000" || !strings.HasPrefix(c.opts.Prefix, "bench-") {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"nope"},
		{"-url", "http://example.com:3000"},
		{"-url", "http://10.0.0.1:3000"},
		{"-concurrency", "0"},
		{"-duration", "0s"},
		{"compare", "extra"},
	} {
		if _, err := parseArgs(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseArgs([]string{"-url", "http://localhost:3000/"}, io.Discard); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestWithoutEnv(t *testing.T) {
	got := withoutEnv([]string{"A=1", "DATABASE_URL=x", "B=2", "HTTP_ADDR=y"}, "DATABASE_URL", "HTTP_ADDR")
	if !slices.Equal(got, []string{"A=1", "B=2"}) {
		t.Errorf("withoutEnv = %q", got)
	}
	var buf bytes.Buffer
	w := &limitedWriter{buf: &buf, max: 4}
	n, err := w.Write([]byte("abcdef"))
	if n != 6 || err != nil || buf.String() != "abcd" {
		t.Errorf("limitedWriter: %d %v %q", n, err, buf.String())
	}
}

func TestMemoryReport(t *testing.T) {
	if (&bench{}).memoryReport() != nil {
		t.Error("memory report without -pid")
	}
	b := &bench{opts: Options{PID: 7}}
	if m := b.memoryReport(); m.Verdict != "NONE" || m.Error == "" {
		t.Errorf("no samples: %+v", m)
	}
	b.noteRSS(&Result{Scenario: "me", RSS: &RSSStats{MaxMiB: 90, SteadyMiB: 45}})
	b.noteRSS(&Result{Scenario: "me", RSS: &RSSStats{MaxMiB: 50, SteadyMiB: 48}})
	b.noteRSS(&Result{Scenario: "refresh"}) // not sampled
	m := b.memoryReport()
	if m.MaxMiB != 90 || m.SteadyMiB != 48 || m.SteadyBy != "me" || m.Verdict != "PASS" {
		t.Errorf("me only: %+v", m)
	}
	b.noteRSS(&Result{Scenario: "login", RSS: &RSSStats{MaxMiB: 150, SteadyMiB: 130}})
	m = b.memoryReport()
	if m.MaxMiB != 150 || m.SteadyMiB != 130 || m.SteadyBy != "login" || m.Verdict != "MISS" ||
		m.SteadyByScenario["me"] != 48 || m.SteadyByScenario["login"] != 130 {
		t.Errorf("with login: %+v", m)
	}
	var buf bytes.Buffer
	if err := printReport(&buf, &Report{Memory: m}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "steady by scenario: login 130.0 MiB, me 48.0 MiB") || !strings.Contains(buf.String(), "MISS") {
		t.Errorf("memory text:\n%s", buf.String())
	}
}

// TestParseArgsSeveralServices: two -url (labelled or not), their -pid and
// -manifest in order; a -pid beyond the services is refused.
func TestParseArgsSeveralServices(t *testing.T) {
	c, err := parseArgs([]string{"compare", "-url", "large=http://127.0.0.1:3001", "-url", "http://127.0.0.1:3002/",
		"-pid", "11", "-pid", "12", "-manifest", "a.json", "-manifest", "b.json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.URL != "http://127.0.0.1:3001" || o.Name != "large" || o.PID != 11 || len(o.Others) != 1 ||
		o.Others[0].URL != "http://127.0.0.1:3002" || o.Others[0].PID != 12 || !slices.Equal(o.Manifests, []string{"a.json", "b.json"}) {
		t.Errorf("services: %+v", o)
	}
	if c.scenariosSet {
		t.Error("no scenario was named")
	}
	for _, bad := range [][]string{
		{"-url", "http://127.0.0.1:1", "-pid", "1", "-pid", "2"},
		{"-pid", "x"},
		{"-url", "a=http://10.0.0.1:3000"},
	} {
		if _, err := parseArgs(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	b := newBench(o, func(string, ...any) {}, io.Discard)
	if len(b.sides) != 2 || b.sides[0].name != "large" || b.sides[1].name != "service2" || b.sideNamed("service2").pid != 12 {
		t.Errorf("sides: %+v %+v", b.sides[0], b.sides[1])
	}
	specs := sizeTargets([]string{"me", "login"}, "service2")
	if len(specs) != 2 || specs[1].floor != "service2" || specs[1].threshold != 0.9 {
		t.Errorf("size targets: %+v", specs)
	}
}

// TestParseStatAndTree: ppid and CPU times (own and reaped children's) come
// from the right fields, a command name with spaces and parentheses
// included; the tree of this process is at least its own time.
func TestParseStatAndTree(t *testing.T) {
	st, err := parseStat([]byte("42 (post (gres) x) S 7 42 42 0 -1 4194560 100 0 0 0 30 12 5 3 20 0 1 0 100 1000 10"))
	if err != nil || st.ppid != 7 || st.ticks != 42 || st.children != 8 {
		t.Errorf("parseStat = %+v, %v", st, err)
	}
	if _, err := parseStat([]byte("42 (x) S 7")); err == nil {
		t.Error("short stat accepted")
	}
	own, err := readCPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := treeTicks(os.Getpid())
	if err != nil || tree < own {
		t.Errorf("tree %d < own %d (%v)", tree, own, err)
	}
}

// TestPacedNeverExceedsTheRate: call n starts no sooner than n/rate
// seconds after the first, so 4 workers asking as fast as they can start
// at most rate calls a second (a slow machine starts fewer, never more).
func TestPacedNeverExceedsTheRate(t *testing.T) {
	var n atomic.Int64
	began := time.Now()
	op := paced(func(context.Context, int, int) error { n.Add(1); return nil }, 200)
	RunLoad(context.Background(), LoadConfig{Concurrency: 4, Duration: 300 * time.Millisecond}, op)
	elapsed := time.Since(began)
	if got, most := n.Load(), int64(elapsed.Seconds()*200)+1; got == 0 || got > most {
		t.Errorf("paced at 200/s: %d calls in %s (at most %d)", got, elapsed, most)
	}
	free := paced(func(context.Context, int, int) error { return nil }, 0)
	if err := free(context.Background(), 0, 0); err != nil {
		t.Error(err)
	}
}

// TestSummaryOfRounds: the summary command gives min/median/max of each
// scenario's figures over the reports.
func TestSummaryOfRounds(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, p99 := range []float64{30, 10, 20} {
		rep := &Report{Results: []ResultJSON{{Scenario: "admin-page", Target: "large", RPS: 100 + float64(i), P50Ms: 1, P99Ms: p99, PGCPUMsPerOp: 2}}}
		path := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(f, rep); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, path)
	}
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"summary"}, paths...), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "10.0 / 20.0 / 30.0") || !strings.Contains(out.String(), "admin-page") {
		t.Errorf("summary:\n%s", out.String())
	}
}
