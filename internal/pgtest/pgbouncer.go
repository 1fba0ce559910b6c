package pgtest

import (
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
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// EnvRequireBouncer makes a missing pgbouncer binary a test failure instead
// of a skip (CI installs it and sets this).
const EnvRequireBouncer = "REQUIRE_PGBOUNCER"

// BouncerExecMode is what a service's DATABASE_URL needs to work through
// PgBouncer in transaction mode before 1.21: pgx's default mode names its
// prepared statements per connection, and the server connection behind a
// client changes at every transaction there. cache_describe uses the
// unnamed statement and caches only the description client side, so it
// still takes one round trip per statement.
const BouncerExecMode = "default_query_exec_mode=cache_describe"

// Bouncer is a PgBouncer in transaction pooling mode on 127.0.0.1, in front
// of one PostgreSQL server, trusting every client (tests only).
type Bouncer struct {
	bin     string
	dir     string
	ini     string
	logPath string
	port    int
	owner   *owner

	mu     sync.Mutex
	target int               // the PostgreSQL port it forwards to
	proc   *proctest.Process // nil while stopped
}

// BouncerBinary returns the path of pgbouncer, from PATH or /usr/sbin
// (Debian installs it there, outside a normal user's PATH).
func BouncerBinary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("no pgbouncer binary found")
}

// Pooled starts a PgBouncer for tb in front of the server of directURL (a
// URL from URL or NewDatabase) and returns the URL of the same database
// through it, with BouncerExecMode set. Without pgbouncer it skips tb, or
// fails it when REQUIRE_PGBOUNCER is set.
func Pooled(tb testing.TB, directURL string) string {
	tb.Helper()
	u, err := url.Parse(directURL)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		tb.Fatalf("pgtest: port of %s: %v", u.Host, err)
	}
	b := StartBouncer(tb, port)
	return b.URL(strings.TrimPrefix(u.Path, "/"))
}

// StartBouncer starts a PgBouncer for tb forwarding to the PostgreSQL server
// on 127.0.0.1:pgPort; it is stopped and removed when tb ends. Without
// pgbouncer it skips tb, or fails it when REQUIRE_PGBOUNCER is set.
func StartBouncer(tb testing.TB, pgPort int) *Bouncer {
	tb.Helper()
	bin, err := BouncerBinary()
	if err != nil {
		if os.Getenv(EnvRequireBouncer) != "" {
			tb.Fatalf("pgtest: %v (and %s is set)", err, EnvRequireBouncer)
		}
		tb.Skipf("pgtest: %v; set %s to make this a failure", err, EnvRequireBouncer)
	}
	b, err := newBouncer(bin, pgPort)
	if err != nil {
		tb.Fatalf("pgtest: pgbouncer: %v", err)
	}
	tb.Cleanup(func() {
		if err := b.Stop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
		_ = os.RemoveAll(b.dir)
	})
	return b
}

func newBouncer(bin string, pgPort int) (_ *Bouncer, err error) {
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(baseDir(), dirPrefix+"bouncer-")
	if err != nil {
		return nil, err
	}
	b := &Bouncer{bin: bin, dir: dir, owner: o, target: pgPort,
		ini: filepath.Join(dir, "pgbouncer.ini"), logPath: filepath.Join(dir, "pgbouncer.log")}
	defer func() {
		if err != nil {
			_ = b.Stop()
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	// trust still looks the user up in auth_file.
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(`"`+superuser+`" ""`+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := o.chown(dir); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if b.port, err = proctest.FreePort(); err != nil {
			return nil, err
		}
		if err = b.Start(); err == nil {
			return b, nil
		}
		if attempt == 2 || !strings.Contains(b.logTail(), "bind") {
			return nil, err
		}
	}
}

// config is pgbouncer.ini for the current target.
func (b *Bouncer) config() string {
	return fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
admin_users = %s
logfile = %s
log_connections = 0
log_disconnections = 0
; a failed server login is retried after this long (default 15s), so a
; restarted or re-pointed server is used at once
server_login_retry = 1
server_connect_timeout = 3
; fail waiting clients instead of queueing them for minutes
query_wait_timeout = 10
`, b.target, b.port, filepath.Join(b.dir, "userlist.txt"), superuser, b.logPath)
}

func (b *Bouncer) writeConfig() error {
	if err := os.WriteFile(b.ini, []byte(b.config()), 0o644); err != nil {
		return err
	}
	return b.owner.chown(b.ini)
}

// Start starts pgbouncer (again) on its port and waits until it accepts
// connections. Starting a running bouncer is a no-op.
func (b *Bouncer) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		return nil
	}
	if err := b.writeConfig(); err != nil {
		return err
	}
	attr := b.owner.sysProcAttr(false)
	// SIGTERM is pgbouncer's immediate shutdown.
	attr.Pdeathsig = syscall.SIGTERM
	proc, err := proctest.Start(proctest.Spec{
		Name:         "pgbouncer",
		Path:         b.bin,
		Args:         []string{b.ini},
		Dir:          b.dir,
		Env:          serverEnv(),
		LogPath:      filepath.Join(b.dir, "stderr.log"),
		ExtraLogs:    []string{b.logPath},
		SysProcAttr:  attr,
		Ready:        proctest.DialReady(b.Addr()),
		ReadyTimeout: 10 * time.Second,
		StopSignal:   syscall.SIGTERM,
		StopGrace:    10 * time.Second,
	})
	if err != nil {
		return err
	}
	b.proc = proc
	return nil
}

// Stop shuts pgbouncer down at once (SIGTERM: every client and server
// connection is closed) and waits for it to exit.
func (b *Bouncer) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return nil
	}
	proc := b.proc
	b.proc = nil
	return proc.Stop()
}

// Repoint makes pgbouncer forward to the PostgreSQL server on
// 127.0.0.1:pgPort from now on: it rewrites the configuration and reloads
// it (SIGHUP), which is how a failover tool moves a pooler to a promoted
// replica. Clients stay connected; server connections to the old target
// are closed as they are released.
func (b *Bouncer) Repoint(pgPort int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.target = pgPort
	if err := b.writeConfig(); err != nil {
		return err
	}
	if b.proc == nil {
		return nil
	}
	return b.proc.Signal(syscall.SIGHUP)
}

// PID is pgbouncer's process id, or 0 while it is stopped.
func (b *Bouncer) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return 0
	}
	return b.proc.PID()
}

// Addr is host:port of the listener.
func (b *Bouncer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// URL returns the postgres:// URL of database dbname through pgbouncer, as
// the superuser, without TLS, with BouncerExecMode.
func (b *Bouncer) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     b.Addr(),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable&" + BouncerExecMode,
	}
	return u.String()
}

// LogTail returns the end of pgbouncer's log, for failure messages.
func (b *Bouncer) LogTail() string { return b.logTail() }

func (b *Bouncer) logTail() string {
	return proctest.Tail(b.logPath, filepath.Join(b.dir, "stderr.log"))
}
