package persistence_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/authn/sessiontest"
)

// harness is the session-store contract's view of s.
func harness(t *testing.T, s *env) sessiontest.Harness {
	return sessiontest.Harness{
		Sessions: s.sessions, Users: s.users, Audit: s.audit, Tx: s.tx,
		SeedLegacy: func(t *testing.T, sessionID string, gen int64, hash [32]byte) {
			seedLegacy(t, s, sessionID, gen, hash)
		},
		Footprint: func(t *testing.T, sessionID string) (int64, int64) { return footprint(t, s, sessionID) },
	}
}

// TestSessionStoreContract runs the contract written once in sessiontest
// (which the in-memory fake passes too) on every engine.
func TestSessionStoreContract(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			sessiontest.Run(t, func(t *testing.T) sessiontest.Harness { return harness(t, openEnv(t, e)) })
		})
	}
}

// seedLegacy inserts a row of refresh_tokens as versions before the
// authenticated token format wrote them.
func seedLegacy(t *testing.T, s *env, sessionID string, gen int64, hash [32]byte) {
	t.Helper()
	// The first value is not the hash: after "(" gorm expands a slice.
	err := s.db.Exec("INSERT INTO refresh_tokens (session_id, token_hash, generation, created_at) VALUES (?, ?, ?, ?)",
		sessionID, hash[:], gen, sessiontest.T0).Error
	if err != nil {
		t.Fatal(err)
	}
}

// footprint counts the rows and bytes the store holds for one session, in
// every table that keeps session or token state. Bytes are the stored
// values: pg_column_size of the row (tuple header included) on PostgreSQL,
// the sum of the values' lengths on SQLite; index entries come on top, one
// per indexed column per row.
func footprint(t *testing.T, s *env, sessionID string) (rows, bytes int64) {
	t.Helper()
	type q struct{ table, where string }
	for _, x := range []q{{"sessions", "id"}, {"refresh_tokens", "session_id"}} {
		var expr string
		if s.postgres {
			expr = "pg_column_size(x.*)"
		} else {
			cols, err := s.db.Migrator().ColumnTypes(x.table)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, c := range cols {
				parts = append(parts, "coalesce(length(CAST(x."+c.Name()+" AS BLOB)), 0)")
			}
			expr = strings.Join(parts, " + ")
		}
		var r, b int64
		err := s.db.Raw("SELECT count(*), coalesce(sum("+expr+"), 0) FROM "+x.table+" x WHERE x."+x.where+" = ?", sessionID).
			Row().Scan(&r, &b)
		if err != nil {
			t.Fatal(err)
		}
		rows += r
		bytes += b
	}
	return rows, bytes
}

// TestRefreshStorageDoesNotGrow refreshes one session 1,000 times and
// checks that its rows and bytes stay what they were after the first
// rotations (bytes within a few of the text form of times on SQLite). GROWTH_REPORT=1 prints the figures.
func TestRefreshStorageDoesNotGrow(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		at := []int{1, 2, 100, 1000}
		got := sessiontest.Growth(t, harness(t, s), 1000, at)
		if os.Getenv("GROWTH_REPORT") != "" {
			for _, n := range at {
				fmt.Printf("growth %s refreshes=%d rows=%d bytes=%d\n", t.Name(), n, got[n][0], got[n][1])
			}
		}
		if got[1][0] != 1 {
			t.Fatalf("one session holds %d rows after one refresh; want 1", got[1][0])
		}
		// SQLite stores times as text whose length varies by a few bytes
		// (trailing zeros of the fraction are dropped); anything more
		// would be growth.
		const slack = 16
		for _, n := range at[1:] {
			if got[n][0] != got[2][0] || got[n][1] > got[2][1]+slack {
				t.Fatalf("after %d refreshes: %d rows, %d bytes; after 2: %d rows, %d bytes", n, got[n][0], got[n][1], got[2][0], got[2][1])
			}
		}
	})
}

// openAt opens a new database of engine e migrated up to version, for a
// test that writes what an older schema held and then migrates.
func openAt(t *testing.T, e engine, version int64) *gorm.DB {
	t.Helper()
	db, err := database.Open(database.Config{Driver: e.driver, DSN: e.dsn(t), MaxOpenConns: 4, MaxIdleConns: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	if err := database.MigrateTo(context.Background(), db, e.driver, version); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMigrationKeepsIssuedTokens writes a session as the schema before the
// session-row refresh state held it (a token family in refresh_tokens),
// migrates, and refreshes with the old tokens: the current one rotates
// into the new format, its predecessor in grace replays, an older ancestor
// revokes.
func TestMigrationKeepsIssuedTokens(t *testing.T) {
	for _, e := range engines {
		if e.migrated {
			// A database migrated beforehand (the PgBouncer engine: migrations
			// run on the server directly, see README) cannot be taken back to
			// the old schema; the engines that migrate here cover the path.
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			db := openAt(t, e, 3)
			ctx := context.Background()
			now := sessiontest.T0
			uid, sid := id.New(), id.New()
			g1, h1 := session.NewLegacyRefreshSecret()
			g2, h2 := session.NewLegacyRefreshSecret()
			g3, h3 := session.NewLegacyRefreshSecret()
			exec := func(q string, args ...any) {
				t.Helper()
				if err := db.Exec(q, args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			exec("INSERT INTO users (id, email, name, roles, password_hash, created_at, updated_at) VALUES (?, ?, '', 'user', ?, ?, ?)",
				uid, "old@example.com", "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", now, now)
			exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, auth_time, generation)
				VALUES (?, ?, ?, ?, ?, ?, ?, 3)`, sid, uid, now, now, now.Add(sessiontest.Policy.IdleTTL), now.Add(sessiontest.Policy.AbsoluteTTL), now)
			rot := "INSERT INTO refresh_tokens (session_id, token_hash, generation, created_at, rotated_at, successor_sealed) VALUES (?, ?, ?, ?, ?, ?)"
			exec(rot, sid, h1[:], 1, now, now.Add(-time.Hour), session.SealSuccessor(g1, g2, string(h1[:])))
			exec(rot, sid, h2[:], 2, now, now, session.SealSuccessor(g2, g3, string(h2[:])))
			exec("INSERT INTO refresh_tokens (session_id, token_hash, generation, created_at) VALUES (?, ?, 3, ?)", sid, h3[:], now)

			if err := database.Migrate(ctx, db, e.driver); err != nil {
				t.Fatal(err)
			}
			svc, advance := sessiontest.Service(t, sessiontest.Harness{
				Users: persistence.NewUserRepository(db), Sessions: persistence.NewSessionStore(db),
				Audit: persistence.NewAuditLog(db), Tx: persistence.NewTransactor(db),
			}, now.Add(time.Second))
			m := authn.Meta{}
			replay, err := svc.Refresh(ctx, g2, m)
			if err != nil || replay.RefreshToken != g3 {
				t.Fatalf("old predecessor within grace: %v (same successor: %v)", err, err == nil && replay.RefreshToken == g3)
			}
			next, err := svc.Refresh(ctx, g3, m)
			if err != nil || len(next.RefreshToken) != session.RefreshTokenLength || next.Session.Generation != 4 {
				t.Fatalf("old current token: %v, %+v", err, next.Session)
			}
			advance(time.Minute)
			newer, err := svc.Refresh(ctx, next.RefreshToken, m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Refresh(ctx, g1, m); err != session.ErrRefreshReused {
				t.Fatalf("old ancestor after migration: %v; want reuse", err)
			}
			if _, err := svc.Refresh(ctx, newer.RefreshToken, m); err != session.ErrRefreshInvalid {
				t.Fatalf("after reuse: %v", err)
			}
		})
	}
}

// TestRefreshKeyIsStoredOnce: instances on one database share one key.
func TestRefreshKeyIsStoredOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		a, b := session.NewRefreshKey(), session.NewRefreshKey()
		got1, err := s.keys.EnsureRefreshKey(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		got2, err := s.keys.EnsureRefreshKey(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		if string(got1) != string(a) || string(got2) != string(a) {
			t.Fatal("the second instance did not get the first one's key")
		}
	})
}
