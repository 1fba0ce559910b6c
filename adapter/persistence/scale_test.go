package persistence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// onePostgresConn opens a migrated PostgreSQL database through a pool of
// one connection, so session-level facts (prepared statements, statistics
// of this backend) are the repository's.
func onePostgresConn(t *testing.T) *env {
	t.Helper()
	db, err := database.Open(database.Config{Driver: database.DriverPostgres, DSN: pgtest.URL(t), MaxOpenConns: 1, MaxIdleConns: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	if err := database.Migrate(context.Background(), db, database.DriverPostgres); err != nil {
		t.Fatal(err)
	}
	return &env{db: db, postgres: true, users: persistence.NewUserRepository(db)}
}

func outboxMessage(i int) outbox.Message {
	return outbox.Message{ID: id.New(), Kind: outbox.KindVerifyEmail, To: fmt.Sprintf("due%d@example.com", i), CreatedAt: time.Now()}
}

// TestSearchPlansEveryTerm: on PostgreSQL an admin search is planned with
// its term each time. A prepared statement otherwise settles on a generic
// plan after five runs, which cannot tell a rare term (read the trigram
// indexes) from a common one (read the newest accounts): at a million
// accounts that plan took 1.7 s for a rare term instead of 3 ms.
func TestSearchPlansEveryTerm(t *testing.T) {
	s := onePostgresConn(t)
	ctx := context.Background()
	for i := range 20 {
		mustCreateUser(t, s, fmt.Sprintf("user%02d@example.com", i))
	}
	dir := persistence.NewAdminDirectory(s.db)
	for i := range 12 {
		got, _, err := dir.Search(ctx, fmt.Sprintf("user%02d", i), "", 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("search %d: %d results, %v", i, len(got), err)
		}
	}
	var generic, custom int64
	err := s.db.Raw(`SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements
		WHERE starts_with(statement, 'SELECT * FROM "users" WHERE (email LIKE')`).Row().Scan(&generic, &custom)
	if err != nil {
		t.Fatal(err)
	}
	if generic != 0 || custom < 12 {
		t.Errorf("search statement: %d generic and %d custom plans; want every run planned with its term", generic, custom)
	}
}

// TestOutboxClaimReadsOnlyPendingRows: with 100,000 messages that gave up
// (kept for operators) and others not yet due, the sender's claim reads
// only the pending rows' partial index, never the table, and claims the
// due ones.
func TestOutboxClaimReadsOnlyPendingRows(t *testing.T) {
	s := onePostgresConn(t)
	ctx := context.Background()
	now := time.Now()
	err := s.db.Exec(`INSERT INTO mail_outbox (id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at)
		SELECT gen_random_uuid(), 'password_reset', 'x' || g || '@example.com', 'failed', 30, ?, 'gave up', now()
		FROM generate_series(1, 100000) g`, now.Add(-time.Hour).UnixMilli()).Error
	if err != nil {
		t.Fatal(err)
	}
	ob := persistence.NewMailOutbox(s.db)
	for i, due := range []time.Duration{-time.Minute, -time.Second, 0, time.Hour, 2 * time.Hour} {
		if err := ob.Enqueue(ctx, outboxMessage(i), now.Add(due)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Exec("ANALYZE mail_outbox").Error; err != nil {
		t.Fatal(err)
	}
	// The 3 due claimed, at most one index entry read per pending message.
	claimReadsIndexesOnly(t, s, "mail_outbox", []string{"mail_outbox_claim_idx"}, 3, 5, func() (int, error) {
		got, err := ob.Claim(ctx, now, 2*time.Minute, 10)
		return len(got), err
	})
}

// claimReadsIndexesOnly runs claim, a claim on table, and fails unless it
// claimed want rows without a sequential scan of table, reading at most
// maxEntries entries of the named indexes.
func claimReadsIndexesOnly(t *testing.T, s *env, table string, indexes []string, want int, maxEntries int64, claim func() (int, error)) {
	t.Helper()
	type usage struct{ seq, idxRead int64 }
	read := func() usage {
		t.Helper()
		var u usage
		// Flush this backend's counters, then read them in a new snapshot.
		if err := s.db.Exec("SELECT pg_stat_force_next_flush()").Error; err != nil {
			t.Fatal(err)
		}
		err := s.db.Raw(`SELECT t.seq_scan, coalesce(sum(i.idx_tup_read), 0) FROM pg_stat_user_tables t
			JOIN pg_stat_user_indexes i ON i.relid = t.relid AND i.indexrelname IN ?
			WHERE t.relname = ? GROUP BY t.seq_scan`, indexes, table).Row().Scan(&u.seq, &u.idxRead)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	before := read()
	n, err := claim()
	if err != nil {
		t.Fatal(err)
	}
	after := read()
	if n != want {
		t.Errorf("claimed %d rows of %s, want the %d due", n, table, want)
	}
	if seq, entries := after.seq-before.seq, after.idxRead-before.idxRead; seq != 0 || entries > maxEntries {
		t.Errorf("claim: %d sequential scans of %s, %d index entries read; want none and at most %d", seq, table, entries, maxEntries)
	}
}

// TestPurgesWalkEveryBatch: the session and event purges go through the
// whole table however the rows they delete are spread, batch after batch:
// with batches of 3, every ended session, erasable seal and old event goes
// and everything else stays, on every engine.
func TestPurgesWalkEveryBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		now := base.UTC().Truncate(time.Microsecond)
		u := mustCreateUser(t, s, "walk@example.com")
		keep, gone, sealed := 0, 0, 0
		for i := range 40 {
			sess := session.Session{
				ID: id.New(), UserID: u.ID, CreatedAt: now.Add(-10 * 24 * time.Hour), LastUsedAt: now,
				IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour), AuthTime: now,
				Generation: 2, TokenHash: [32]byte{byte(i + 1)}, Methods: []string{"pwd"},
			}
			switch i % 4 {
			case 0:
				sess.RevokedAt, sess.RevokeReason = now.Add(-48*time.Hour), "logout"
				gone++
			case 1:
				sess.IdleExpiresAt = now.Add(-48 * time.Hour)
				gone++
			case 2:
				sess.RotatedAt, sess.SuccessorSealed, sess.PrevTokenHash = now.Add(-time.Hour), []byte("sealed"), [32]byte{9}
				sealed++
				keep++
			default:
				keep++
			}
			if err := s.sessions.Create(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.sessions.PurgeExpired(ctx, now, 24*time.Hour, 3)
		if err != nil || n != gone {
			t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, gone)
		}
		if n, err := s.sessions.EraseSealed(ctx, now.Add(-time.Minute), 3); err != nil || n != sealed {
			t.Fatalf("EraseSealed = %d, %v; want %d", n, err, sealed)
		}
		var left, stillSealed int64
		s.db.Raw("SELECT count(*) FROM sessions").Scan(&left)
		s.db.Raw("SELECT count(*) FROM sessions WHERE successor_sealed IS NOT NULL").Scan(&stillSealed)
		if int(left) != keep || stillSealed != 0 {
			t.Errorf("after the purge: %d sessions (want %d), %d sealed (want 0)", left, keep, stillSealed)
		}

		for i := range 25 {
			at := now.Add(-time.Duration(400-i*10) * 24 * time.Hour) // 400 to 160 days old
			if i%5 == 0 {
				at = at.Add(-time.Duration(i) * time.Microsecond) // ties and near-ties
			}
			if err := s.audit.Append(ctx, audit.Event{UserID: u.ID, Type: audit.LoginSucceeded, CreatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		cutoff := now.Add(-365 * 24 * time.Hour)
		var old int64
		s.db.Raw("SELECT count(*) FROM security_events WHERE created_at < ?", cutoff).Scan(&old)
		n, err = s.audit.PurgeBefore(ctx, cutoff, 2)
		if err != nil || int64(n) != old || old == 0 {
			t.Fatalf("PurgeBefore = %d, %v; want %d", n, err, old)
		}
		var rest int64
		s.db.Raw("SELECT count(*) FROM security_events").Scan(&rest)
		if rest != 25-old {
			t.Errorf("%d events left, want %d", rest, 25-old)
		}
	})
}

// TestDeepCursorStartsAtItsPlace: a cursor from deep in a list whose rows
// share timestamps starts its page right after the row it names, for the
// admin list, a user's sessions and a user's events.
func TestDeepCursorStartsAtItsPlace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		for i := range 9 {
			u := newUser(fmt.Sprintf("deep%d@example.com", i))
			u.CreatedAt = base.Add(-time.Duration(i/3) * time.Hour) // three per timestamp
			if err := s.users.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		all, _, err := dir.Search(ctx, "deep", "", 100)
		if err != nil || len(all) != 9 {
			t.Fatalf("search: %d, %v", len(all), err)
		}
		var seen []string
		cursor := ""
		for range 9 {
			page, next, err := dir.Search(ctx, "", cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page {
				seen = append(seen, u.ID)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if len(seen) != 9 {
			t.Fatalf("paged %d accounts, want 9", len(seen))
		}
		for i, u := range all {
			if seen[i] != u.ID {
				t.Fatalf("page order differs at %d", i)
			}
		}
	})
}
