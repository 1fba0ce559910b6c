// Package scale builds and measures Gatehouse at the size a team reaches
// after years: a million accounts, several million sessions, a year of
// security events, a busy outbox. Seed fills a database (PostgreSQL through
// COPY, SQLite through multi-row inserts) with rows derived from a seed, so
// the same options always give the same database; LockMonitor watches the
// locks a migration takes on it.
//
// Seeding writes rows the way the service's migrations shaped the tables
// at whatever version the database is at, so a database migrated only
// partway (for the migration lock test) gets the columns and tables that
// version has, and the newer ones are left to the migrations under test.
package scale

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/adapter/password"
)

// AdminEmail is the seeded administrator's address; its password is the
// fixture's password, like every seeded account's.
const AdminEmail = "admin@scale.example.com"

// Options shape a fixture. Zero values take the defaults of Defaults.
type Options struct {
	// Users is the number of accounts besides the administrator.
	Users int
	// SessionsPerUser and EventsPerUser are averages (each account gets
	// from 1 to twice the average less one).
	SessionsPerUser int
	EventsPerUser   int
	// TOTPShare and PasskeyShare are the shares of accounts with a
	// confirmed TOTP factor (and ten recovery codes) and with a passkey.
	TOTPShare    float64
	PasskeyShare float64
	// OutboxPending messages are due now; OutboxFailed gave up long ago
	// and stay for operators: rows the sender's claim must not read.
	OutboxPending int
	OutboxFailed  int
	// Seed makes the rows; the same seed, options and Now give the same
	// database.
	Seed uint64
	// Password is every seeded account's password, hashed once with
	// Argon2 (the service's cost, so logins do not rehash).
	Password string
	Argon2   password.Params
	// Now is the instant the ages count back from (default: the start).
	Now time.Time
	// Log, when set, reports progress.
	Log func(format string, args ...any)
}

// Defaults fills the zero fields of o: three sessions and four events per
// account, 5 % with TOTP, 3 % with a passkey, 100 messages due and a tenth
// of the accounts (at most 100,000) in failed mail.
func (o Options) Defaults() Options {
	if o.SessionsPerUser == 0 {
		o.SessionsPerUser = 3
	}
	if o.EventsPerUser == 0 {
		o.EventsPerUser = 4
	}
	if o.TOTPShare == 0 {
		o.TOTPShare = 0.05
	}
	if o.PasskeyShare == 0 {
		o.PasskeyShare = 0.03
	}
	if o.OutboxPending == 0 {
		o.OutboxPending = 100
	}
	if o.OutboxFailed == 0 {
		o.OutboxFailed = min(o.Users/10, 100_000)
	}
	if o.Seed == 0 {
		o.Seed = 25
	}
	if o.Password == "" {
		o.Password = DefaultPassword
	}
	if o.Argon2 == (password.Params{}) {
		o.Argon2 = password.DefaultParams()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Microsecond)
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

// DefaultPassword is the fixture's password unless Options say otherwise:
// the load tool's default, so its scenarios log seeded accounts in.
const DefaultPassword = "bench-Passw0rd-42"

// Stats is what a Seed wrote and how long it took.
type Stats struct {
	Rows     map[string]int64
	Elapsed  time.Duration
	Analyze  time.Duration
	Sessions SessionCounts
}

// SessionCounts classifies the seeded sessions.
type SessionCounts struct {
	Active    int64 `json:"active"`
	Purgeable int64 `json:"purgeable"`
	Total     int64 `json:"total"`
}

// Target is a database to seed: DATABASE_URL's forms.
type Target struct {
	Driver string // "postgres" or "sqlite"
	DSN    string // the postgres URL, or the SQLite path
}

// ParseTarget reads a DATABASE_URL: postgres://... or sqlite://PATH.
func ParseTarget(url string) (Target, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Target{Driver: "postgres", DSN: url}, nil
	case strings.HasPrefix(url, "sqlite://"):
		p := strings.TrimPrefix(url, "sqlite://")
		if p == "" || strings.Contains(p, ":memory:") {
			return Target{}, errors.New("a SQLite fixture needs a file (sqlite://PATH)")
		}
		return Target{Driver: "sqlite", DSN: p}, nil
	}
	return Target{}, errors.New("database URL must be postgres://... or sqlite://PATH")
}

// writer is one engine's bulk path: which columns a table has at the
// database's version (none: no such table yet), and writing rows into it.
type writer interface {
	columns(ctx context.Context, table string) ([]string, error)
	// write inserts the rows next yields (false: no more) into table's
	// cols, returning how many it wrote.
	write(ctx context.Context, table string, cols []string, next func() ([]any, bool)) (int64, error)
	// empty reports whether table has no rows.
	empty(ctx context.Context, table string) (bool, error)
	// parallel is how many tables may be written at once.
	parallel() int
	finish(ctx context.Context) (time.Duration, error)
	close()
}

// Seed fills the database at url, whose schema must exist (migrated to
// any version) and whose users table must be empty, and returns what it
// wrote with the manifest the load tool reads.
func Seed(ctx context.Context, url string, o Options) (*Manifest, Stats, error) {
	o = o.Defaults()
	if o.Users < 1 {
		return nil, Stats{}, errors.New("seed: at least one account")
	}
	t, err := ParseTarget(url)
	if err != nil {
		return nil, Stats{}, err
	}
	start := time.Now()
	hasher, err := password.NewHasher(o.Argon2, 1)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("seed: %w", err)
	}
	hash, err := hasher.Hash(ctx, o.Password)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("seed: hash: %w", err)
	}
	var w writer
	switch t.Driver {
	case "postgres":
		w, err = openPG(ctx, t.DSN)
	default:
		w, err = openSQLite(ctx, t.DSN)
	}
	if err != nil {
		return nil, Stats{}, err
	}
	defer w.close()
	if ok, err := w.empty(ctx, "users"); err != nil {
		return nil, Stats{}, fmt.Errorf("seed: %w (is the database migrated?)", err)
	} else if !ok {
		return nil, Stats{}, errors.New("seed: the users table is not empty: seed a fresh database")
	}
	g := newGen(o, hash)
	st := Stats{Rows: map[string]int64{}}
	if err := seedTables(ctx, w, g, &st); err != nil {
		return nil, st, err
	}
	st.Analyze, err = w.finish(ctx)
	if err != nil {
		return nil, st, err
	}
	st.Elapsed = time.Since(start)
	return g.manifest(t.Driver, st), st, nil
}

// table is one bulk write: its column superset and its rows.
type table struct {
	name string
	cols []string
	// rows calls emit for each row, stopping when emit returns false.
	rows func(emit func([]any) bool)
}

// perAccount makes a table whose rows come from each account in turn (the
// administrator first).
func (g *gen) perAccount(name string, cols []string, rowsOf func(a account, emit func([]any) bool) bool) table {
	return table{name: name, cols: cols, rows: func(emit func([]any) bool) {
		for i := adminIndex; i < g.o.Users; i++ {
			if !rowsOf(g.account(i), emit) {
				return
			}
		}
	}}
}

func seedTables(ctx context.Context, w writer, g *gen, st *Stats) error {
	sessCols, err := w.columns(ctx, "sessions")
	if err != nil {
		return err
	}
	// Before 00004 a session's token hash lived in refresh_tokens.
	legacyTokens := !contains(sessCols, "token_hash")
	users := g.perAccount("users", userColumns, func(a account, emit func([]any) bool) bool {
		return emit(g.userRow(a))
	})
	counts := &st.Sessions
	sessions := g.perAccount("sessions", sessionColumns, func(a account, emit func([]any) bool) bool {
		for _, s := range g.sessions(a) {
			counts.Total++
			if s.active {
				counts.Active++
			}
			if s.purgeable {
				counts.Purgeable++
			}
			if !emit(sessionRow(a, s)) {
				return false
			}
		}
		return true
	})
	tokens := g.perAccount("refresh_tokens", refreshTokenColumns, func(a account, emit func([]any) bool) bool {
		for _, s := range g.sessions(a) {
			if !emit(refreshTokenRow(s)) {
				return false
			}
		}
		return true
	})
	events := g.perAccount("security_events", eventColumns, func(a account, emit func([]any) bool) bool {
		for _, e := range g.events(a, g.sessions(a)) {
			if !emit(e) {
				return false
			}
		}
		return true
	})
	totp := g.perAccount("totp_factors", totpColumns, func(a account, emit func([]any) bool) bool {
		t, _, _ := g.factors(a)
		return t == nil || emit(t)
	})
	codes := g.perAccount("recovery_codes", recoveryCodeColumns, func(a account, emit func([]any) bool) bool {
		_, cs, _ := g.factors(a)
		for _, c := range cs {
			if !emit(c) {
				return false
			}
		}
		return true
	})
	passkeys := g.perAccount("passkeys", passkeyColumns, func(a account, emit func([]any) bool) bool {
		_, _, p := g.factors(a)
		return p == nil || emit(p)
	})
	outbox := table{name: "mail_outbox", cols: outboxColumns, rows: func(emit func([]any) bool) {
		for k := range g.o.OutboxPending + g.o.OutboxFailed {
			if !emit(g.outboxRow(k)) {
				return
			}
		}
	}}

	// Accounts first (everything refers to them), then the rest, as many
	// at once as the engine takes; the legacy token rows refer to sessions.
	if err := writeTables(ctx, w, g, st, []table{users}); err != nil {
		return err
	}
	rest := []table{sessions, events, totp, codes, passkeys, outbox}
	if err := writeTables(ctx, w, g, st, rest); err != nil {
		return err
	}
	if legacyTokens {
		if err := writeTables(ctx, w, g, st, []table{tokens}); err != nil {
			return err
		}
	}
	return nil
}

// writeTables writes ts, up to w.parallel() at once; a table the database
// does not have yet is skipped, and of the others only the columns the
// database has are written.
func writeTables(ctx context.Context, w writer, g *gen, st *Stats, ts []table) error {
	type result struct {
		name string
		n    int64
		err  error
	}
	sem := make(chan struct{}, max(w.parallel(), 1))
	results := make(chan result, len(ts))
	for _, t := range ts {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := writeTable(ctx, w, g, t)
			results <- result{t.name, n, err}
		}()
	}
	var errs []error
	for range ts {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("seed %s: %w", r.name, r.err))
			continue
		}
		if r.n > 0 {
			st.Rows[r.name] = r.n
		}
	}
	return errors.Join(errs...)
}

func writeTable(ctx context.Context, w writer, g *gen, t table) (int64, error) {
	have, err := w.columns(ctx, t.name)
	if err != nil || len(have) == 0 {
		return 0, err
	}
	var keep []int
	var cols []string
	for i, c := range t.cols {
		if contains(have, c) {
			keep = append(keep, i)
			cols = append(cols, c)
		}
	}
	began := time.Now()
	rows := make(chan []any, 1024)
	stop := make(chan struct{})
	go func() {
		defer close(rows)
		t.rows(func(r []any) bool {
			out := make([]any, len(keep))
			for j, i := range keep {
				out[j] = r[i]
			}
			select {
			case rows <- out:
				return true
			case <-stop:
				return false
			}
		})
	}()
	n, err := w.write(ctx, t.name, cols, func() ([]any, bool) {
		r, ok := <-rows
		return r, ok
	})
	close(stop)
	for range rows {
		// Drain so the generator ends.
	}
	if err == nil {
		g.o.Log("seeded %s: %d rows in %s", t.name, n, time.Since(began).Round(time.Millisecond))
	}
	return n, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
