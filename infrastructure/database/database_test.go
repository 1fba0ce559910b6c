package database

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engine opens a fresh database of one kind.
type engine struct {
	name   string
	driver string
	dsn    func(t *testing.T) string
}

func engines() []engine {
	return []engine{
		{"sqlite-file", DriverSQLite, func(t *testing.T) string { return filepath.Join(t.TempDir(), "gatehouse.db") }},
		{"sqlite-memory", DriverSQLite, func(*testing.T) string { return ":memory:" }},
		{"postgres", DriverPostgres, func(t *testing.T) string { return pgtest.URL(t) }},
	}
}

func open(t *testing.T, driver, dsn string) *gorm.DB {
	t.Helper()
	db, err := Open(Config{Driver: driver, DSN: dsn}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = Close(db) })
	return db
}

func forEachEngine(t *testing.T, fn func(t *testing.T, e engine, db *gorm.DB)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e, open(t, e.driver, e.dsn(t)))
		})
	}
}

func TestOpenSQLiteCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	db := open(t, DriverSQLite, filepath.Join(dir, "gatehouse.db"))
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("directory not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %o, want 700", perm)
	}
	var mode string
	if err := db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk, busy, sync int
	db.Raw("PRAGMA foreign_keys").Scan(&fk)
	db.Raw("PRAGMA busy_timeout").Scan(&busy)
	db.Raw("PRAGMA synchronous").Scan(&sync)
	if fk != 1 || busy != 5000 || sync != 1 {
		t.Errorf("foreign_keys=%d busy_timeout=%d synchronous=%d; want 1, 5000, 1 (NORMAL)", fk, busy, sync)
	}
}

func TestOpenSQLiteAcceptsURLFormsAndQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := open(t, DriverSQLite, "sqlite://"+path+"?_pragma=busy_timeout(1234)")
	var busy int
	db.Raw("PRAGMA busy_timeout").Scan(&busy)
	if busy != 1234 {
		t.Errorf("busy_timeout = %d; the operator's pragma should win", busy)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %s: %v", path, err)
	}
	open(t, DriverSQLite, "sqlite::memory:")
}

func TestSQLiteMemoryIsOneDatabase(t *testing.T) {
	db := open(t, DriverSQLite, ":memory:")
	if err := db.Exec("CREATE TABLE t (v INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := db.Exec("INSERT INTO t VALUES (?)", i).Error; err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int
	if err := db.Raw("SELECT count(*) FROM t").Scan(&n).Error; err != nil || n != 10 {
		t.Fatalf("count = %d, %v; want 10 rows in one shared database", n, err)
	}
}

func TestOpenRejectsUnknownDriver(t *testing.T) {
	if _, err := Open(Config{Driver: "mysql", DSN: "x"}, nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestOpenUnreachablePostgresFails(t *testing.T) {
	const secret = "s3cret-pw"
	_, err := Open(Config{Driver: DriverPostgres, DSN: "postgres://nobody:" + secret + "@127.0.0.1:1/none?sslmode=disable"}, nil)
	if err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
	_, err = Open(Config{Driver: DriverPostgres, DSN: "postgres://u:" + secret + "@[bad"}, nil)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("malformed URL: err = %v", err)
	}
}

func TestWithConnectTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h/db":                         "postgres://u@h/db?connect_timeout=5",
		"postgres://u@h/db?sslmode=disable":         "postgres://u@h/db?connect_timeout=5&sslmode=disable",
		"postgres://u@h/db?connect_timeout=2":       "postgres://u@h/db?connect_timeout=2",
		"host=h dbname=db":                          "host=h dbname=db connect_timeout=5",
		"host=h connect_timeout=1":                  "host=h connect_timeout=1",
		"postgresql://u:p@h:5433/db?target=x&y=%2F": "postgresql://u:p@h:5433/db?connect_timeout=5&target=x&y=%2F",
	} {
		got, err := withConnectTimeout(in)
		if err != nil || got != want {
			t.Errorf("withConnectTimeout(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ engine, db *gorm.DB) {
		if err := Ping(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		_ = Close(db)
		if err := Ping(context.Background(), db); err == nil {
			t.Fatal("Ping on a closed pool succeeded")
		}
	})
}

func tables(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	names, err := db.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine, db *gorm.DB) {
		ctx := context.Background()
		if cur, _, err := MigrationVersion(ctx, db, e.driver); err != nil || cur != 0 {
			t.Fatalf("fresh database at version %d, %v", cur, err)
		}
		if err := Migrate(ctx, db, e.driver); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("INSERT INTO signing_keys (kid, alg, private_key_pem, created_at) VALUES ('k', 'EdDSA', 'pem', ?)", time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		before := tables(t, db)
		if err := Migrate(ctx, db, e.driver); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		cur, latest, err := MigrationVersion(ctx, db, e.driver)
		if err != nil || cur != latest || cur < 1 {
			t.Fatalf("version %d of %d, %v", cur, latest, err)
		}
		var n int64
		db.Table("signing_keys").Count(&n)
		if n != 1 || strings.Join(tables(t, db), ",") != strings.Join(before, ",") {
			t.Fatalf("second Migrate changed the database: %d rows, tables %v -> %v", n, before, tables(t, db))
		}
		for _, want := range []string{"users", "sessions", "refresh_tokens", "security_events", "signing_keys"} {
			if !db.Migrator().HasTable(want) {
				t.Errorf("table %s missing", want)
			}
		}
	})
}

func TestMigrateConcurrentlyOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*gorm.DB{open(t, DriverPostgres, url), open(t, DriverPostgres, url), open(t, DriverPostgres, url)}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() { errs[i] = Migrate(context.Background(), db, DriverPostgres) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if cur, latest, err := MigrationVersion(context.Background(), dbs[0], DriverPostgres); err != nil || cur != latest {
		t.Fatalf("version %d of %d, %v", cur, latest, err)
	}
}

func TestMigrateRejectsUnknownDriver(t *testing.T) {
	db := open(t, DriverSQLite, ":memory:")
	if err := Migrate(context.Background(), db, "mysql"); err == nil {
		t.Fatal("want an error")
	}
}

func TestGormLoggerHidesParameters(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	db := open(t, DriverSQLite, ":memory:")
	db.Logger = newGormLogger(log, time.Nanosecond) // everything is "slow"
	const secret = "argon2id-hash-secret"
	if err := db.Exec("CREATE TABLE s (v TEXT)").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO s (v) VALUES (?)", secret).Error; err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "INSERT INTO s") {
		t.Fatalf("slow query not logged: %q", out)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("log shows a parameter value: %q", out)
	}
}

func TestModuleOpensMigratesAndCloses(t *testing.T) {
	var db *gorm.DB
	cfg := config.Config{Database: config.Database{
		URL: "sqlite::memory:", Driver: DriverSQLite, DSN: ":memory:", MigrateOnStart: true,
	}}
	app := fxtest.New(t,
		fx.Supply(cfg, slog.New(slog.DiscardHandler)),
		Module(),
		fx.Populate(&db),
	)
	app.RequireStart()
	if !db.Migrator().HasTable("users") {
		t.Error("MigrateOnStart did not migrate")
	}
	app.RequireStop()
	if err := Ping(context.Background(), db); err == nil {
		t.Error("pool still open after stop")
	}
}

// Issue 10 item 9: the SQLite file (and its WAL) are owner-only, new or
// existing.
func TestSQLiteFileIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(dir, "gatehouse.db")
	db := open(t, DriverSQLite, file)
	if err := db.Exec("CREATE TABLE t (x INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{file, file + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(name), perm)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %o, want 700", fi.Mode().Perm())
	}
	// A file left readable by an older version is narrowed.
	old := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, DriverSQLite, old)
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o600 {
		t.Errorf("existing file mode %o, want 600", fi.Mode().Perm())
	}
}
