package persistence_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

func TestSessionCreateByIDUpdate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "s@example.com")
		sess, _ := mustStartSession(t, s, u, base)

		got, err := s.sessions.ByID(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "ByID", got, normSession(sess))

		later := base.Add(time.Hour)
		policy.Rotate(&sess, [32]byte{7}, []byte("sealed"), later, "other-agent", "203.0.113.9")
		sess.AuthTime = later
		save(t, s, sess)
		got, _ = s.sessions.ByID(ctx, sess.ID)
		equal(t, "after Update", got, normSession(sess))

		for _, bad := range []string{"", "x", id.New()} {
			if _, err := s.sessions.ByID(ctx, bad); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("ByID(%q): err = %v, want ErrNotFound", bad, err)
			}
		}
	})
}

func TestSessionCreateForMissingUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ghost := newUser("ghost@example.com") // never stored
		sess := policy.Start(id.New(), ghost.ID, base, "", "")
		sess.TokenHash = [32]byte{1}
		if err := s.sessions.Create(context.Background(), sess); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("err = %v, want user.ErrNotFound", err)
		}
		if n := count(t, s, "sessions"); n != 0 {
			t.Fatalf("%d rows left behind", n)
		}
	})
}

func TestSessionListActiveAndRevokeAll(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "list@example.com")
		other := mustCreateUser(t, s, "other@example.com")
		now := base.Add(40 * 24 * time.Hour)

		// Three active sessions, started one minute apart.
		var active []session.Session
		for i := range 3 {
			sess, _ := mustStartSession(t, s, u, now.Add(time.Duration(i-10)*time.Minute))
			active = append(active, sess)
		}
		expired, _ := mustStartSession(t, s, u, base) // idle-expired at now
		revoked, _ := mustStartSession(t, s, u, now.Add(-time.Hour))
		revoked.Revoke(now.Add(-time.Minute), session.ReasonLogout)
		save(t, s, revoked)
		otherSess, _ := mustStartSession(t, s, other, now.Add(-time.Minute))

		page, err := s.sessions.ListActive(ctx, u.ID, now, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []session.Session{normSession(active[2]), normSession(active[1]), normSession(active[0])}
		equal(t, "ListActive", page.Sessions, want)

		// Exactly at the idle expiry a session is no longer active.
		atExpiry, _ := s.sessions.ListActive(ctx, u.ID, active[0].IdleExpiresAt, "", 100)
		if slices.ContainsFunc(atExpiry.Sessions, func(x session.Session) bool { return x.ID == active[0].ID }) {
			t.Fatal("a session is listed at its expiry instant")
		}

		ids, err := s.sessions.RevokeAllForUser(ctx, u.ID, active[1].ID, session.ReasonPasswordChange, now)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs := []string{active[0].ID, active[2].ID}
		slices.Sort(wantIDs)
		equal(t, "revoked IDs", ids, wantIDs)
		page, _ = s.sessions.ListActive(ctx, u.ID, now, "", 100)
		if len(page.Sessions) != 1 || page.Sessions[0].ID != active[1].ID {
			t.Fatalf("after RevokeAllForUser: %+v", page.Sessions)
		}
		got, _ := s.sessions.ByID(ctx, active[0].ID)
		if !got.RevokedAt.Equal(norm(now)) || got.RevokeReason != session.ReasonPasswordChange {
			t.Fatalf("revoked session: %+v", got)
		}
		for _, untouched := range []session.Session{expired, revoked, otherSess} {
			got, _ := s.sessions.ByID(ctx, untouched.ID)
			if got.RevokeReason == session.ReasonPasswordChange {
				t.Errorf("session %s (not active, or another user's) was revoked", untouched.ID)
			}
		}
		if ids, err := s.sessions.RevokeAllForUser(ctx, u.ID, active[1].ID, session.ReasonLogoutAll, now); err != nil || len(ids) != 0 {
			t.Fatalf("second RevokeAllForUser: %v, %v; want nothing", ids, err)
		}
		ids, err = s.sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonLogoutAll, now)
		if err != nil || len(ids) != 1 || ids[0] != active[1].ID {
			t.Fatalf("RevokeAllForUser without except: %v, %v", ids, err)
		}
	})
}

func TestSessionConcurrentRevokeAll(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		u := mustCreateUser(t, s, "many@example.com")
		for range 10 {
			mustStartSession(t, s, u, base)
		}
		warmPool(t, s, 8)
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.tx.WithinTx(context.Background(), func(ctx context.Context) error {
					ids, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonLogoutAll, base.Add(time.Hour))
					total.Add(int64(len(ids)))
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if total.Load() != 10 {
			t.Fatalf("revoked %d sessions in total, want each of 10 exactly once", total.Load())
		}
	})
}

func TestDeleteUserCascades(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "gone@example.com")
		keep := mustCreateUser(t, s, "keep@example.com")
		sess, _ := mustStartSession(t, s, u, base)
		_, legacyHash := session.NewLegacyRefreshSecret()
		seedLegacy(t, s, sess.ID, 1, legacyHash)
		mustStartSession(t, s, u, base)
		kept, _ := mustStartSession(t, s, keep, base)

		if err := s.users.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.sessions.ByID(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session survived its user: %v", err)
		}
		if _, _, err := s.sessions.LegacyToken(ctx, legacyHash); !errors.Is(err, session.ErrRefreshInvalid) {
			t.Fatalf("legacy token survived its user: %v", err)
		}
		if n := count(t, s, "sessions"); n != 1 {
			t.Fatalf("%d sessions left, want only the other user's", n)
		}
		if _, err := s.sessions.ByID(ctx, kept.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPurgeExpired(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "purge@example.com")
		now := base.Add(100 * 24 * time.Hour)
		const retention = 24 * time.Hour

		active, _ := mustStartSession(t, s, u, now.Add(-time.Hour))
		idleOld, _ := mustStartSession(t, s, u, now.Add(-policy.IdleTTL-retention-time.Hour))
		idleRecent, _ := mustStartSession(t, s, u, now.Add(-policy.IdleTTL-time.Hour))
		absOld, _ := mustStartSession(t, s, u, now.Add(-policy.AbsoluteTTL-retention-time.Hour))
		absOld.IdleExpiresAt = now.Add(time.Hour) // refreshed recently, but past its absolute life
		save(t, s, absOld)
		revokedOld, _ := mustStartSession(t, s, u, now.Add(-3*retention))
		revokedOld.Revoke(now.Add(-2*retention), session.ReasonLogout)
		revokedRecent, _ := mustStartSession(t, s, u, now.Add(-3*retention))
		revokedRecent.Revoke(now.Add(-time.Hour), session.ReasonLogout)
		for _, x := range []session.Session{revokedOld, revokedRecent} {
			save(t, s, x)
		}

		n, err := s.sessions.PurgeExpired(ctx, now, retention, 2)
		if err != nil || n != 3 {
			t.Fatalf("purged %d, %v; want 3", n, err)
		}
		for _, x := range []session.Session{idleOld, absOld, revokedOld} {
			if _, err := s.sessions.ByID(ctx, x.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("session %s not purged", x.ID)
			}
		}
		for _, x := range []session.Session{active, idleRecent, revokedRecent} {
			if _, err := s.sessions.ByID(ctx, x.ID); err != nil {
				t.Errorf("session %s purged too early: %v", x.ID, err)
			}
		}
		if n, err := s.sessions.PurgeExpired(ctx, now, retention, 2); err != nil || n != 0 {
			t.Fatalf("second purge: %d, %v", n, err)
		}
	})
}

func TestPurgeExpiredConcurrently(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		u := mustCreateUser(t, s, "bulk@example.com")
		const n = 60
		for range n {
			mustStartSession(t, s, u, base)
		}
		now := base.Add(365 * 24 * time.Hour)
		warmPool(t, s, 4)
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				got, err := s.sessions.PurgeExpired(context.Background(), now, time.Hour, 7)
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(got))
			})
		}
		wg.Wait()
		if total.Load() != n || count(t, s, "sessions") != 0 {
			t.Fatalf("purged %d of %d; %d sessions left", total.Load(), n, count(t, s, "sessions"))
		}
	})
}
