package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/spectest"
	"github.com/gatehouse/gatehouse/internal/proctest"
)

// accessTTL is the ACCESS_TOKEN_TTL of every test server: short, so that access
// tokens expire while a test runs and the app has to refresh.
const accessTTL = 3 * time.Second

// server is one gatehouse process on 127.0.0.1.
type server struct {
	URL  string // http://127.0.0.1:PORT
	Port int
	// environ and dir are the process's environment and working directory, for
	// the command line (cli) on the same database.
	environ []string
	dir     string
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process could take
// it before the server binds it; startServer then fails with a clear error.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := proctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startServer runs the gatehouse binary on port with a fresh SQLite database and the
// test settings, overridden by env, and waits until /readyz answers 200. The process
// is stopped when the test ends; its output is saved with the artifacts of a failed
// test.
func startServer(t *testing.T, port int, env map[string]string) *server {
	t.Helper()
	dir := t.TempDir()
	settings := map[string]string{
		"CONFIG_FILE":  "/dev/null", // only what is set here counts
		"HTTP_ADDR":    "127.0.0.1:" + strconv.Itoa(port),
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "gatehouse.db"),
		// Plain HTTP: a Secure cookie would never come back from http://127.0.0.1.
		"COOKIE_SECURE":    "false",
		"ACCESS_TOKEN_TTL": accessTTL.String(),
		// The cheapest hashing the configuration allows (8 MiB is its minimum).
		"PASSWORD_ARGON2_MEMORY":     "8MiB",
		"PASSWORD_ARGON2_ITERATIONS": "1",
		"EXAMPLE_APP_ENABLED":        "true",
		"LOG_LEVEL":                  "warn",
		"LOG_FORMAT":                 "text",
	}
	for k, v := range env {
		settings[k] = v
	}
	// A clean environment: nothing from the developer's shell (DATABASE_URL, ...)
	// leaks into the server.
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
	for k, v := range settings {
		environ = append(environ, k+"="+v)
	}

	s := &server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, environ: environ, dir: dir}
	logPath := filepath.Join(dir, "server.log")
	proc, err := proctest.Start(proctest.Spec{
		Name:         "gatehouse",
		Path:         gatehouseBin,
		Dir:          dir,
		Env:          environ,
		LogPath:      logPath,
		Ready:        proctest.HTTPReady(s.URL + "/readyz"),
		ReadyTimeout: 20 * time.Second,
		ReadyPoll:    50 * time.Millisecond,
		StopSignal:   syscall.SIGTERM,
		StopGrace:    10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := proc.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				saveArtifact(t, "server.log", b)
			}
		}
	})
	return s
}

// envelope is the JSON envelope of every API response.
type envelope = spectest.Envelope

// tokenPair is the data of register, login and refresh with body transport.
type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Session struct {
		ID string `json:"id"`
	} `json:"session"`
}

// call sends one JSON request the way a non-browser client would (no cookies).
func (s *server) call(t *testing.T, method, path string, body any, bearer string) (int, envelope) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: %d, not an envelope: %v\n%s", method, path, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, env
}

// pair sends a request that answers a token pair and fails the test on anything else.
func (s *server) pair(t *testing.T, path string, body any, want int) tokenPair {
	t.Helper()
	status, env := s.call(t, http.MethodPost, path, body, "")
	if status != want || !env.Success {
		t.Fatalf("POST %s: %d %s (%s), want %d", path, status, env.Code(), env.Message, want)
	}
	var p tokenPair
	if err := json.Unmarshal(env.Data, &p); err != nil {
		t.Fatalf("POST %s: data: %v", path, err)
	}
	return p
}

// register creates an account (body transport: this client keeps no cookies).
func (s *server) register(t *testing.T, email, password string) tokenPair {
	t.Helper()
	return s.pair(t, "/auth/register", map[string]any{
		"email": email, "password": password, "name": "Ada Lovelace", "refreshTokenTransport": "body",
	}, http.StatusCreated)
}

// login starts another session of the user, as another device would.
func (s *server) login(t *testing.T, email, password string) tokenPair {
	t.Helper()
	return s.pair(t, "/auth/login", map[string]any{
		"email": email, "password": password, "refreshTokenTransport": "body",
	}, http.StatusOK)
}

// refreshCode presents a refresh token in the body and returns the error code, ""
// on success.
func (s *server) refreshCode(t *testing.T, refreshToken string) string {
	t.Helper()
	status, env := s.call(t, http.MethodPost, "/auth/refresh", map[string]any{"refreshToken": refreshToken}, "")
	if env.Success != (status == http.StatusOK) {
		t.Fatalf("POST /auth/refresh: status %d but success %v", status, env.Success)
	}
	return env.Code()
}

// uniqueEmail returns a fresh address, so a failed test never collides with another.
func uniqueEmail(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s@example.com", prefix, hex.EncodeToString(b[:]))
}

// getStatus answers the status of a plain GET.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// sleepUntil waits until deadline, logging why.
func sleepUntil(t *testing.T, deadline time.Time, why string) {
	t.Helper()
	if d := time.Until(deadline); d > 0 {
		t.Logf("waiting %s: %s", d.Round(time.Millisecond), why)
		time.Sleep(d)
	}
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// cli runs the gatehouse command line (`gatehouse users create ...`) with the
// server's settings, so on its database, and stdin as its input; it fails the
// test when the command does.
func (s *server) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatehouseBin, args...)
	cmd.Dir = s.dir
	cmd.Env = s.environ
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
