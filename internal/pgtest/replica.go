package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// Replica makes a hot-standby streaming replica of s with pg_basebackup
// (-R writes primary_conninfo and standby.signal) and starts it on a port of
// its own. It is stopped and removed when tb ends.
func (s *Server) Replica(tb testing.TB) *Server {
	tb.Helper()
	r, err := s.newReplica()
	if err != nil {
		tb.Fatalf("pgtest: replica: %v", err)
	}
	reg.mu.Lock()
	reg.servers = append(reg.servers, r)
	reg.mu.Unlock()
	tb.Cleanup(func() {
		if err := r.destroy(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
		reg.forget(r)
	})
	return r
}

func (s *Server) newReplica() (_ *Server, err error) {
	dir, err := os.MkdirTemp(baseDir(), dirPrefix)
	if err != nil {
		return nil, err
	}
	r := &Server{
		binDir: s.binDir, dir: dir, owner: s.owner, durable: s.durable,
		dataDir: filepath.Join(dir, "data"),
		sockDir: filepath.Join(dir, "sock"),
		logPath: filepath.Join(dir, "postgres.log"),
	}
	defer func() {
		if err != nil {
			_ = r.destroy()
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(r.sockDir, 0o755); err != nil {
		return nil, err
	}
	for _, p := range []string{dir, r.sockDir} {
		if err := r.owner.chown(p); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "pg_basebackup"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(s.port), "--username", superuser,
		"--pgdata", r.dataDir,
		"--write-recovery-conf", "--wal-method", "stream", "--checkpoint", "fast", "--no-sync",
	)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = r.owner.sysProcAttr(false)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, r.logTail())
	}
	if r.port, err = proctest.FreePort(); err != nil {
		return nil, err
	}
	if err := r.Start(); err != nil {
		return nil, err
	}
	return r, nil
}

// Promote turns a standby into a primary (pg_promote, waiting for the end
// of recovery) and returns once it accepts writes.
func (s *Server) Promote(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&ok); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !ok {
		return fmt.Errorf("promote: not promoted within 60s\n%s", s.logTail())
	}
	// pg_promote(wait) returns when recovery ended; a new connection then
	// sees a read-write server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err == nil && !inRecovery {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("promote: still in recovery after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the postmaster's process id, or 0 while the server is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.PID()
}
