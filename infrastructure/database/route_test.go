package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
)

// sqliteKinds are the two SQLite setups: a file (writer plus readers) and
// memory (one connection).
func sqliteKinds() []engine {
	return []engine{
		{"file", DriverSQLite, func(t *testing.T) string { return filepath.Join(t.TempDir(), "gatehouse.db") }},
		{"memory", DriverSQLite, func(*testing.T) string { return ":memory:" }},
	}
}

func forEachSQLite(t *testing.T, fn func(t *testing.T, e engine, db *gorm.DB)) {
	for _, e := range sqliteKinds() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e, open(t, e.driver, e.dsn(t)))
		})
	}
}

func mustExec(t *testing.T, db *gorm.DB, q string, args ...any) {
	t.Helper()
	if err := db.Exec(q, args...).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// queryOnly reports the query_only pragma of the connection that runs a
// plain SELECT on db: 1 on a reader, 0 on the writer.
func queryOnly(t *testing.T, db *gorm.DB) int {
	t.Helper()
	var v int
	if err := db.Raw("SELECT query_only FROM pragma_query_only").Scan(&v).Error; err != nil {
		t.Fatalf("query_only: %v", err)
	}
	return v
}

func TestSQLiteRoutesReadsToReadersAndTheRestToTheWriter(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, e engine, db *gorm.DB) {
		mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
		want := 0
		if e.name == "file" {
			want = 1
		}
		if got := queryOnly(t, db); got != want {
			t.Errorf("a plain SELECT ran with query_only=%d, want %d", got, want)
		}
		// Inside a write transaction everything runs on the writer.
		err := db.Transaction(func(tx *gorm.DB) error {
			if got := queryOnly(t, tx); got != 0 {
				t.Errorf("a SELECT in a transaction ran on a reader")
			}
			return tx.Exec("INSERT INTO t (v) VALUES ('in tx')").Error
		})
		if err != nil {
			t.Fatal(err)
		}
		// Writes that return rows go through Query, and must reach the writer.
		var id int64
		if err := db.Raw("INSERT INTO t (v) VALUES (?) RETURNING id", "returning").Scan(&id).Error; err != nil || id != 2 {
			t.Fatalf("INSERT ... RETURNING: id %d, %v", id, err)
		}
		var n int
		err = db.Raw("WITH x(v) AS (SELECT 'cte') INSERT INTO t (v) SELECT v FROM x RETURNING id").Scan(&n).Error
		if err != nil || n != 3 {
			t.Fatalf("WITH ... INSERT: id %d, %v", n, err)
		}
		if err := db.Raw("/* c */ -- c\n  select count(*) FROM t").Scan(&n).Error; err != nil || n != 3 {
			t.Fatalf("count after three writes = %d, %v", n, err)
		}
		// A read-only transaction takes a reader on a file.
		err = db.Transaction(func(tx *gorm.DB) error {
			if got := queryOnly(t, tx); got != want {
				t.Errorf("read-only transaction ran with query_only=%d, want %d", got, want)
			}
			return nil
		}, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestSQLiteReadersRunBesideAnOpenWriteTransaction(t *testing.T) {
	db := open(t, DriverSQLite, filepath.Join(t.TempDir(), "gatehouse.db"))
	mustExec(t, db, "CREATE TABLE t (v INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")

	inTx, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("INSERT INTO t VALUES (2)").Error; err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	// With one connection these reads would wait for the transaction, which
	// waits for them: the deadline turns that deadlock into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var n int
			if err := db.WithContext(ctx).Raw("SELECT count(*) FROM t").Scan(&n).Error; err != nil {
				t.Errorf("read during a write transaction: %v", err)
			} else if n != 1 {
				t.Errorf("read during a write transaction saw %d rows, want 1 (the committed one)", n)
			}
		})
	}
	wg.Wait()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Raw("SELECT count(*) FROM t").Scan(&n).Error; err != nil || n != 2 {
		t.Fatalf("after commit: %d rows, %v; want 2", n, err)
	}
}

func TestSQLiteReadAfterCommittedWriteSeesIt(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, _ engine, db *gorm.DB) {
		mustExec(t, db, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				key := fmt.Sprint("k", w)
				for i := range 40 {
					// Alternate autocommit writes and transactions, each
					// followed at once by a plain read on whatever
					// connection the pool hands out.
					var err error
					if i%2 == 0 {
						err = db.Exec("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", key, i).Error
					} else {
						err = db.Transaction(func(tx *gorm.DB) error {
							return tx.Exec("UPDATE kv SET v = ? WHERE k = ?", i, key).Error
						})
					}
					if err != nil {
						t.Errorf("write %s=%d: %v", key, i, err)
						return
					}
					var v int
					if err := db.Raw("SELECT v FROM kv WHERE k = ?", key).Scan(&v).Error; err != nil || v != i {
						t.Errorf("read of %s after writing %d: got %d, %v", key, i, v, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestSQLiteWriteTransactionsSerialize(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, _ engine, db *gorm.DB) {
		mustExec(t, db, "CREATE TABLE counter (v INTEGER NOT NULL)")
		mustExec(t, db, "INSERT INTO counter VALUES (0)")
		const writers = 50
		stop := make(chan struct{})
		var readers sync.WaitGroup
		// Readers keep the read pool busy all along: they must neither
		// block the writers nor make them fail with SQLITE_BUSY.
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					var v int
					if err := db.Raw("SELECT v FROM counter").Scan(&v).Error; err != nil {
						t.Errorf("read: %v", err)
						return
					}
				}
			})
		}
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				// Read, decide in Go, write: lost updates unless whole
				// transactions run one at a time, as rotation needs.
				err := db.Transaction(func(tx *gorm.DB) error {
					var v int
					if err := tx.Raw("SELECT v FROM counter").Scan(&v).Error; err != nil {
						return err
					}
					runtime.Gosched()
					return tx.Exec("UPDATE counter SET v = ?", v+1).Error
				})
				if err != nil {
					t.Errorf("transaction: %v", err)
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		var v int
		if err := db.Raw("SELECT v FROM counter").Scan(&v).Error; err != nil || v != writers {
			t.Fatalf("counter = %d, %v; want %d (a lost update means two write transactions overlapped)", v, err, writers)
		}
	})
}

func TestSQLiteWithoutWALKeepsOneConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db := open(t, DriverSQLite, path+"?_pragma=journal_mode(DELETE)")
	if _, ok := db.ConnPool.(*routedPool); ok {
		t.Fatal("readers opened on a rollback-journal database, where they would block the writer")
	}
	var mode string
	if err := db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil || mode != "delete" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	mustExec(t, db, "CREATE TABLE t (v INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	if got := queryOnly(t, db); got != 0 {
		t.Errorf("query_only = %d on the only connection", got)
	}
}

func TestSQLiteCloseClosesReaders(t *testing.T) {
	db, err := Open(Config{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "gatehouse.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := queryOnly(t, db); got != 1 {
		t.Fatalf("no reader in use (query_only=%d)", got)
	}
	if err := Close(db); err != nil {
		t.Fatal(err)
	}
	var n int
	err = db.Raw("SELECT 1").Scan(&n).Error
	if !errors.Is(err, sql.ErrConnDone) && (err == nil || err.Error() != "sql: database is closed") {
		t.Fatalf("read after Close: %v; want the closed-database error", err)
	}
}

func TestSQLiteReaders(t *testing.T) {
	limit := 4 * runtime.GOMAXPROCS(0)
	for in, want := range map[int]int{0: limit, -1: limit, 1: 1, 3: 3, limit + 1: limit, 1000: limit} {
		if got := sqliteReaders(in); got != want {
			t.Errorf("sqliteReaders(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                             true,
		"select * from t":                      true,
		"  \n\tSeLeCt x":                       true,
		"SELECT":                               true,
		"SELECT\n1":                            true,
		"-- note\nSELECT 1":                    true,
		"/* a */ /* b */SELECT 1":              true,
		"SELECTED":                             false,
		"select_1()":                           false,
		"INSERT INTO t VALUES (1)":             false,
		"UPDATE t SET v = 1 RETURNING v":       false,
		"DELETE FROM t":                        false,
		"WITH x AS (SELECT 1) SELECT * FROM x": false,
		"PRAGMA journal_mode":                  false,
		"-- unterminated":                      false,
		"/* unterminated SELECT 1":             false,
		"(SELECT 1)":                           false,
		"":                                     false,
		"BEGIN":                                false,
	} {
		if got := readOnly(q); got != want {
			t.Errorf("readOnly(%q) = %v, want %v", q, got, want)
		}
	}
}
