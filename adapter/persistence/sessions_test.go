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

func TestSessionCreateByIDSave(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "s@example.com")
		sess, _, _ := mustStartSession(t, s, u, base)

		got, err := s.sessions.ByID(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "ByID", got, normSession(sess))

		later := base.Add(time.Hour)
		policy.Touch(&sess, later, "other-agent", "203.0.113.9")
		sess.AuthTime = later
		sess.Generation = 3
		if err := s.sessions.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, _ = s.sessions.ByID(ctx, sess.ID)
		equal(t, "after Save", got, normSession(sess))

		// Revocation and generation only move forward, whatever a stale
		// copy says.
		revoked := sess
		revoked.Revoke(later, session.ReasonLogout)
		if err := s.sessions.Save(ctx, revoked); err != nil {
			t.Fatal(err)
		}
		stale := sess // read before the revocation, generation 3
		stale.Generation = 2
		stale.Revoke(later.Add(time.Minute), session.ReasonLogoutAll)
		stale.RevokedAt, stale.RevokeReason = time.Time{}, ""
		if err := s.sessions.Save(ctx, stale); err != nil {
			t.Fatal(err)
		}
		got, _ = s.sessions.ByID(ctx, sess.ID)
		if !got.Revoked() || !got.RevokedAt.Equal(norm(later)) || got.RevokeReason != session.ReasonLogout || got.Generation != 3 {
			t.Fatalf("stale Save changed the session: %+v", got)
		}
		relog := revoked
		relog.Revoke(later.Add(time.Hour), session.ReasonLogoutAll) // no-op in the domain
		relog.RevokedAt, relog.RevokeReason = later.Add(time.Hour), session.ReasonLogoutAll
		_ = s.sessions.Save(ctx, relog)
		got, _ = s.sessions.ByID(ctx, sess.ID)
		if got.RevokeReason != session.ReasonLogout {
			t.Fatalf("second revocation overwrote the first: %+v", got)
		}

		for _, bad := range []string{"", "x", id.New()} {
			if _, err := s.sessions.ByID(ctx, bad); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("ByID(%q): err = %v, want ErrNotFound", bad, err)
			}
		}
		missing := sess
		missing.ID = id.New()
		if err := s.sessions.Save(ctx, missing); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Save of a missing session: err = %v, want ErrNotFound", err)
		}
	})
}

func TestSessionCreateForMissingUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ghost := newUser("ghost@example.com") // never stored
		sess := policy.Start(id.New(), ghost.ID, base, "", "")
		_, hash := session.NewRefreshSecret()
		tok := session.RefreshToken{Hash: hash, SessionID: sess.ID, Generation: 1, CreatedAt: base}
		if err := s.sessions.Create(context.Background(), sess, tok); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("err = %v, want user.ErrNotFound", err)
		}
		if n := count(t, s, "sessions") + count(t, s, "refresh_tokens"); n != 0 {
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
			sess, _, _ := mustStartSession(t, s, u, now.Add(time.Duration(i-10)*time.Minute))
			active = append(active, sess)
		}
		expired, _, _ := mustStartSession(t, s, u, base) // idle-expired at now
		revoked, _, _ := mustStartSession(t, s, u, now.Add(-time.Hour))
		revoked.Revoke(now.Add(-time.Minute), session.ReasonLogout)
		if err := s.sessions.Save(ctx, revoked); err != nil {
			t.Fatal(err)
		}
		otherSess, _, _ := mustStartSession(t, s, other, now.Add(-time.Minute))

		list, err := s.sessions.ListActive(ctx, u.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		want := []session.Session{normSession(active[2]), normSession(active[1]), normSession(active[0])}
		equal(t, "ListActive", list, want)

		// Exactly at the idle expiry a session is no longer active.
		atExpiry, _ := s.sessions.ListActive(ctx, u.ID, active[0].IdleExpiresAt)
		if slices.ContainsFunc(atExpiry, func(x session.Session) bool { return x.ID == active[0].ID }) {
			t.Fatal("a session is listed at its expiry instant")
		}

		ids, err := s.sessions.RevokeAllForUser(ctx, u.ID, active[1].ID, session.ReasonPasswordChange, now)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs := []string{active[0].ID, active[2].ID}
		slices.Sort(wantIDs)
		equal(t, "revoked IDs", ids, wantIDs)
		list, _ = s.sessions.ListActive(ctx, u.ID, now)
		if len(list) != 1 || list[0].ID != active[1].ID {
			t.Fatalf("after RevokeAllForUser: %+v", list)
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

func TestLockByRefreshHashAndRotate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "rot@example.com")
		sess, raw, first := mustStartSession(t, s, u, base)

		if _, _, err := s.sessions.LockByRefreshHash(ctx, first.Hash); err == nil {
			t.Fatal("LockByRefreshHash outside a transaction succeeded")
		}
		now := base.Add(time.Minute)
		var next session.RefreshToken
		var nextRaw string
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			gotSess, gotTok, err := s.sessions.LockByRefreshHash(ctx, first.Hash)
			if err != nil {
				return err
			}
			equal(t, "locked session", gotSess, normSession(sess))
			equal(t, "locked token", gotTok, normToken(first))
			if d := policy.Decide(gotSess, gotTok, now); d != session.Rotate {
				t.Fatalf("decision %v, want Rotate", d)
			}
			sess, nextRaw, next, err = rotate(ctx, s, gotSess, gotTok, raw, now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			gotSess, used, err := s.sessions.LockByRefreshHash(ctx, first.Hash)
			if err != nil {
				return err
			}
			equal(t, "session after rotation", gotSess, normSession(sess))
			if !used.RotatedAt.Equal(norm(now)) || len(used.SuccessorSealed) == 0 {
				t.Fatalf("used token not marked: %+v", used)
			}
			successor, err := session.OpenSuccessor(raw, used.SuccessorSealed, sess.ID)
			if err != nil || successor != nextRaw {
				t.Fatalf("sealed successor: %q, %v", successor, err)
			}
			if d := policy.Decide(gotSess, used, now.Add(time.Second)); d != session.Replay {
				t.Fatalf("decision %v, want Replay", d)
			}
			_, cur, err := s.sessions.LockByRefreshHash(ctx, next.Hash)
			if err != nil {
				return err
			}
			equal(t, "successor", cur, normToken(next))
			_, err = s.sessions.LockByID(ctx, sess.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, unknown := session.NewRefreshSecret()
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			_, _, err := s.sessions.LockByRefreshHash(ctx, unknown)
			return err
		})
		if !errors.Is(err, session.ErrRefreshInvalid) {
			t.Fatalf("unknown hash: err = %v, want ErrRefreshInvalid", err)
		}
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			_, err := s.sessions.LockByID(ctx, id.New())
			return err
		})
		if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("LockByID of unknown session: err = %v, want ErrNotFound", err)
		}
	})
}

func TestRotateSameTokenTwiceConflicts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "twice@example.com")
		sess, raw, first := mustStartSession(t, s, u, base)
		if _, _, _, err := rotate(ctx, s, sess, first, raw, base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// A second rotation from the same stale state must not create a
		// second lineage, in or out of a transaction.
		if _, _, _, err := rotate(ctx, s, sess, first, raw, base.Add(2*time.Second)); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("second Rotate: err = %v, want ErrConflict", err)
		}
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			_, _, _, err := rotate(ctx, s, sess, first, raw, base.Add(3*time.Second))
			return err
		})
		if !errors.Is(err, session.ErrConflict) {
			t.Fatalf("second Rotate in a transaction: err = %v, want ErrConflict", err)
		}
		if n := count(t, s, "refresh_tokens"); n != 2 {
			t.Fatalf("%d tokens stored, want 2", n)
		}
		got, _ := s.sessions.ByID(ctx, sess.ID)
		if got.Generation != 2 {
			t.Fatalf("generation %d, want 2", got.Generation)
		}
	})
}

// TestConcurrentRefreshRotatesOnce is the refresh interactor's critical
// section run by 30 requests presenting one token at once.
func TestConcurrentRefreshRotatesOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		u := mustCreateUser(t, s, "race@example.com")
		_, raw, first := mustStartSession(t, s, u, base)
		const n = 30
		warmPool(t, s, n)
		var rotations, replays atomic.Int64
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.tx.WithinTx(context.Background(), func(ctx context.Context) error {
					sess, tok, err := s.sessions.LockByRefreshHash(ctx, first.Hash)
					if err != nil {
						return err
					}
					// Widen the window between read and write: without the
					// lock, every request would now see the token unrotated.
					time.Sleep(2 * time.Millisecond)
					if !tok.RotatedAt.IsZero() {
						replays.Add(1)
						return nil
					}
					if _, _, _, err := rotate(ctx, s, sess, tok, raw, base.Add(time.Second)); err != nil {
						return err
					}
					rotations.Add(1)
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		if rotations.Load() != 1 || replays.Load() != n-1 {
			t.Fatalf("%d rotations and %d replays, want 1 and %d", rotations.Load(), replays.Load(), n-1)
		}
		if c := count(t, s, "refresh_tokens"); c != 2 {
			t.Fatalf("%d tokens stored, want 2", c)
		}
	})
}

func TestDeleteUserCascades(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "gone@example.com")
		keep := mustCreateUser(t, s, "keep@example.com")
		sess, raw, first := mustStartSession(t, s, u, base)
		if _, _, _, err := rotate(ctx, s, sess, first, raw, base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		mustStartSession(t, s, u, base)
		kept, _, keptTok := mustStartSession(t, s, keep, base)

		if err := s.users.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.sessions.ByID(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session survived its user: %v", err)
		}
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			_, _, err := s.sessions.LockByRefreshHash(ctx, first.Hash)
			return err
		})
		if !errors.Is(err, session.ErrRefreshInvalid) {
			t.Fatalf("token survived its user: %v", err)
		}
		if n := count(t, s, "sessions"); n != 1 {
			t.Fatalf("%d sessions left, want only the other user's", n)
		}
		if n := count(t, s, "refresh_tokens"); n != 1 {
			t.Fatalf("%d tokens left, want only the other user's", n)
		}
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			got, _, err := s.sessions.LockByRefreshHash(ctx, keptTok.Hash)
			if err == nil && got.ID != kept.ID {
				t.Errorf("wrong session %s", got.ID)
			}
			return err
		})
		if err != nil {
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

		active, _, _ := mustStartSession(t, s, u, now.Add(-time.Hour))
		idleOld, _, _ := mustStartSession(t, s, u, now.Add(-policy.IdleTTL-retention-time.Hour))
		idleRecent, _, _ := mustStartSession(t, s, u, now.Add(-policy.IdleTTL-time.Hour))
		absOld, _, _ := mustStartSession(t, s, u, now.Add(-policy.AbsoluteTTL-retention-time.Hour))
		absOld.IdleExpiresAt = now.Add(time.Hour) // refreshed recently, but past its absolute life
		if err := s.sessions.Save(ctx, absOld); err != nil {
			t.Fatal(err)
		}
		revokedOld, _, _ := mustStartSession(t, s, u, now.Add(-3*retention))
		revokedOld.Revoke(now.Add(-2*retention), session.ReasonLogout)
		revokedRecent, _, _ := mustStartSession(t, s, u, now.Add(-3*retention))
		revokedRecent.Revoke(now.Add(-time.Hour), session.ReasonLogout)
		for _, x := range []session.Session{revokedOld, revokedRecent} {
			if err := s.sessions.Save(ctx, x); err != nil {
				t.Fatal(err)
			}
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
		if c := count(t, s, "refresh_tokens"); c != 3 {
			t.Fatalf("%d tokens left, want 3 (those of the kept sessions)", c)
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
		if total.Load() != n || count(t, s, "sessions") != 0 || count(t, s, "refresh_tokens") != 0 {
			t.Fatalf("purged %d of %d; %d sessions left", total.Load(), n, count(t, s, "sessions"))
		}
	})
}
