package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// buildBinary compiles the gatehouse command into a temporary directory,
// without the race detector: the subprocess is the service as it ships.
// The build cache makes this a link; no symbol table or DWARF keeps that
// short.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The test runs in the package directory: "." is cmd/gatehouse.
	cmd := exec.CommandContext(ctx, goBin, "build", "-ldflags=-s -w", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is one gatehouse process.
type proc struct {
	*proctest.Process
	base    string
	logPath string
}

// startBinary runs the built binary with exactly env (plus HTTP_ADDR on a
// free port and a SQLite file of its own unless env names a database),
// waits until /readyz answers 200 and kills it at the end of the test if it
// is still running.
func startBinary(t *testing.T, env map[string]string) *proc {
	t.Helper()
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	p := &proc{base: "http://" + addr, logPath: filepath.Join(dir, "server.log")}
	full := map[string]string{
		"HTTP_ADDR":    addr,
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "gatehouse.db"),
		"CONFIG_FILE":  "/dev/null",
		"TZ":           "UTC",
	}
	for k, v := range env {
		full[k] = v
	}
	// Only these variables: nothing from the developer's environment (a
	// DATABASE_URL, say) may leak in.
	var environ []string
	for k, v := range full {
		environ = append(environ, k+"="+v)
	}
	var err error
	p.Process, err = proctest.Start(proctest.Spec{
		Name:         "gatehouse",
		Path:         bin,
		Dir:          dir,
		Env:          environ,
		LogPath:      p.logPath,
		Ready:        proctest.HTTPReady(p.base + "/readyz"),
		ReadyTimeout: 30 * time.Second,
		ReadyPoll:    50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Tests that stop it themselves leave nothing to do here.
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// TestGracefulShutdown runs the real binary, loads it, and sends SIGTERM in
// the middle. What a user must notice: nothing. Every request the server
// accepted gets its complete answer; requests that arrive after the
// listener closed are refused at connect time (so a client or load balancer
// retries them elsewhere), and the process exits 0 within SHUTDOWN_TIMEOUT.
//
// What "accepted" means, precisely. After SIGTERM, http.Server.Shutdown
// closes the listener, lets active requests finish (answering them with
// "Connection: close") and closes idle keep-alive connections. A client can
// lose a request without the server ever having accepted it, in three ways:
//  1. connect refused (ECONNREFUSED): the listener is closed;
//  2. a keep-alive connection the server closes as idle just as the client
//     writes the next request on it: the client sees EOF or a reset on a
//     reused connection, and the server never read the request. Go's
//     Transport retries such requests itself when they are idempotent
//     (GET), but not a POST;
//  3. a new connection the kernel completed into the listen backlog but the
//     server never accepted before closing the listener: a reset on a fresh
//     connection.
//
// The server writes one access-log line, with the request ID, for every
// request it handles. So a transport error counts as an accepted request
// failing if a response had started (a first byte arrived) or the server
// logged its request ID; otherwise it must be one of the three cases above,
// told apart by the error (ECONNREFUSED, EOF/ECONNRESET/EPIPE) and by
// whether the connection was reused (httptrace). Anything else (a timeout,
// say) is a failure too.
func TestGracefulShutdown(t *testing.T) {
	const (
		workers         = 16
		shutdownTimeout = 10 * time.Second
	)
	p := startBinary(t, map[string]string{
		"PASSWORD_ARGON2_MEMORY":     "64KiB",
		"PASSWORD_ARGON2_ITERATIONS": "1",
		"COOKIE_SECURE":              "false",
		"SHUTDOWN_TIMEOUT":           shutdownTimeout.String(),
		"RATE_LIMIT_PER_IP":          "0",
		// The access log (info) is the server's record of what it accepted.
		"LOG_LEVEL":  "info",
		"LOG_FORMAT": "json",
	})
	base, logPath := p.base, p.logPath
	hc := &http.Client{Timeout: 5 * time.Second}

	type account struct{ email, access string }
	accounts := make([]account, workers)
	for i := range accounts {
		a := account{email: fmt.Sprintf("drain%d@example.com", i)}
		o := probe(t, hc, base, "POST", "/auth/register",
			map[string]any{"email": a.email, "password": "drain password", "refreshTokenTransport": "body"}, "")
		pair, ok := pairOf(t, o)
		if !ok {
			t.Fatalf("register: %s: %s", o, bodyOf(o))
		}
		a.access = pair.AccessToken
		accounts[i] = a
	}

	type sent struct {
		op         string
		start, end time.Time
		o          outcome
	}
	var (
		mu    sync.Mutex
		all   []sent
		done  = make(chan struct{})
		wg    sync.WaitGroup
		sigAt time.Time
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := accounts[w]
			// One keep-alive connection per worker, as a client with its
			// own pool would have.
			client := &http.Client{
				Timeout:   20 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1},
			}
			defer client.CloseIdleConnections()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				var (
					o  outcome
					op string
				)
				start := time.Now()
				if i%2 == 0 {
					op = "me"
					o = probe(t, client, base, "GET", "/users/me", nil, a.access)
				} else {
					op = "login"
					o = probe(t, client, base, "POST", "/auth/login",
						map[string]any{"email": a.email, "password": "drain password", "refreshTokenTransport": "body"}, "")
				}
				mu.Lock()
				all = append(all, sent{op: op, start: start, end: time.Now(), o: o})
				mu.Unlock()
				if refusedAtDial(o.err) {
					time.Sleep(10 * time.Millisecond) // gone: do not spin
				}
			}
		}()
	}
	defer func() {
		select {
		case <-done:
		default:
			close(done)
		}
		wg.Wait()
	}()

	time.Sleep(time.Second)
	mu.Lock()
	sigAt = time.Now()
	mu.Unlock()
	if err := p.StopWith(syscall.SIGTERM, shutdownTimeout+10*time.Second); err != nil {
		t.Fatalf("%v (SHUTDOWN_TIMEOUT %s)", err, shutdownTimeout)
	}
	exitAfter := time.Since(sigAt)
	// Let the workers see the closed port, then stop them.
	time.Sleep(100 * time.Millisecond)
	close(done)
	wg.Wait()

	if err := p.ExitErr(); err != nil {
		t.Errorf("gatehouse exit after SIGTERM: %v (want exit status 0)", err)
	}
	if exitAfter > shutdownTimeout {
		t.Errorf("gatehouse exited %s after SIGTERM, more than SHUTDOWN_TIMEOUT %s", exitAfter, shutdownTimeout)
	}

	handled, graceful := accessLog(t, logPath)
	defer func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", p.LogTail())
		}
	}()
	if !graceful {
		t.Errorf("no \"server stopped gracefully\" in the log")
	}

	var (
		completed, inFlightAtSignal, afterSignal                       int
		refused, idleClosed, backlogReset, failedAccepted, unexplained int
	)
	for _, s := range all {
		o := s.o
		if o.err == nil {
			completed++
			if s.start.Before(sigAt) && s.end.After(sigAt) {
				inFlightAtSignal++
			} else if s.start.After(sigAt) {
				afterSignal++
			}
			if o.status() != 200 {
				t.Errorf("%s: %s: %s", s.op, o, bodyOf(o))
			}
			continue
		}
		// The Transport reports a keep-alive connection it found closed
		// before writing on it as "server closed idle connection" (an
		// unexported error without an Is target), a closed one under its
		// write or read as EOF, a reset or a broken pipe.
		reset := errors.Is(o.err, io.EOF) || errors.Is(o.err, io.ErrUnexpectedEOF) ||
			errors.Is(o.err, syscall.ECONNRESET) || errors.Is(o.err, syscall.EPIPE) ||
			strings.Contains(o.err.Error(), "server closed idle connection")
		switch {
		case handled[o.requestID] || o.firstByte:
			failedAccepted++
			t.Errorf("%s: accepted by the server (logged=%v, response started=%v) but failed: %s",
				s.op, handled[o.requestID], o.firstByte, o)
		case refusedAtDial(o.err):
			// For a GET this may be the Transport's retry of an attempt
			// on a keep-alive connection closed as idle: the retry is
			// what failed, at connect time.
			refused++
		case reset && o.reused:
			idleClosed++
		case reset && !o.reused:
			backlogReset++
		default:
			unexplained++
			t.Errorf("%s: failed in a way a graceful shutdown does not explain: %s", s.op, o)
		}
	}
	t.Logf("shutdown: exit after %s; %d requests: %d completed (%d in flight at SIGTERM, %d started after it), "+
		"%d refused at connect, %d on a keep-alive connection closed as idle, %d reset in the accept backlog, "+
		"%d accepted but failed, %d unexplained",
		exitAfter.Round(time.Millisecond), len(all), completed, inFlightAtSignal, afterSignal,
		refused, idleClosed, backlogReset, failedAccepted, unexplained)
	if inFlightAtSignal == 0 {
		t.Errorf("no request was in flight at SIGTERM: the test did not exercise draining")
	}
	if refused == 0 {
		t.Errorf("no request was refused after the listener closed: the load did not outlast the shutdown")
	}
}

// refusedAtDial reports whether err is a connection refused at connect time.
func refusedAtDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNREFUSED)
}

// accessLog reads the server's JSON log: the request IDs of the access-log
// lines, and whether the HTTP server reported a graceful stop.
func accessLog(t *testing.T, path string) (map[string]bool, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	graceful := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg       string `json:"msg"`
			RequestID string `json:"requestId"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch {
		case line.Msg == "request" && line.RequestID != "":
			ids[line.RequestID] = true
		case line.Msg == "server stopped gracefully":
			graceful = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("no access-log lines in %s: cannot tell accepted requests", path)
	}
	return ids, graceful
}
