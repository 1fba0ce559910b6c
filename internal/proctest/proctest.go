// Package proctest runs the child processes of tests (PostgreSQL,
// PgBouncer, HAProxy, the built gatehouse binary): start one with its
// output in a log file, wait until it is ready, show the end of that log
// when something fails, and stop it by signal, waiting for it to exit.
//
// It is the one copy of that logic; internal/pgtest, internal/hatest and
// e2e describe their processes with a Spec.
package proctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Defaults for a Spec's zero fields.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultStopGrace    = 10 * time.Second
	// TailBytes is how much of each log a failure message shows.
	TailBytes = 4096
)

// Spec describes one process to start.
type Spec struct {
	// Name names the process in error messages ("postgres", "g1").
	Name string
	// Path is the program; Args its arguments, without the program name.
	Path string
	Args []string
	// Dir is the working directory; Env the whole environment (nil: ours).
	Dir string
	Env []string
	// LogPath is the file stdout and stderr are appended to (required).
	LogPath string
	// ExtraLogs are further files the process writes (its own log file),
	// shown after LogPath in a log tail.
	ExtraLogs []string
	// SysProcAttr, when set, is given to the process as is (user, process
	// group, parent-death signal).
	SysProcAttr *syscall.SysProcAttr
	// Ready reports nil once the process is ready; polled until it does,
	// the process exits, or ReadyTimeout passes. Nil: ready once started.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds the wait for Ready (DefaultReadyTimeout if 0).
	ReadyTimeout time.Duration
	// ReadyPoll is the pause between two Ready calls (10ms if 0).
	ReadyPoll time.Duration
	// StopSignal is what Stop sends (SIGTERM if 0); StopGrace how long Stop
	// waits before it kills the process (DefaultStopGrace if 0).
	StopSignal syscall.Signal
	StopGrace  time.Duration
}

// Process is one started process. Its methods are safe to call from
// several goroutines.
type Process struct {
	spec    Spec
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// Start starts the process described by spec and waits until it is ready.
// When it exits during start or is not ready in time, Start stops it and
// returns an error that carries the end of its log.
func Start(spec Spec) (*Process, error) {
	if spec.LogPath == "" {
		return nil, errors.New("proctest: Spec.LogPath is required")
	}
	if spec.Name == "" {
		spec.Name = spec.Path
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir, cmd.Env = spec.Dir, spec.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = spec.SysProcAttr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{spec: spec, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(); err != nil {
		_ = p.Stop() // the start failure is the error to report
		return nil, err
	}
	return p, nil
}

func (p *Process) waitReady() error {
	if p.spec.Ready == nil {
		return nil
	}
	timeout := orDefault(p.spec.ReadyTimeout, DefaultReadyTimeout)
	poll := orDefault(p.spec.ReadyPoll, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start: %v\n%s", p.spec.Name, p.waitErr, p.LogTail())
		default:
		}
		if last = p.spec.Ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.exited: // reported at the top of the loop
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (last: %v)\n%s", p.spec.Name, timeout, last, p.LogTail())
		case <-time.After(poll):
		}
	}
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr is what waiting for the process returned (nil for exit status
// 0); read it once Exited is closed.
func (p *Process) ExitErr() error { return p.waitErr }

// Signal sends sig without waiting (SIGHUP to reload, say).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends the Spec's StopSignal and waits for the exit; see StopWith.
func (p *Process) Stop() error {
	sig := p.spec.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	return p.StopWith(sig, orDefault(p.spec.StopGrace, DefaultStopGrace))
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() error { return p.StopWith(syscall.SIGKILL, DefaultStopGrace) }

// StopWith sends sig and waits up to grace for the process to exit; after
// that it kills it and reports that it had to. Stopping an exited process
// returns nil.
func (p *Process) StopWith(sig syscall.Signal, grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(sig) // fails only if it has just exited
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("%s ignored %v for %s; killed", p.spec.Name, sig, grace)
}

// LogTail returns the end of each of the process's logs, for failure
// messages.
func (p *Process) LogTail() string {
	return Tail(append([]string{p.spec.LogPath}, p.spec.ExtraLogs...)...)
}

// Tail returns the last TailBytes of each file, each under a header line
// that names it; a file that cannot be read says so.
func Tail(paths ...string) string {
	var out strings.Builder
	for _, path := range paths {
		out.WriteString("--- " + path + " ---\n")
		f, err := os.Open(path)
		if err != nil {
			out.WriteString("(no log)\n")
			continue
		}
		if fi, err := f.Stat(); err == nil && fi.Size() > TailBytes {
			_, _ = f.Seek(fi.Size()-TailBytes, io.SeekStart)
		}
		b, _ := io.ReadAll(f)
		_ = f.Close()
		out.Write(b)
	}
	return out.String()
}

// DialReady is a Ready probe: the process accepts TCP connections on addr.
func DialReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// HTTPReady is a Ready probe: GET url answers 200.
func HTTPReady(url string) func(context.Context) error {
	return HTTPReadyClient(&http.Client{Timeout: 5 * time.Second}, url)
}

// HTTPReadyClient is HTTPReady through client (a shorter timeout, no
// keep-alive: what timing a start wants).
func HTTPReadyClient(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
		}
		return nil
	}
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before ours binds it; callers retry or fail clearly.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
