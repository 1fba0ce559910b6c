// Package hatest builds a high-availability topology out of the standard
// parts, on loopback, in temporary directories, and drives it: a PostgreSQL
// primary with a synchronous streaming replica, PgBouncer in transaction
// pooling mode in front, Gatehouse instances (the built binary) behind
// HAProxy with /readyz health checks, and a mixed load that speaks only the
// public HTTP API, so what it proves holds whatever the storage inside.
//
// Its tests are behind the build tag "ha" (make test-ha, make soak): they
// take minutes, and need pgbouncer and haproxy installed.
package hatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/proctest"
)

// EnvBinary names a prebuilt gatehouse binary (make test-ha builds one);
// without it the harness builds ./cmd/gatehouse itself.
const EnvBinary = "GATEHOUSE_BIN"

// dbName is the service's database on the primary.
const dbName = "gatehouse"

// Options shape a topology.
type Options struct {
	// Instances is the number of Gatehouse processes behind HAProxy.
	Instances int
	// Env is added to every instance's environment (after the harness's own).
	Env []string
}

// Topology is one running HA set-up. Everything in it is a child process
// of the test, started and stopped by pid, and removed when the test ends.
type Topology struct {
	tb        testing.TB
	dir       string
	bin       string
	Primary   *pgtest.Server
	Replica   *pgtest.Server
	Bouncer   *pgtest.Bouncer
	Instances []*Instance
	LB        *HAProxy
}

// Start builds the topology, migrates the database directly on the primary
// (as `gatehouse migrate` in a deploy step) and waits until HAProxy sees
// every instance up.
func Start(tb testing.TB, opts Options) *Topology {
	tb.Helper()
	haproxy, err := lookBin("haproxy")
	if err != nil {
		tb.Fatalf("hatest: %v", err)
	}
	dir := tb.TempDir()
	t := &Topology{tb: tb, dir: dir, bin: Binary(tb)}

	t.Primary = pgtest.Cluster(tb)
	t.Replica = t.Primary.Replica(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Synchronous replication: a commit is acknowledged only once the
	// replica has it, so promoting the replica cannot undo an acknowledged
	// logout. Set on the primary only, after the base backup, so the
	// promoted replica does not wait for a standby it does not have.
	if err := execSQL(ctx, t.Primary.URL("postgres"),
		"ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"); err != nil {
		tb.Fatalf("hatest: synchronous replication: %v", err)
	}
	if err := execSQL(ctx, t.Primary.URL("postgres"), "CREATE DATABASE "+dbName); err != nil {
		tb.Fatalf("hatest: create database: %v", err)
	}
	if err := waitSync(ctx, t.Primary.URL("postgres")); err != nil {
		tb.Fatalf("hatest: %v", err)
	}
	if out, err := t.run(ctx, []string{"DATABASE_URL=" + t.Primary.URL(dbName)}, "migrate"); err != nil {
		tb.Fatalf("hatest: gatehouse migrate: %v\n%s", err, out)
	}
	t.Bouncer = pgtest.StartBouncer(tb, t.Primary.Port())

	n := max(opts.Instances, 1)
	for i := range n {
		inst, err := newInstance(t, fmt.Sprintf("g%d", i+1), opts.Env)
		if err != nil {
			tb.Fatalf("hatest: %v", err)
		}
		t.Instances = append(t.Instances, inst)
		tb.Cleanup(func() { _ = inst.Stop() })
	}
	// Start them together: each generates or loads the signing key.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, inst := range t.Instances {
		wg.Go(func() { errs[i] = inst.Start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("hatest: %v", err)
	}
	if t.LB, err = startHAProxy(haproxy, dir, t.Instances); err != nil {
		tb.Fatalf("hatest: %v", err)
	}
	tb.Cleanup(func() { _ = t.LB.Stop() })
	if err := t.LB.WaitUp(ctx, n); err != nil {
		tb.Fatalf("hatest: %v", err)
	}
	return t
}

// URL is the service's public address: HAProxy's frontend.
func (t *Topology) URL() string { return "http://" + t.LB.Addr() }

// run runs the gatehouse binary once with a subcommand.
func (t *Topology) run(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.bin, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Dir = t.dir
	return cmd.CombinedOutput()
}

// Failover is what a failover tool (Patroni, repmgr, pg_auto_failover) does
// when the primary is gone: promote the replica, then point the pooler at
// it. Promotion comes first, so PgBouncer never sends a write to a server
// that is still read-only (which would be an error, not a retryable 503).
func (t *Topology) Failover(ctx context.Context) error {
	if err := t.Replica.Promote(ctx); err != nil {
		return err
	}
	return t.Bouncer.Repoint(t.Replica.Port())
}

// Instance is one Gatehouse process.
type Instance struct {
	Name        string
	Port        int
	MetricsPort int
	top         *Topology
	env         []string
	logPath     string

	mu   sync.Mutex
	proc *proctest.Process // nil while stopped
}

func newInstance(t *Topology, name string, extra []string) (*Instance, error) {
	port, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	inst := &Instance{Name: name, Port: port, MetricsPort: mport, top: t,
		logPath: filepath.Join(t.dir, name+".log")}
	inst.env = append([]string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"METRICS_ADDR=127.0.0.1:" + strconv.Itoa(mport),
		// Through PgBouncer in transaction mode: the one setting it needs
		// is in the URL (pgtest.BouncerExecMode); migrations ran directly
		// on the primary.
		"DATABASE_URL=" + t.Bouncer.URL(dbName),
		"DB_MIGRATE_ON_START=false",
	}, extra...)
	return inst, nil
}

// baseEnv is what every instance runs with: ours without PG* variables,
// plus settings that suit a load from one address on a shared machine.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "DATABASE_URL" || k == "HTTP_ADDR" || k == "METRICS_ADDR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"RATE_LIMIT_PER_IP=0", // the load comes from one address
		"COOKIE_SECURE=false",
		"LOG_FORMAT=json", "LOG_LEVEL=warn",
		// Cheap hashing: the test is about the topology, not argon2id.
		"PASSWORD_ARGON2_MEMORY=8MiB", "PASSWORD_ARGON2_ITERATIONS=1",
		"SHUTDOWN_TIMEOUT=10s",
		"DB_MAX_OPEN_CONNS=10", "DB_MAX_IDLE_CONNS=10",
	)
}

// Start starts the instance and waits until its own /readyz answers 200.
func (i *Instance) Start() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc != nil {
		return nil
	}
	proc, err := proctest.Start(proctest.Spec{
		Name:         i.Name,
		Path:         i.top.bin,
		Dir:          i.top.dir,
		Env:          append(baseEnv(), i.env...),
		LogPath:      i.logPath,
		SysProcAttr:  &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		Ready:        proctest.HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", i.Port)),
		ReadyTimeout: 60 * time.Second,
		ReadyPoll:    20 * time.Millisecond,
		StopSignal:   syscall.SIGTERM,
		StopGrace:    instanceGrace,
	})
	if err != nil {
		return err
	}
	i.proc = proc
	return nil
}

// instanceGrace is how long an instance may take to exit after a signal
// (SHUTDOWN_TIMEOUT is 10s) before it is killed.
const instanceGrace = 30 * time.Second

// Kill sends SIGKILL and waits for the process to be gone.
func (i *Instance) Kill() error { return i.signal(syscall.SIGKILL) }

// Term sends SIGTERM (graceful shutdown) and waits for the exit.
func (i *Instance) Term() error { return i.signal(syscall.SIGTERM) }

func (i *Instance) signal(sig syscall.Signal) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc == nil {
		return nil
	}
	proc := i.proc
	i.proc = nil
	return proc.StopWith(sig, instanceGrace)
}

// PID is the process id, or 0 while stopped.
func (i *Instance) PID() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc == nil {
		return 0
	}
	return i.proc.PID()
}

// Stop is for cleanup: SIGTERM, and SIGKILL if that does not do.
func (i *Instance) Stop() error { return i.Term() }

// Binary returns the gatehouse binary: $GATEHOUSE_BIN, or one built now
// into a temporary directory.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatal(err)
		}
		return abs
	}
	out := filepath.Join(tb.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", out, "github.com/gatehouse/gatehouse/cmd/gatehouse")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("hatest: build gatehouse: %v\n%s", err, b)
	}
	return out
}

// lookBin finds a program on PATH or in the sbin directories Debian
// installs daemons into.
func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed (apt-get install %s)", name, name)
}
