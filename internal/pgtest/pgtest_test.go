package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestURLGivesIsolatedDatabases(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("two calls returned the same URL %s", a)
	}
	ctx := context.Background()
	ca := connect(t, a)
	if _, err := ca.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	err := connect(t, b).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("second database sees the first's table: n=%d err=%v", n, err)
	}
	var fsync string
	if err := ca.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Fatalf("fsync = %q, %v; want off", fsync, err)
	}
}

func TestClusterStopStart(t *testing.T) {
	s := Cluster(t)
	url := s.NewDatabase(t)
	ctx := context.Background()
	c := connect(t, url)
	if _, err := c.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ping succeeded on a stopped server")
	}
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("connect succeeded on a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := connect(t, url).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "x" {
		t.Fatalf("after restart: v=%q err=%v", v, err)
	}
	if !strings.Contains(url, ":"+strconv.Itoa(s.Port())+"/") {
		t.Fatalf("URL %s does not use port %d", url, s.Port())
	}
}

func TestRemoveStale(t *testing.T) {
	base := t.TempDir()
	old := filepath.Join(base, dirPrefix+"old")
	fresh := filepath.Join(base, dirPrefix+"fresh")
	live := filepath.Join(base, dirPrefix+"live")
	other := filepath.Join(base, "something-else")
	for _, d := range []string{old, fresh, filepath.Join(live, "data"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A live "postmaster": this test process.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n/x\n")
	if err := os.WriteFile(filepath.Join(live, "data", "postmaster.pid"), pid, 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	for _, d := range []string{old, live, other} {
		if err := os.Chtimes(d, past, past); err != nil {
			t.Fatal(err)
		}
	}
	removeStale(base, time.Hour, time.Now())
	for d, want := range map[string]bool{old: false, fresh: true, live: true, other: true} {
		_, err := os.Stat(d)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(d), got, want)
		}
	}
}

func TestDatabaseName(t *testing.T) {
	n := databaseName("TestX/sub-test_"+strings.Repeat("a", 100), 12)
	if len(n) > 63 || !strings.HasPrefix(n, "t12_") {
		t.Fatalf("bad name %q", n)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Fatalf("bad rune %q in %q", r, n)
		}
	}
}
