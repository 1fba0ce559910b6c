package scale

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// cheap is a hashing cost for tests; the hash string carries it, so the
// service verifies with it whatever its own setting.
var cheap = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// engines runs fn on a migrated SQLite file and a migrated PostgreSQL
// database (REQUIRE_POSTGRES makes a missing PostgreSQL a failure).
func engines(t *testing.T, fn func(t *testing.T, url string, db *gorm.DB)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			url := "sqlite://" + filepath.Join(t.TempDir(), "scale.db")
			if engine == "postgres" {
				url = pgtest.URL(t)
			}
			db := migrated(t, url, 0)
			fn(t, url, db)
		})
	}
}

// migrated opens url through the service's database package and applies
// the migrations up to version (0: all).
func migrated(t *testing.T, url string, version int64) *gorm.DB {
	t.Helper()
	tg, err := ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := database.Open(database.Config{Driver: tg.Driver, DSN: tg.DSN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sdb, err := db.DB(); err == nil {
			_ = sdb.Close()
		}
	})
	ctx := context.Background()
	if version > 0 {
		err = database.MigrateTo(ctx, db, tg.Driver, version)
	} else {
		err = database.Migrate(ctx, db, tg.Driver)
	}
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func count(t *testing.T, db *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestSeedSmall seeds 1,000 accounts on each engine and reads them back
// through the service's own repositories: the counts the options promise,
// sessions of every age (active ones listed, ended ones purgeable), the
// shared password verifying against every account's hash, the admin list's
// order and deep cursors, and a second seed refused.
func TestSeedSmall(t *testing.T) {
	engines(t, func(t *testing.T, url string, db *gorm.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		o := Options{Users: 1000, Argon2: cheap, Now: now}
		m, st, err := Seed(ctx, url, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := count(t, db, "SELECT count(*) FROM users"); got != 1001 {
			t.Errorf("users = %d, want 1,000 and the admin", got)
		}
		sessions := count(t, db, "SELECT count(*) FROM sessions")
		if sessions < 2500 || sessions > 3500 || sessions != st.Rows["sessions"] || sessions != m.Sessions.Total {
			t.Errorf("sessions = %d (stats %d, manifest %d), want about 3 per account", sessions, st.Rows["sessions"], m.Sessions.Total)
		}
		if got := count(t, db, "SELECT count(*) FROM security_events"); got < 3000 || got > 5000 {
			t.Errorf("security events = %d, want about 4 per account", got)
		}
		if got := count(t, db, "SELECT count(*) FROM mail_outbox WHERE status = 'failed'"); got != 100 {
			t.Errorf("failed mail = %d, want a tenth of the accounts", got)
		}
		if got := count(t, db, "SELECT count(*) FROM mail_outbox WHERE status = 'pending'"); got != 100 {
			t.Errorf("pending mail = %d, want 100", got)
		}
		totp := count(t, db, "SELECT count(*) FROM totp_factors WHERE confirmed_at IS NOT NULL")
		if totp < 20 || totp > 90 || count(t, db, "SELECT count(*) FROM recovery_codes") != 10*totp {
			t.Errorf("TOTP factors = %d with %d codes, want about 5 %% with ten codes each", totp, count(t, db, "SELECT count(*) FROM recovery_codes"))
		}
		if got := count(t, db, "SELECT count(*) FROM passkeys"); got < 10 || got > 60 {
			t.Errorf("passkeys = %d, want about 3 %%", got)
		}
		if got := count(t, db, "SELECT count(*) FROM refresh_tokens"); got != 0 {
			t.Errorf("legacy token rows = %d on the current schema, want none", got)
		}

		// Ended sessions: as many as the purge would take as the
		// generator says, and about a third of all.
		cutoff := now.Add(-24 * time.Hour)
		purgeable := count(t, db, "SELECT count(*) FROM sessions WHERE revoked_at < ? OR idle_expires_at < ? OR absolute_expires_at < ?",
			cutoff, cutoff, cutoff)
		if purgeable != m.Sessions.Purgeable || purgeable < sessions/5 || purgeable > sessions/2 {
			t.Errorf("purgeable sessions = %d (manifest %d) of %d", purgeable, m.Sessions.Purgeable, sessions)
		}

		users := persistence.NewUserRepository(db)
		store := persistence.NewSessionStore(db)
		hasher, err := password.NewHasher(password.DefaultParams(), 1)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, s := range m.Sample[:20] {
			u, err := users.ByEmail(ctx, s.Email)
			if err != nil || u.ID != s.ID || u.Name != s.Name {
				t.Fatalf("sampled account %s: %+v, %v", s.Email, u, err)
			}
			if ok, _, err := hasher.Verify(ctx, m.Password, u.PasswordHash); !ok || err != nil {
				t.Fatalf("the fixture's password does not verify for %s: %v", s.Email, err)
			}
			page, err := store.ListActive(ctx, s.ID, time.Now(), "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, sess := range page.Sessions {
				if sess.UserID != s.ID || !sess.Active(time.Now()) {
					t.Fatalf("listed session %+v is not an active one of %s", sess, s.ID)
				}
			}
			active += len(page.Sessions)
		}
		if active == 0 {
			t.Error("no sampled account has an active session")
		}
		admin, err := users.ByEmail(ctx, AdminEmail)
		if err != nil || !strings.Contains(strings.Join(admin.Roles, ","), "admin") {
			t.Fatalf("admin: %+v, %v", admin, err)
		}

		// The admin list: newest first is the seed's order, and every deep
		// cursor starts its page where the manifest says.
		dir := persistence.NewAdminDirectory(db)
		first, _, err := dir.Search(ctx, "", "", 3)
		if err != nil || len(first) != 3 || first[0].ID != admin.ID {
			t.Fatalf("first page: %v, %v", first, err)
		}
		if len(m.Deep) < 100 {
			t.Fatalf("%d deep cursors", len(m.Deep))
		}
		for _, d := range []DeepPoint{m.Deep[0], m.Deep[len(m.Deep)/2], m.Deep[len(m.Deep)-1]} {
			page, _, err := dir.Search(ctx, "", d.Cursor, 1)
			if err != nil || len(page) != 1 || page[0].ID != d.NextID {
				t.Errorf("page after depth %d: %v, %v; want %s", d.Depth, page, err, d.NextID)
			}
		}
		byName, _, err := dir.Search(ctx, strings.ToLower(m.Sample[7].Name), "", 100)
		if err != nil || len(byName) == 0 {
			t.Errorf("search by a seeded name %q: %d results, %v", m.Sample[7].Name, len(byName), err)
		}

		events, err := persistence.NewAuditLog(db).ListByUser(ctx, m.Sample[3].ID, "", 100)
		if err != nil || len(events.Events) == 0 {
			t.Errorf("events of a seeded account: %d, %v", len(events.Events), err)
		}

		if _, _, err := Seed(ctx, url, o); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("a second seed: %v, want a refusal", err)
		}
	})
}

// TestSeedDeterministic: the same options give the same accounts, so a
// manifest describes any database seeded with them.
func TestSeedDeterministic(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	o := Options{Users: 500, Now: now}.Defaults()
	a, b := newGen(o, "h"), newGen(o, "h")
	for _, i := range []int{adminIndex, 0, 1, 250, 499} {
		if a.account(i) != b.account(i) {
			t.Fatalf("account %d differs between two generators", i)
		}
		sa, sb := a.sessions(a.account(i)), b.sessions(b.account(i))
		if len(sa) != len(sb) || sa[0].id != sb[0].id {
			t.Fatalf("sessions of %d differ", i)
		}
	}
	o.Seed++
	if c := newGen(o, "h"); c.account(0).id == a.account(0).id {
		t.Error("another seed gives the same account")
	}
}
