package scale

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// blocksWrites are the PostgreSQL table lock modes that conflict with the
// ROW EXCLUSIVE lock every INSERT, UPDATE and DELETE takes: while one is
// held on a table, writes to it wait (and, for ACCESS EXCLUSIVE, reads
// too). CREATE INDEX without CONCURRENTLY takes SHARE; most ALTER TABLE
// forms take ACCESS EXCLUSIVE.
var blocksWrites = map[string]bool{
	"ShareLock": true, "ShareRowExclusiveLock": true, "ExclusiveLock": true, "AccessExclusiveLock": true,
}

// BlocksWrites reports whether a pg_locks mode stops writes to its table.
func BlocksWrites(mode string) bool { return blocksWrites[mode] }

// LockHold is the longest one lock mode was seen held on one table.
type LockHold struct {
	Table string
	Mode  string
	// Held is the longest unbroken run of polls that saw it granted.
	Held time.Duration
}

// LockMonitor polls pg_locks from a connection of its own and records, for
// every table of the database and every lock mode, the longest time it was
// held by any other backend. Polling every few milliseconds sees every
// hold longer than the interval; a shorter one may be missed, which is
// below anything it is asked about.
type LockMonitor struct {
	conn     *pgx.Conn
	interval time.Duration

	mu      sync.Mutex
	holds   map[[2]string]time.Duration
	seen    map[[2]string]time.Time // when the current run of sightings began
	stop    chan struct{}
	done    chan struct{}
	pollErr error
}

// NewLockMonitor connects to url; Start and Stop bracket what it watches.
func NewLockMonitor(ctx context.Context, url string, interval time.Duration) (*LockMonitor, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &LockMonitor{conn: conn, interval: interval}, nil
}

// Close closes the monitor's connection.
func (m *LockMonitor) Close(ctx context.Context) error { return m.conn.Close(ctx) }

// locksSQL lists the granted table locks other backends hold in this
// database, by table name.
const locksSQL = `SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
AND c.relkind IN ('r', 'p')`

// Start begins polling.
func (m *LockMonitor) Start(ctx context.Context) {
	m.holds, m.seen = map[[2]string]time.Duration{}, map[[2]string]time.Time{}
	m.stop, m.done, m.pollErr = make(chan struct{}), make(chan struct{}), nil
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			if err := m.poll(ctx); err != nil {
				m.mu.Lock()
				m.pollErr = err
				m.mu.Unlock()
				return
			}
			select {
			case <-m.stop:
				_ = m.poll(ctx)
				return
			case <-t.C:
			}
		}
	}()
}

func (m *LockMonitor) poll(ctx context.Context) error {
	rows, err := m.conn.Query(ctx, locksSQL)
	if err != nil {
		return err
	}
	now := time.Now()
	held := map[[2]string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return err
		}
		held[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range held {
		if _, ok := m.seen[k]; !ok {
			m.seen[k] = now
		}
		m.holds[k] = max(m.holds[k], now.Sub(m.seen[k]))
	}
	for k := range m.seen {
		if !held[k] {
			delete(m.seen, k)
		}
	}
	return nil
}

// Stop ends polling and returns every lock seen, longest first.
func (m *LockMonitor) Stop() ([]LockHold, error) {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LockHold, 0, len(m.holds))
	for k, d := range m.holds {
		out = append(out, LockHold{Table: k[0], Mode: k[1], Held: d})
	}
	slices.SortFunc(out, func(a, b LockHold) int {
		if a.Held != b.Held {
			return int(b.Held - a.Held)
		}
		return strings.Compare(a.Table+a.Mode, b.Table+b.Mode)
	})
	return out, m.pollErr
}

// FormatHolds prints holds compactly ("users AccessExclusiveLock 12ms"),
// the write-blocking ones of the named tables first.
func FormatHolds(holds []LockHold, tables ...string) string {
	var parts []string
	for _, h := range holds {
		if !slices.Contains(tables, h.Table) || !BlocksWrites(h.Mode) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", h.Table, strings.TrimSuffix(h.Mode, "Lock"), h.Held.Round(time.Millisecond)))
	}
	if len(parts) == 0 {
		return "no write-blocking lock on " + strings.Join(tables, ", ")
	}
	return strings.Join(parts, "; ")
}
