package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// stubCommand is the hidden subcommand the cold-start floor re-executes
// this binary with: a bare Go HTTP server answering /readyz.
const stubCommand = "stub-readyz"

// ColdStartConfig configures coldstart.
type ColdStartConfig struct {
	// Binary is the gatehouse executable.
	Binary string
	// Runs is how many starts of each (service and floor) to time.
	Runs int
	// Poll is the /readyz polling interval.
	Poll time.Duration
	// Timeout bounds each start.
	Timeout time.Duration
	// Floor also times a bare Go HTTP server (this binary re-executed) as
	// a floor, interleaved with the service's starts.
	Floor bool
}

// ColdStartReport is the outcome of coldstart, in milliseconds.
type ColdStartReport struct {
	Binary      string    `json:"binary"`
	Runs        []float64 `json:"runsMs"`
	MinMs       float64   `json:"minMs"`
	MedianMs    float64   `json:"medianMs"`
	MaxMs       float64   `json:"maxMs"`
	FloorRuns   []float64 `json:"floorRunsMs,omitempty"`
	FloorMedian float64   `json:"floorMedianMs,omitempty"`
	LimitMs     float64   `json:"limitMs"`
	Verdict     string    `json:"verdict"`
}

// coldStartLimit is the target: ready within 300 ms on SQLite.
const coldStartLimit = 300 * time.Millisecond

// runColdStart times cfg.Runs starts of the service on a fresh SQLite file
// each, from exec to the first 200 from /readyz, and (with cfg.Floor) as
// many starts of a bare server in between.
func runColdStart(ctx context.Context, cfg ColdStartConfig, logf func(string, ...any)) (*ColdStartReport, error) {
	if cfg.Binary == "" {
		return nil, errors.New("coldstart: -binary is required (go build -o /tmp/gatehouse ./cmd/gatehouse)")
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("coldstart: %w", err)
	}
	self, err := os.Executable()
	if err != nil && cfg.Floor {
		return nil, fmt.Errorf("coldstart floor: %w", err)
	}
	rep := &ColdStartReport{Binary: bin, LimitMs: ms(coldStartLimit)}
	for i := range max(cfg.Runs, 1) {
		d, err := timeStart(ctx, bin, nil, cfg)
		if err != nil {
			return nil, fmt.Errorf("coldstart run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, ms(d))
		logf("coldstart %d: service ready in %.1f ms", i+1, ms(d))
		if cfg.Floor {
			d, err := timeStart(ctx, self, []string{stubCommand}, cfg)
			if err != nil {
				return nil, fmt.Errorf("coldstart floor run %d: %w", i+1, err)
			}
			rep.FloorRuns = append(rep.FloorRuns, ms(d))
		}
	}
	sorted := slices.Sorted(slices.Values(rep.Runs))
	rep.MinMs, rep.MedianMs, rep.MaxMs = sorted[0], median(sorted), sorted[len(sorted)-1]
	if len(rep.FloorRuns) > 0 {
		rep.FloorMedian = median(slices.Sorted(slices.Values(rep.FloorRuns)))
	}
	rep.Verdict = verdict(rep.MedianMs <= rep.LimitMs)
	return rep, nil
}

// timeStart starts bin with a fresh SQLite database on a free loopback
// port and returns the time from exec to the first 200 from /readyz. The
// process is then stopped with SIGTERM (SIGKILL after 10 s).
func timeStart(ctx context.Context, bin string, args []string, cfg ColdStartConfig) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "gatehouse-coldstart-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	port, err := proctest.FreePort()
	if err != nil {
		return 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutEnv(os.Environ(), "DATABASE_URL", "HTTP_ADDR", "CONFIG_FILE", "METRICS_ADDR", "LOG_LEVEL"),
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "gatehouse.db"),
		"HTTP_ADDR="+addr,
		"CONFIG_FILE=/dev/null",
		"METRICS_ADDR=",
		"LOG_LEVEL=warn",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{buf: &stderr, max: 8 << 10}
	cmd.Stdout = cmd.Stderr
	exited := make(chan error, 1)

	client := &http.Client{
		Timeout:   250 * time.Millisecond,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	url := "http://" + addr + "/readyz"
	poll := cfg.Poll
	if poll <= 0 {
		poll = 2 * time.Millisecond
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}

	ready := proctest.HTTPReadyClient(client, url)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { exited <- cmd.Wait() }()
	defer stopProcess(cmd, exited)

	deadline := t0.Add(timeout)
	for {
		if ready(ctx) == nil {
			return time.Since(t0), nil
		}
		select {
		case err := <-exited:
			exited <- err // for stopProcess
			return 0, fmt.Errorf("%s exited before ready (%v): %s", filepath.Base(bin), err, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(poll):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not ready after %s: %s", timeout, strings.TrimSpace(stderr.String()))
		}
	}
}

// stopProcess sends SIGTERM and waits up to 10 s, then kills.
func stopProcess(cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited: //nolint:errcheck // the exit status of a stopped run does not matter
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // as above
	}
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

// Write implements io.Writer; it never fails, and drops what does not fit.
func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// runStub is the cold-start floor: listen on HTTP_ADDR and answer /readyz
// with 200 until SIGTERM. It is what any Go HTTP service pays to start.
func runStub(ctx context.Context) error {
	addr := os.Getenv("HTTP_ADDR")
	if addr == "" {
		return errors.New("stub: HTTP_ADDR unset")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"success":true,"statusCode":200}`))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
