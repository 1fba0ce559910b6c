package proctest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func shSpec(t *testing.T, script string) Spec {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	return Spec{Name: "sh", Path: sh, Args: []string{"-c", script},
		LogPath: filepath.Join(t.TempDir(), "sh.log")}
}

// A process that becomes ready runs until Stop, which ends it and waits.
func TestStartReadyAndStop(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	spec := shSpec(t, "echo started; touch "+flag+"; exec sleep 60")
	spec.Ready = func(context.Context) error {
		_, err := os.Stat(flag)
		return err
	}
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(flag); err != nil {
		t.Fatalf("Start returned before Ready held: %v", err)
	}
	if p.PID() <= 0 {
		t.Fatalf("PID = %d", p.PID())
	}
	select {
	case <-p.Exited():
		t.Fatal("process exited on its own")
	default:
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned while the process still ran")
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if tail := p.LogTail(); !strings.Contains(tail, "started") {
		t.Fatalf("log tail lacks the output: %q", tail)
	}
}

// A process that dies during start is reported with its output.
func TestStartReportsEarlyExitWithLog(t *testing.T) {
	spec := shSpec(t, "echo boom-on-start; exit 3")
	spec.Ready = func(context.Context) error { return errors.New("never") }
	_, err := Start(spec)
	if err == nil {
		t.Fatal("Start succeeded for a process that exited")
	}
	for _, want := range []string{"sh exited during start", "exit status 3", "boom-on-start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A process that never gets ready is stopped, and the error says so.
func TestStartTimesOutAndStops(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	spec := shSpec(t, "echo $$ > "+pidFile+"; echo waiting-forever; exec sleep 60")
	spec.Ready = func(context.Context) error { return errors.New("not yet") }
	spec.ReadyTimeout = 300 * time.Millisecond
	_, err := Start(spec)
	if err == nil || !strings.Contains(err.Error(), "not ready after") ||
		!strings.Contains(err.Error(), "not yet") || !strings.Contains(err.Error(), "waiting-forever") {
		t.Fatalf("error = %v", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("process %d still runs after a failed start", pid)
	}
}

// A process that ignores the stop signal is killed after the grace, and
// Stop says it had to.
func TestStopKillsAfterGrace(t *testing.T) {
	spec := shSpec(t, "trap '' TERM; echo ready; while :; do sleep 1; done")
	spec.Ready = func(context.Context) error {
		b, _ := os.ReadFile(spec.LogPath)
		if strings.Contains(string(b), "ready") {
			return nil
		}
		return errors.New("no output yet")
	}
	spec.StopGrace = 200 * time.Millisecond
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop = %v, want a report of the kill", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("process still runs")
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	body := strings.Repeat("x", 2*TailBytes) + "THE-END"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Tail(path, filepath.Join(t.TempDir(), "missing.log"))
	if !strings.Contains(got, "THE-END") || len(got) > 2*TailBytes || !strings.Contains(got, "(no log)") {
		t.Fatalf("Tail: %d bytes, end %q", len(got), got[max(0, len(got)-60):])
	}
}

// HTTPReadyClient is ready only once GET answers 200.
func TestHTTPReadyClientWantsA200(t *testing.T) {
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ready := HTTPReadyClient(srv.Client(), srv.URL+"/readyz")
	if err := ready(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("while 503: %v", err)
	}
	up.Store(true)
	if err := ready(context.Background()); err != nil {
		t.Fatalf("once 200: %v", err)
	}
}
