package scale

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// Environment of the migration lock test. `make test` runs it on 2,000
// accounts on a throwaway cluster; `make scale` on a million, on the scale
// cluster (PostgreSQL's default durability), and prints its report.
const (
	envLockURL      = "SCALE_LOCK_DATABASE_URL"
	envLockAccounts = "SCALE_LOCK_ACCOUNTS"
)

// maxWriteBlock is the longest a migration may keep writes to a hot table
// waiting (issue 25: one second).
const maxWriteBlock = time.Second

// hotTables are the tables every request writes or reads: a lock that
// blocks their writes for longer than maxWriteBlock stalls the service.
var hotTables = []string{"users", "sessions"}

// TestMigrationLocks seeds a database at the schema of the first migration
// and applies every later migration one at a time, as an operator
// upgrading an old install with big tables would, timing each and
// watching pg_locks: none may hold a lock that blocks writes to users or
// sessions for more than a second. It reports every migration's time and
// the write-blocking locks it took on the big tables.
func TestMigrationLocks(t *testing.T) {
	url := os.Getenv(envLockURL)
	if url == "" {
		url = pgtest.URL(t)
	}
	accounts := 2000
	if v := os.Getenv(envLockAccounts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of accounts", envLockAccounts, v)
		}
		accounts = n
	}
	ctx := context.Background()
	db := migrated(t, url, 1)
	if _, _, err := Seed(ctx, url, Options{Users: accounts, Argon2: cheap, Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	_, latest, err := database.MigrationVersion(ctx, db, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	mon, err := NewLockMonitor(ctx, url, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mon.Close(ctx) }()

	big := append(hotTables, "security_events", "refresh_tokens")
	var report []string
	current := int64(1)
	for v := current + 1; v <= latest; v++ {
		mon.Start(ctx)
		began := time.Now()
		err := database.MigrateTo(ctx, db, "postgres", v)
		took := time.Since(began)
		holds, merr := mon.Stop()
		if err != nil {
			t.Fatalf("migration %05d: %v", v, err)
		}
		if merr != nil {
			t.Fatalf("lock monitor: %v", merr)
		}
		now, _, err := database.MigrationVersion(ctx, db, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		if now == current {
			continue // no migration with this number
		}
		current = now
		report = append(report, fmt.Sprintf("%05d %9s  %s", v, took.Round(time.Millisecond), FormatHolds(holds, big...)))
		for _, h := range holds {
			for _, hot := range hotTables {
				if h.Table == hot && BlocksWrites(h.Mode) && h.Held > maxWriteBlock {
					t.Errorf("migration %05d held %s on %s for %s (at most %s)", v, h.Mode, hot, h.Held.Round(time.Millisecond), maxWriteBlock)
				}
			}
		}
	}
	// The refresh state moved into the session row (00004) for every
	// session, batch after batch: each seeded session had its token row.
	var missing int64
	if err := db.Raw("SELECT count(*) FROM sessions WHERE token_hash IS NULL").Scan(&missing).Error; err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Errorf("%d sessions without their token hash after the migrations", missing)
	}
	t.Logf("migrations applied to %d accounts (version, time, write-blocking locks on %s):\n%s",
		accounts, strings.Join(big, ", "), strings.Join(report, "\n"))
}

// TestLockMonitorSeesAWriteBlock proves the monitor catches what the
// migration test forbids: a transaction holding ACCESS EXCLUSIVE on a
// table for 300 ms is reported with about that hold, and a plain read is
// not reported as blocking.
func TestLockMonitorSeesAWriteBlock(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE TABLE sessions (id int)"); err != nil {
		t.Fatal(err)
	}
	mon, err := NewLockMonitor(ctx, url, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mon.Close(ctx) }()
	mon.Start(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT * FROM sessions"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	holds, err := mon.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var exclusive, read time.Duration
	for _, h := range holds {
		switch {
		case h.Table == "sessions" && h.Mode == "AccessExclusiveLock":
			exclusive = h.Held
		case h.Table == "sessions" && h.Mode == "AccessShareLock":
			read = h.Held
		}
	}
	// The monitor sees a hold from its first poll after the lock to its
	// last poll before the commit; on a loaded machine a poll can come a
	// good part of the 300 ms late (236 ms was seen at load 28), so the
	// lower bound only proves the hold was followed, not the poll's timing.
	if exclusive < 100*time.Millisecond || exclusive > 2*time.Second {
		t.Errorf("ACCESS EXCLUSIVE seen for %s, want about 300ms (holds %+v)", exclusive, holds)
	}
	if read == 0 || BlocksWrites("AccessShareLock") || !BlocksWrites("ShareLock") {
		t.Errorf("read lock %s; AccessShare must be seen and not count as blocking writes, Share must", read)
	}
	if got := FormatHolds(holds, "sessions"); !strings.Contains(got, "sessions AccessExclusive") {
		t.Errorf("FormatHolds = %q", got)
	}
}
