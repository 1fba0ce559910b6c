// Package database opens the service's database (PostgreSQL or SQLite)
// through GORM, sizes its pool, applies the embedded migrations and answers
// readiness pings. It knows nothing of the business: repositories live in
// adapter/persistence.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// The supported drivers.
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Defaults applied to zero pool sizes (PostgreSQL only).
const (
	DefaultMaxOpenConns = 20
	DefaultMaxIdleConns = 20
	// connMaxIdleTime closes connections idle this long, so a burst does not
	// pin server backends for the lifetime of the pool.
	connMaxIdleTime = 5 * time.Minute
	// connectTimeout is added to PostgreSQL DSNs that set none, so an
	// unreachable database fails fast instead of hanging on the kernel's
	// TCP timeout.
	connectTimeout = "5"
	// pingTimeout bounds Ping when the caller's context has no deadline.
	pingTimeout = 3 * time.Second
	// slowQuery is the threshold above which a query is logged (without its
	// parameter values).
	slowQuery = 200 * time.Millisecond
)

// Config selects and sizes the database.
type Config struct {
	// Driver is "postgres" or "sqlite".
	Driver string
	// DSN is a postgres:// URL (or libpq key=value string), or for SQLite a
	// file path, optionally with a driver query string, or ":memory:".
	DSN string
	// MaxOpenConns and MaxIdleConns size the PostgreSQL pool; zero means
	// DefaultMaxOpenConns and DefaultMaxIdleConns. On a SQLite file,
	// MaxOpenConns caps the read-only connections (see sqliteReaders); the
	// writer is always one connection.
	MaxOpenConns int
	MaxIdleConns int
	// ConnMaxLifetime recycles PostgreSQL connections after this long; zero
	// means never (as in database/sql and DB_CONN_MAX_LIFETIME).
	ConnMaxLifetime time.Duration
}

// Open opens and pings the database described by cfg. Errors and log lines
// never contain the DSN, which may hold a password.
//
// PostgreSQL uses pgx with the extended protocol: pgx prepares each
// statement once per connection and caches it, so the hot queries run as
// prepared statements without GORM's own statement cache on top.
//
// SQLite gets WAL, a 5 s busy timeout, foreign keys and synchronous=NORMAL,
// one connection for transactions and writes, and for a file a pool of
// read-only connections for plain reads: see openSQLite.
func Open(cfg Config, log *slog.Logger) (*gorm.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gcfg := &gorm.Config{
		Logger: newGormLogger(log, slowQuery),
		// Repositories run their own transactions (Transactor); a
		// transaction around every single statement would only add round
		// trips.
		SkipDefaultTransaction: true,
		// Repositories translate driver errors themselves: they must tell
		// which constraint failed, which GORM's translation forgets on
		// SQLite.
		TranslateError: false,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	switch cfg.Driver {
	case DriverPostgres:
		return openPostgres(cfg, gcfg, log)
	case DriverSQLite:
		return openSQLite(cfg, gcfg, log)
	default:
		return nil, fmt.Errorf("database: unsupported driver %q (want %q or %q)", cfg.Driver, DriverPostgres, DriverSQLite)
	}
}

func openPostgres(cfg Config, gcfg *gorm.Config, log *slog.Logger) (*gorm.DB, error) {
	dsn, err := withConnectTimeout(cfg.DSN)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: dsn, PreferSimpleProtocol: false}), gcfg)
	if err != nil {
		return nil, fmt.Errorf("database: open postgres: %w", redactErr(err, cfg.DSN))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database: open postgres: %w", err)
	}
	sqlDB.SetMaxOpenConns(orDefault(cfg.MaxOpenConns, DefaultMaxOpenConns))
	sqlDB.SetMaxIdleConns(orDefault(cfg.MaxIdleConns, DefaultMaxIdleConns))
	sqlDB.SetConnMaxLifetime(max(cfg.ConnMaxLifetime, 0))
	sqlDB.SetConnMaxIdleTime(connMaxIdleTime)
	log.Info("database opened", slog.String("driver", DriverPostgres), slog.String("target", describeDSN(cfg.DSN)))
	return db, nil
}

// openSQLite opens one SQLite database.
//
// A file database gets two pools on it (see routedPool): one writer
// connection, which runs every transaction and every write, and a pool of
// read-only connections for plain SELECTs. WAL lets those readers run
// beside the writer and each other, each on the last committed state, so
// authenticated requests no longer queue behind a refresh.
//
// Why exactly one writer: SQLite allows one writer at a time anyway, and
// with one write connection every transaction, including refresh-token
// rotation, runs alone from BEGIN to COMMIT. That is how rotation gets the
// write lock on SQLite (there is no SELECT ... FOR UPDATE): a request
// waiting for the writer sees the winner's committed rotation. It also rules
// out SQLITE_BUSY between our own writers: they queue on the pool instead.
//
// Transactions begin IMMEDIATE, so a second process on the same file (an
// operator's migrate command) waits on busy_timeout at BEGIN instead of
// failing when a read transaction would upgrade to a write.
//
// ":memory:" (or mode=memory) is one database per connection, so it keeps a
// single connection for everything; so does a file whose journal mode an
// operator's query turned away from WAL, where readers would block the
// writer.
func openSQLite(cfg Config, gcfg *gorm.Config, log *slog.Logger) (*gorm.DB, error) {
	path, query, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(cfg.DSN, "sqlite://"), "sqlite:"), "?")
	if path == "" {
		return nil, errors.New("database: empty sqlite path (use a file path or :memory:)")
	}
	memory := path == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory {
		if err := ownerOnly(strings.TrimPrefix(path, "file:")); err != nil {
			return nil, err
		}
	}
	params := url.Values{}
	params.Add("_pragma", "busy_timeout(5000)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "foreign_keys(ON)")
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Set("_txlock", "immediate")
	writer, err := openSQLitePool(withQuery(path, params, query))
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	// Never recycle the connection: for ":memory:" it is the database.
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	// The writer's first connection has set WAL (it persists in the file)
	// before any reader opens; ask what the file ended up in.
	var journal string
	if err := writer.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	var pool gorm.ConnPool = writer
	readers := 0
	if !memory && strings.EqualFold(journal, "wal") {
		rparams := url.Values{}
		rparams.Add("_pragma", "busy_timeout(5000)")
		rparams.Add("_pragma", "foreign_keys(ON)")
		// query_only comes after the operator's parameters: a write that
		// ever reached a reader fails loudly instead of racing the writer.
		rdsn := withQuery(path, rparams, query) + "&_pragma=query_only(1)"
		rd, err := openSQLitePool(rdsn)
		if err != nil {
			_ = writer.Close()
			return nil, err
		}
		readers = sqliteReaders(cfg.MaxOpenConns)
		rd.SetMaxOpenConns(readers)
		rd.SetMaxIdleConns(readers)
		rd.SetConnMaxLifetime(max(cfg.ConnMaxLifetime, 0))
		rd.SetConnMaxIdleTime(connMaxIdleTime)
		pool = &routedPool{writer: writer, readers: rd}
	}
	db, err := gorm.Open(&sqlite.Dialector{DSN: path, Conn: pool}, gcfg)
	if err != nil {
		_ = closePool(pool)
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	log.Info("database opened", slog.String("driver", DriverSQLite), slog.String("target", path),
		slog.String("journal_mode", journal), slog.Int("readers", readers))
	return db, nil
}

// withQuery builds a driver DSN: path, our parameters, then the operator's
// query, which comes last so its pragmas win.
func withQuery(path string, params url.Values, query string) string {
	dsn := path + "?" + params.Encode()
	if query != "" {
		dsn += "&" + query
	}
	return dsn
}

// openSQLitePool opens a database/sql pool on dsn and makes its first
// connection, so a bad path or pragma fails here, once.
func openSQLitePool(dsn string) (*sql.DB, error) {
	db, err := sql.Open(sqlite.DriverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	if err := db.Ping(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	return db, nil
}

// ownerOnly creates the SQLite file and its directory readable by the
// owner alone (0600, 0700), before SQLite would create the file with the
// umask's usual 0644: it holds password hashes and the signing key. An
// existing file, and its WAL and shared-memory files, are narrowed to 0600;
// an existing directory is left as it is (it may be shared, like ".").
func ownerOnly(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("database: create sqlite directory: %w", err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("database: create sqlite file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("database: create sqlite file: %w", err)
	}
	for _, name := range []string{file, file + "-wal", file + "-shm"} {
		if err := os.Chmod(name, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("database: restrict sqlite file: %w", err)
		}
	}
	return nil
}

// Ping checks that the database answers, within pingTimeout unless ctx has
// an earlier deadline. Readiness probes call it.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("database: ping: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("database: ping: %w", err)
	}
	return nil
}

// Close closes the pool behind db.
func Close(db *gorm.DB) error {
	if p, ok := db.ConnPool.(*routedPool); ok {
		return p.Close()
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// closePool closes a pool Open made, routed or not.
func closePool(p gorm.ConnPool) error {
	if c, ok := p.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// withConnectTimeout adds connect_timeout to a PostgreSQL DSN that has
// none, in URL or key=value form.
func withConnectTimeout(dsn string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Error quotes the URL, password included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return "", fmt.Errorf("database: invalid postgres URL: %v", err)
		}
		q := u.Query()
		if q.Get("connect_timeout") != "" {
			return dsn, nil
		}
		q.Set("connect_timeout", connectTimeout)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	if strings.Contains(dsn, "connect_timeout=") {
		return dsn, nil
	}
	return strings.TrimSpace(dsn + " connect_timeout=" + connectTimeout), nil
}

// describeDSN names the host and database of a PostgreSQL DSN for logs,
// without user or password.
func describeDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "postgres"
	}
	return u.Host + u.Path
}

// redactErr removes the DSN's password from an error text, should a driver
// ever quote it. pgx does not today; this is belt and braces, because
// startup errors are logged.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
