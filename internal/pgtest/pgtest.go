// Package pgtest starts throwaway PostgreSQL clusters from the binaries
// installed on the machine, for tests that must run against a real server.
//
// A test binary shares one cluster (started on first use, on a free port on
// 127.0.0.1, with durability switched off for speed) and every URL call
// creates a new empty database on it, so tests stay isolated without paying
// for a cluster each. Tests that stop and restart the server take a cluster
// of their own with Cluster.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// When no PostgreSQL binaries exist, URL and Cluster skip the test, unless
// the environment variable REQUIRE_POSTGRES is non-empty (CI sets it): then
// they fail it, so a missing install can never turn into a green run.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the package.
const (
	// EnvRequire makes a missing PostgreSQL installation a test failure
	// instead of a skip.
	EnvRequire = "REQUIRE_POSTGRES"
	// EnvBinDir names the directory holding initdb and postgres, overriding
	// the search.
	EnvBinDir = "PGTEST_BINDIR"
)

const (
	// dirPrefix names the cluster directories, so a later run can recognise
	// (and remove) those left behind by a test binary that was killed.
	dirPrefix = "gatehouse-pg-"
	// staleAfter is how old an abandoned cluster directory must be before it
	// is removed: old enough that no running test can still own it.
	staleAfter = time.Hour
	// startTimeout bounds initdb plus server start.
	startTimeout = 60 * time.Second
	// superuser is the role initdb creates; it does not depend on the OS user.
	superuser = "postgres"
)

// registry is the process-wide state of the package: the shared cluster and
// every cluster started, so Main can stop them all. It is the one package
// level variable: URL(tb) has no handle to carry state in, and one cluster
// per test binary is the point of the package.
type registry struct {
	mu         sync.Mutex
	shared     *Server
	sharedErr  error
	servers    []*Server
	cleanedOut bool
}

var reg registry

// Main wraps testing.M: it runs the tests, then stops every cluster started
// by this process and removes its directory. It returns the exit code for
// the caller to pass to os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	reg.mu.Lock()
	servers := reg.servers
	reg.servers = nil
	reg.shared = nil
	reg.mu.Unlock()
	for _, s := range servers {
		if err := s.destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// Available reports whether PostgreSQL binaries were found.
func Available() bool {
	_, err := findBinDir()
	return err == nil
}

// URL returns a postgres:// URL of a new, empty database on the process's
// shared cluster, starting the cluster on first use. Each call creates a
// database, so tests using it are isolated from each other.
//
// Without PostgreSQL binaries it skips tb, or fails it when REQUIRE_POSTGRES
// is set. A cluster that cannot start fails tb with the server log.
func URL(tb testing.TB) string {
	tb.Helper()
	binDir := requireBinaries(tb)
	reg.mu.Lock()
	if reg.shared == nil && reg.sharedErr == nil {
		reg.shared, reg.sharedErr = startServer(binDir, false)
	}
	s, err := reg.shared, reg.sharedErr
	reg.mu.Unlock()
	if err != nil {
		// Every later caller sees the same failure instead of retrying a
		// cluster that cannot start.
		tb.Fatalf("pgtest: start shared cluster: %v", err)
	}
	return s.NewDatabase(tb)
}

// Cluster starts a cluster for tb alone, for tests that stop and restart the
// server under running code. It is stopped and removed when tb ends. Unlike
// the shared cluster it keeps synchronous_commit on, so what it acknowledged
// survives Stop (an immediate shutdown) as on a real server.
func Cluster(tb testing.TB) *Server {
	tb.Helper()
	binDir := requireBinaries(tb)
	reg.mu.Lock()
	s, err := startServer(binDir, true)
	reg.mu.Unlock()
	if err != nil {
		tb.Fatalf("pgtest: start cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.destroy(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
		reg.forget(s)
	})
	return s
}

// requireBinaries returns the binary directory, or skips or fails tb.
func requireBinaries(tb testing.TB) string {
	tb.Helper()
	binDir, err := findBinDir()
	if err != nil {
		if os.Getenv(EnvRequire) != "" {
			tb.Fatalf("pgtest: %v (and %s is set)", err, EnvRequire)
		}
		tb.Skipf("pgtest: %v; set %s to make this a failure", err, EnvRequire)
	}
	return binDir
}

// startServer creates, initialises and starts a cluster. The caller holds
// reg.mu, which also serialises the removal of stale directories.
func startServer(binDir string, durable bool) (*Server, error) {
	base := baseDir()
	if !reg.cleanedOut {
		reg.cleanedOut = true
		removeStale(base, staleAfter, time.Now())
	}
	s, err := newServer(binDir, base, durable)
	if err != nil {
		return nil, err
	}
	reg.servers = append(reg.servers, s)
	return s, nil
}

func (r *registry) forget(s *Server) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.servers = slices.DeleteFunc(r.servers, func(x *Server) bool { return x == s })
}

// baseDir is where cluster directories go. As root the cluster runs as the
// postgres user, which must be able to enter every parent: /tmp is
// world-searchable, while TMPDIR (or a test's TempDir) may not be.
func baseDir() string {
	if os.Geteuid() == 0 {
		return "/tmp"
	}
	return os.TempDir()
}

// findBinDir locates initdb and postgres: $PGTEST_BINDIR, then the newest
// /usr/lib/postgresql/*/bin (Debian and Ubuntu), then pg_config --bindir,
// then initdb on PATH.
func findBinDir() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		if hasBinaries(d) {
			return d, nil
		}
		return "", fmt.Errorf("no initdb and postgres in %s=%s", EnvBinDir, d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if hasBinaries(d) {
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); hasBinaries(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); hasBinaries(d) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries found (initdb and postgres)")
}

// versionOf extracts the major version of /usr/lib/postgresql/N/bin, so 15
// sorts after 9.
func versionOf(binDir string) int {
	n, err := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	if err != nil {
		return -1
	}
	return n
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// removeStale deletes cluster directories under base older than maxAge
// whose server is not running: leftovers of test binaries killed before
// Main could clean up. A directory with a live postmaster is kept, whatever
// its age: another test process may own it.
func removeStale(base string, maxAge time.Duration, now time.Time) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < maxAge {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if pid, ok := postmasterPID(filepath.Join(dir, "data")); ok && processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// postmasterPID reads the PID from a data directory's postmaster.pid.
func postmasterPID(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	return pid, err == nil && pid > 0
}

// createDatabase runs CREATE DATABASE on the server's maintenance database.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// template0 cannot have been changed by anyone, and copying it does not
	// conflict with sessions connected to template1.
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
	return err
}

// databaseName derives a valid, unique database name from a test name, so a
// leftover database can be traced to its test.
func databaseName(testName string, seq int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	prefix := "t" + strconv.FormatInt(seq, 10) + "_"
	if max := 63 - len(prefix); len(name) > max {
		name = name[len(name)-max:]
	}
	return prefix + name
}
