package persistence_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// The suite runs every test on each store: SQLite in a file, SQLite in
// memory, and a real PostgreSQL (skipped only when no binaries exist and
// REQUIRE_POSTGRES is unset). Each test gets a fresh, migrated database.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type engine struct {
	name   string
	driver string
	dsn    func(t *testing.T) string
	// migrated: dsn returns a database already migrated, for a URL through
	// which migrating is not supported (PgBouncer in transaction mode
	// cannot hold the migration's session-level advisory lock).
	migrated bool
}

var engines = []engine{
	{"sqlite-file", database.DriverSQLite, func(t *testing.T) string { return filepath.Join(t.TempDir(), "gatehouse.db") }, false},
	{"sqlite-memory", database.DriverSQLite, func(*testing.T) string { return ":memory:" }, false},
	{"postgres", database.DriverPostgres, func(t *testing.T) string { return pgtest.URL(t) }, false},
	// The same suite through PgBouncer in transaction pooling mode, with the
	// one setting it needs (pgtest.BouncerExecMode in the URL); skipped when
	// pgbouncer is not installed unless REQUIRE_PGBOUNCER is set.
	{"postgres-pgbouncer", database.DriverPostgres, pooledURL, true},
}

// pooledURL migrates a new PostgreSQL database directly, as an operator
// runs `gatehouse migrate` against the primary, and returns its URL through
// a PgBouncer of the test's own.
func pooledURL(t *testing.T) string {
	direct := pgtest.URL(t)
	db, err := database.Open(database.Config{Driver: database.DriverPostgres, DSN: direct, MaxOpenConns: 2}, nil)
	if err != nil {
		t.Fatalf("open %s: %v", direct, err)
	}
	defer func() { _ = database.Close(db) }()
	if err := database.Migrate(context.Background(), db, database.DriverPostgres); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pgtest.Pooled(t, direct)
}

// env is one store under test.
type env struct {
	db       *gorm.DB
	postgres bool
	tx       *persistence.Transactor
	users    *persistence.UserRepository
	sessions *persistence.SessionStore
	audit    *persistence.AuditLog
	keys     *persistence.KeyStore
}

func openEnv(t *testing.T, e engine) *env {
	t.Helper()
	db, err := database.Open(database.Config{Driver: e.driver, DSN: e.dsn(t), MaxOpenConns: 40, MaxIdleConns: 40}, nil)
	if err != nil {
		t.Fatalf("open %s: %v", e.name, err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	if !e.migrated {
		if err := database.Migrate(context.Background(), db, e.driver); err != nil {
			t.Fatalf("migrate %s: %v", e.name, err)
		}
	}
	return &env{
		db:       db,
		postgres: e.driver == database.DriverPostgres,
		tx:       persistence.NewTransactor(db),
		users:    persistence.NewUserRepository(db),
		sessions: persistence.NewSessionStore(db),
		audit:    persistence.NewAuditLog(db),
		keys:     persistence.NewKeyStore(db, nil),
	}
}

// forEachStore runs fn as a parallel subtest on every engine.
func forEachStore(t *testing.T, fn func(t *testing.T, s *env)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, openEnv(t, e))
		})
	}
}

// base is a fixed instant with nanoseconds, in a non-UTC zone, to check
// that stores keep UTC at microsecond precision.
var base = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))

// norm is what a store gives back for t.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func normUser(u user.User) user.User {
	u.CreatedAt, u.UpdatedAt = norm(u.CreatedAt), norm(u.UpdatedAt)
	return u
}

func normSession(s session.Session) session.Session {
	s.CreatedAt, s.LastUsedAt, s.AuthTime = norm(s.CreatedAt), norm(s.LastUsedAt), norm(s.AuthTime)
	s.IdleExpiresAt, s.AbsoluteExpiresAt, s.RevokedAt = norm(s.IdleExpiresAt), norm(s.AbsoluteExpiresAt), norm(s.RevokedAt)
	s.RotatedAt = norm(s.RotatedAt)
	return s
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func newUser(email string) user.User {
	return user.User{
		ID: id.New(), Email: email, Name: "Ada", Roles: []string{user.RoleUser},
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		// Not the default, so every read shows it came from the row.
		Locale:    "de",
		CreatedAt: base, UpdatedAt: base,
	}
}

func mustCreateUser(t *testing.T, s *env, email string) user.User {
	t.Helper()
	u := newUser(email)
	if err := s.users.Create(context.Background(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

var policy = session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

var codec = func() *session.RefreshCodec {
	c, err := session.NewRefreshCodec(make([]byte, session.RefreshKeyBytes))
	if err != nil {
		panic(err)
	}
	return c
}()

// mustStartSession stores a session of u started at now, with its first
// token, and returns it with that token.
func mustStartSession(t *testing.T, s *env, u user.User, now time.Time) (session.Session, string) {
	t.Helper()
	sess := policy.Start(id.New(), u.ID, now, "test-agent", "192.0.2.1")
	raw, hash, err := codec.Issue(sess.ID, sess.Generation)
	if err != nil {
		t.Fatal(err)
	}
	sess.TokenHash = hash
	if err := s.sessions.Create(context.Background(), sess); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return sess, raw
}

// save writes sess's state through the update function.
func save(t *testing.T, s *env, sess session.Session) {
	t.Helper()
	err := s.sessions.Update(context.Background(), sess.ID, func(cur *session.Session) error {
		*cur = sess
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// warmPool opens n connections up front on PostgreSQL, so the goroutines
// of a race test start their transactions together instead of one by one
// as connections get established.
func warmPool(t *testing.T, s *env, n int) {
	t.Helper()
	if !s.postgres {
		return
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := s.db.Exec("SELECT pg_sleep(0.05)").Error; err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func count(t *testing.T, s *env, table string) int64 {
	t.Helper()
	var n int64
	if err := s.db.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// claimEachOnce has six claimers (as many instances) call claim at once
// until it returns nothing, and fails unless, together, they claimed total
// distinct items (named by idOf), none of them twice.
func claimEachOnce[T any](t *testing.T, s *env, total int, claim func() ([]T, error), idOf func(T) string) {
	t.Helper()
	warmPool(t, s, 6)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				got, err := claim()
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[idOf(c)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("claimed %d distinct items, want %d", len(seen), total)
	}
	for item, n := range seen {
		if n != 1 {
			t.Fatalf("%s claimed %d times", item, n)
		}
	}
}

// oneWins has n callers run try at once, each in its own transaction, and
// fails unless exactly one succeeds and every other gets refused: the
// single use of a code, link, state or step.
func oneWins(t *testing.T, s *env, n int, refused error, try func(ctx context.Context) error) {
	t.Helper()
	warmPool(t, s, n)
	var wins, refusals atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.tx.WithinTx(context.Background(), try)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, refused):
				refusals.Add(1)
			default:
				t.Errorf("concurrent try: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || int(refusals.Load()) != n-1 {
		t.Fatalf("%d of %d concurrent tries won, %d were refused; want 1 and %d", wins.Load(), n, refusals.Load(), n-1)
	}
}
