package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeGatehouse is just enough of the service for the load tool: register,
// login, refresh with strict rotation (a token other than the newest is
// refused, as reuse), and GET /users/me with the newest access token.
type fakeGatehouse struct {
	mu      sync.Mutex
	n       int
	refresh map[string]string // newest refresh token -> user id
	access  map[string]string // valid access token -> user id
	users   map[string]string // email -> user id
	reused  atomic.Int64
	calls   map[string]int // by "METHOD /path"
}

func newFakeGatehouse() *fakeGatehouse {
	return &fakeGatehouse{refresh: map[string]string{}, access: map[string]string{}, users: map[string]string{}, calls: map[string]int{}}
}

func (f *fakeGatehouse) pair(uid string) map[string]any {
	f.n++
	rt, at := fmt.Sprintf("rt-%d", f.n), fmt.Sprintf("at-%d", f.n)
	f.refresh[rt] = uid
	f.access[at] = uid
	return map[string]any{
		"accessToken": at, "tokenType": "Bearer", "expiresIn": 900, "refreshToken": rt,
		"user": map[string]any{"id": uid}, "session": map[string]any{"id": "s-" + uid},
	}
}

func reply(w http.ResponseWriter, status int, data any, code string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	env := map[string]any{"success": status < 300, "statusCode": status, "data": data}
	if code != "" {
		env["error"] = map[string]any{"code": code}
		delete(env, "data")
	}
	_ = json.NewEncoder(w).Encode(env)
}

func (f *fakeGatehouse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email, Password, RefreshToken, RefreshTokenTransport string
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			reply(w, 400, nil, "MALFORMED_JSON")
			return
		}
		if r.URL.Path != "/auth/refresh" && body.RefreshTokenTransport != "body" {
			reply(w, 400, nil, "VALIDATION_FAILED")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[r.Method+" "+r.URL.Path]++
	switch r.Method + " " + r.URL.Path {
	case "GET /readyz":
		reply(w, 200, map[string]any{"status": "ok"}, "")
	case "POST /auth/register":
		if _, taken := f.users[body.Email]; taken {
			reply(w, 409, nil, "EMAIL_TAKEN")
			return
		}
		uid := fmt.Sprintf("u%d", len(f.users))
		f.users[body.Email] = uid
		reply(w, 201, f.pair(uid), "")
	case "POST /auth/login":
		uid, ok := f.users[body.Email]
		if !ok || body.Password != "bench-Passw0rd-42" {
			reply(w, 401, nil, "INVALID_CREDENTIALS")
			return
		}
		reply(w, 200, f.pair(uid), "")
	case "POST /auth/refresh":
		uid, ok := f.refresh[body.RefreshToken]
		if !ok {
			f.reused.Add(1)
			reply(w, 401, nil, "REFRESH_TOKEN_REUSED")
			return
		}
		delete(f.refresh, body.RefreshToken)
		reply(w, 200, f.pair(uid), "")
	case "GET /users/me":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, ok := f.access[tok]; !ok {
			reply(w, 401, nil, "TOKEN_INVALID")
			return
		}
		reply(w, 200, map[string]any{"id": "x"}, "")
	default:
		reply(w, 404, nil, "NOT_FOUND")
	}
}

// TestRunAgainstFakeService runs the tool end to end (setup, the four
// scenarios, table and JSON) against an httptest server for about 0.5 s.
func TestRunAgainstFakeService(t *testing.T) {
	fake := newFakeGatehouse()
	srv := httptest.NewServer(fake)
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-duration", "100ms", "-warmup", "25ms", "-concurrency", "4", "-users", "6", "-json", "-"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("JSON on stdout: %v\n%s", err, stdout.String())
	}
	if rep.Command != "scenarios" || rep.Settings.Concurrency != 4 || len(rep.Results) != 4 {
		t.Fatalf("report = %+v", rep)
	}
	for i, want := range allScenarios() {
		r := rep.Results[i]
		if r.Scenario != want || r.Target != "service" {
			t.Errorf("result %d = %s/%s, want %s/service", i, r.Scenario, r.Target, want)
		}
		if r.Errors != 0 || r.Requests > 0 && (r.RPS <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms) {
			t.Errorf("%s: %+v", r.Scenario, r)
		}
		if r.Requests == 0 {
			// A loaded machine (or -race) can fit no call in 100 ms; the
			// server-side counters below still prove the scenario ran.
			t.Logf("%s: no call completed in the window", r.Scenario)
		}
		if r.WindowS < 0.09 || r.WindowS > 0.2 {
			t.Errorf("%s: window %.3fs, want ~0.1s", r.Scenario, r.WindowS)
		}
	}
	// Refresh used only 4 workers over 6 chains, always the newest token.
	if n := fake.reused.Load(); n != 0 {
		t.Errorf("%d refreshes presented a stale token", n)
	}
	// Every scenario reached the server (setup registered 6 users first).
	fake.mu.Lock()
	calls := maps.Clone(fake.calls)
	fake.mu.Unlock()
	for _, ep := range []string{"GET /users/me", "POST /auth/refresh", "POST /auth/login"} {
		if calls[ep] == 0 {
			t.Errorf("no %s reached the server: %v", ep, calls)
		}
	}
	if calls["POST /auth/register"] <= 6 {
		t.Errorf("register scenario did not run: %v", calls)
	}
	// The table went to stderr (JSON owns stdout).
	if !strings.Contains(stderr.String(), "SCENARIO") || !strings.Contains(stderr.String(), "register") {
		t.Errorf("no table on stderr:\n%s", stderr.String())
	}
}

func TestRunLoadCountsErrorsByKindAndStopsOnTime(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			reply(w, 401, nil, "TOKEN_INVALID")
			return
		}
		reply(w, 200, nil, "")
	}))
	defer srv.Close()
	c := &apiClient{base: srv.URL, hc: newHTTPClient(4, time.Second)}
	t0 := time.Now()
	res := RunLoad(context.Background(), LoadConfig{Concurrency: 4, Warmup: 20 * time.Millisecond, Duration: 150 * time.Millisecond},
		func(ctx context.Context, w, iter int) error { return c.me(ctx, "tok") })
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("run took %v", took)
	}
	if res.Requests == 0 || res.Errors == 0 || res.OK() == 0 {
		t.Fatalf("result = %+v", res)
	}
	if res.ErrorKinds["HTTP 401 TOKEN_INVALID"] != res.Errors || len(res.ErrorKinds) != 1 {
		t.Errorf("error kinds = %v, errors %d", res.ErrorKinds, res.Errors)
	}
	if uint64(res.Latency.Count()) != res.OK() {
		t.Errorf("latencies %d for %d successes", res.Latency.Count(), res.OK())
	}
	if res.Window != 150*time.Millisecond {
		t.Errorf("window = %v", res.Window)
	}
	// Warm-up calls are not counted: the server saw more than we counted.
	if uint64(n.Load()) <= res.Requests {
		t.Errorf("server saw %d, counted %d: warm-up counted?", n.Load(), res.Requests)
	}
}

func TestRefreshOpDropsRefusedChains(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(w, 401, nil, "REFRESH_TOKEN_REUSED")
	}))
	defer srv.Close()
	c := &apiClient{base: srv.URL, hc: newHTTPClient(2, time.Second)}
	users := []*vuser{{Refresh: "a"}, {Refresh: "b"}, {Refresh: "c"}}
	op := refreshOp(c, users, 2) // worker 0 owns users 0 and 2, worker 1 owns user 1
	ctx := context.Background()
	for iter := range 2 {
		if err := op(ctx, 0, iter); errorKind(err) != "HTTP 401 REFRESH_TOKEN_REUSED" {
			t.Fatalf("iter %d: %v", iter, err)
		}
	}
	if err := op(ctx, 0, 2); err != errWorkerDone {
		t.Errorf("worker with only broken chains: %v", err)
	}
	if !users[0].Broken || users[1].Broken || !users[2].Broken || brokenChains(users) != 2 {
		t.Errorf("broken = %v %v %v", users[0].Broken, users[1].Broken, users[2].Broken)
	}
}

// TestCompareLoginAgainstArgon2Floor runs compare end to end on the one
// floor that needs no database, with a trivial argon2 cost.
func TestCompareLoginAgainstArgon2Floor(t *testing.T) {
	srv := httptest.NewServer(newFakeGatehouse())
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	args := []string{floorArgon2, "-url", srv.URL, "-argon2-memory", "8", "-argon2-iterations", "1",
		"-duration", "80ms", "-warmup", "10ms", "-slices", "2", "-rounds", "2", "-concurrency", "2", "-users", "2", "-json", "-"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Comparisons) != 1 || len(rep.Results) != 4 {
		t.Fatalf("comparisons %+v, %d results", rep.Comparisons, len(rep.Results))
	}
	c := rep.Comparisons[0]
	if c.Target != scenarioLogin || c.Floor != floorArgon2 || c.Threshold != 0.85 || len(c.Ratios) != 2 || c.Max <= 0 || c.Verdict == "" {
		t.Errorf("comparison = %+v", c)
	}
	// Round 1 runs the service first, round 2 the floor first; each side's
	// two slices are summed into one row.
	want := []string{"service", floorArgon2, floorArgon2, "service"}
	for i, r := range rep.Results {
		if r.Target != want[i] || r.Round != i/2+1 || r.Scenario != scenarioLogin {
			t.Errorf("row %d = %s round %d, want %s round %d", i, r.Target, r.Round, want[i], i/2+1)
		}
		if r.WindowS < 0.07 || r.WindowS > 0.1 {
			t.Errorf("row %d window %.3fs, want the two 40ms slices", i, r.WindowS)
		}
	}
	if !strings.Contains(stderr.String(), "VERDICT") {
		t.Errorf("no comparison table:\n%s", stderr.String())
	}
}

func TestMergeResults(t *testing.T) {
	a := &Result{Requests: 10, Errors: 1, ErrorKinds: map[string]uint64{"timeout": 1}, Latency: &Histogram{}, Window: time.Second, Workers: 2}
	a.Latency.Record(time.Millisecond)
	b := &Result{Requests: 5, Errors: 2, ErrorKinds: map[string]uint64{"timeout": 1, "HTTP 500": 1}, Latency: &Histogram{}, Window: time.Second, Workers: 2}
	b.Latency.Record(3 * time.Millisecond)
	m := mergeResults(mergeResults(nil, a), b)
	if m.Requests != 15 || m.Errors != 3 || m.ErrorKinds["timeout"] != 2 || m.ErrorKinds["HTTP 500"] != 1 ||
		m.Latency.Count() != 2 || m.Window != 2*time.Second || m.RPS() != 6 {
		t.Errorf("merged = %+v", m)
	}
}
