package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// Server is one throwaway PostgreSQL cluster: a data directory, a port on
// 127.0.0.1 and, while running, a postmaster child process.
type Server struct {
	binDir  string
	dir     string // the cluster's own directory; removed by destroy
	dataDir string
	sockDir string
	logPath string
	port    int
	owner   *owner // the OS user the server runs as; nil means this process's
	// durable keeps synchronous_commit on: a cluster that tests stop in
	// immediate mode must keep what it acknowledged, like a real server.
	// With fsync off that costs a write(2) per commit, not a flush.
	durable bool

	dbSeq atomic.Int64

	mu   sync.Mutex
	proc *proctest.Process // nil while stopped
}

// newServer lays out a cluster directory under base, runs initdb and starts
// the server.
func newServer(binDir, base string, durable bool) (_ *Server, err error) {
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, err
	}
	s := &Server{
		binDir: binDir, dir: dir, owner: o, durable: durable,
		dataDir: filepath.Join(dir, "data"),
		sockDir: filepath.Join(dir, "sock"),
		logPath: filepath.Join(dir, "postgres.log"),
	}
	defer func() {
		if err != nil {
			_ = s.destroy()
		}
	}()
	// MkdirTemp makes a 0700 directory; the server user must enter it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.sockDir, 0o755); err != nil {
		return nil, err
	}
	for _, p := range []string{dir, s.sockDir} {
		if err := o.chown(p); err != nil {
			return nil, err
		}
	}
	if err := s.initdb(); err != nil {
		return nil, err
	}
	// A free port can be taken by someone else between probing it and the
	// server binding it; try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = proctest.FreePort(); err != nil {
			return nil, err
		}
		if err = s.Start(); err == nil {
			return s, nil
		}
		if attempt == 2 || !strings.Contains(s.logTail(), "could not bind") {
			return nil, err
		}
	}
}

// initdb creates the data directory with a trusted superuser "postgres".
func (s *Server) initdb() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"),
		"--pgdata", s.dataDir,
		"--username", superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--no-locale",
		"--no-sync", // durability is pointless for a throwaway cluster
	)
	cmd.Dir = s.dir // the server user may not be able to enter our cwd
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = s.owner.sysProcAttr(false)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, s.logTail())
	}
	return nil
}

// Start starts the server (again) on its port and data directory and waits
// until it accepts connections. After Stop it comes back at the same URLs,
// having run crash recovery. Starting a running server is a no-op.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	syncCommit := "off"
	if s.durable {
		syncCommit = "on"
	}
	proc, err := proctest.Start(proctest.Spec{
		Name: "postgres",
		Path: filepath.Join(s.binDir, "postgres"),
		Args: []string{
			"-D", s.dataDir,
			"-p", strconv.Itoa(s.port),
			"-k", s.sockDir,
			"-c", "listen_addresses=127.0.0.1",
			// Tests need no durability; these make commits and checkpoints cheap.
			"-c", "fsync=off",
			"-c", "synchronous_commit=" + syncCommit,
			"-c", "full_page_writes=off",
			"-c", "max_connections=200",
			"-c", "timezone=UTC",
			"-c", "log_min_messages=warning",
		},
		Dir:     s.dir,
		Env:     serverEnv(),
		LogPath: s.logPath,
		// The server is our child rather than pg_ctl's daemon so that it dies
		// with the test binary even when that is killed (parent-death signal).
		SysProcAttr:  s.owner.sysProcAttr(true),
		Ready:        s.ready,
		ReadyTimeout: startTimeout,
		// Immediate mode, what pg_ctl stop -m immediate sends.
		StopSignal: syscall.SIGQUIT,
		StopGrace:  15 * time.Second,
	})
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// ready reads postmaster.pid for the postmaster's "ready" (what pg_ctl -w
// does).
func (s *Server) ready(context.Context) error {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "postmaster.pid"))
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	// A primary says "ready"; a hot standby says "standby" once it accepts
	// read-only connections.
	if len(lines) >= 8 {
		if st := strings.TrimSpace(lines[7]); st == "ready" || st == "standby" {
			return nil
		}
	}
	return errors.New("postmaster.pid does not say ready yet")
}

// Stop shuts the server down in immediate mode (what pg_ctl stop -m
// immediate does: SIGQUIT to the postmaster), like a crash as far as
// clients can tell, and waits for it to exit. Stopping a stopped server is a
// no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	proc := s.proc
	s.proc = nil
	return proc.Stop()
}

// destroy stops the server and removes its directory.
func (s *Server) destroy() error {
	err := s.Stop()
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// Port is the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL returns the postgres:// URL of database dbname on this server, as the
// superuser, without TLS. It creates nothing: see NewDatabase.
func (s *Server) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// NewDatabase creates a new empty database, named after tb, and returns its
// URL. It fails tb when the server does not answer.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := databaseName(tb.Name(), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createDatabase(ctx, s.URL("postgres"), name); err != nil {
		tb.Fatalf("pgtest: create database %s: %v\n%s", name, err, s.logTail())
	}
	return s.URL(name)
}

// logTail returns the end of the server log, for failure messages.
func (s *Server) logTail() string { return proctest.Tail(s.logPath) }

// serverEnv is the environment of initdb and postgres: ours without the
// libpq and locale variables, which could point the server elsewhere or
// name a locale this machine lacks.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "TZ=UTC")
}
