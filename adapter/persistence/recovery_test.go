package persistence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/infrastructure/database"
)

func TestEmailTokenStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewEmailTokenStore(s.db)
		u := mustCreateUser(t, s, "tok@example.com")
		u.CredentialVersion = 7 // carried by the token as issued
		raw, hash := emailtoken.NewSecret()
		tok := emailtoken.Issue(hash, emailtoken.PurposePasswordReset, u, u.Email, base, 30*time.Minute)
		if err := store.Insert(ctx, tok); err != nil {
			t.Fatal(err)
		}
		want := tok
		want.CreatedAt, want.ExpiresAt = norm(tok.CreatedAt), norm(tok.ExpiresAt)

		got, err := store.ByHash(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "by hash", got, want)
		if h2, ok := emailtoken.HashSecret(raw); !ok || h2 != hash {
			t.Fatal("the raw token does not hash to the stored hash")
		}

		// Single use: of many concurrent takes, exactly one gets the token.
		oneWins(t, s, 8, emailtoken.ErrLinkInvalid, func(ctx context.Context) error {
			_, err := store.Take(ctx, hash)
			return err
		})
		if _, err := store.ByHash(ctx, hash); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("a taken token is still there: %v", err)
		}

		// A take rolled back leaves the token usable.
		_, hash2 := emailtoken.NewSecret()
		if err := store.Insert(ctx, emailtoken.Issue(hash2, emailtoken.PurposeVerifyEmail, u, u.Email, base, time.Hour)); err != nil {
			t.Fatal(err)
		}
		errAbort := errors.New("abort")
		_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if _, err := store.Take(ctx, hash2); err != nil {
				t.Fatal(err)
			}
			return errAbort
		})
		if _, err := store.ByHash(ctx, hash2); err != nil {
			t.Fatalf("a rolled-back take used the token up: %v", err)
		}

		// DeleteForUser is per purpose; PurgeExpired by expiry.
		_, hash3 := emailtoken.NewSecret()
		if err := store.Insert(ctx, emailtoken.Issue(hash3, emailtoken.PurposePasswordReset, u, u.Email, base, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteForUser(ctx, u.ID, emailtoken.PurposePasswordReset); err != nil {
			t.Fatal(err)
		}
		if _, err := store.ByHash(ctx, hash3); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatal("DeleteForUser left a reset token")
		}
		if _, err := store.ByHash(ctx, hash2); err != nil {
			t.Fatal("DeleteForUser(reset) removed a verification token")
		}
		n, err := store.PurgeExpired(ctx, base.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purge: %d, %v; want 1", n, err)
		}

		// Supersede keeps one link of a purpose and deletes the others of
		// that account and purpose, no more.
		other := mustCreateUser(t, s, "other@example.com")
		var keep, older, verify, others [32]byte
		for _, tk := range []struct {
			h *[32]byte
			p emailtoken.Purpose
			u string
		}{{&keep, emailtoken.PurposePasswordReset, u.ID}, {&older, emailtoken.PurposePasswordReset, u.ID},
			{&verify, emailtoken.PurposeVerifyEmail, u.ID}, {&others, emailtoken.PurposePasswordReset, other.ID}} {
			_, *tk.h = emailtoken.NewSecret()
			holder := u
			if tk.u == other.ID {
				holder = other
			}
			if err := store.Insert(ctx, emailtoken.Issue(*tk.h, tk.p, holder, holder.Email, base, time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Supersede(ctx, u.ID, emailtoken.PurposePasswordReset, keep); err != nil {
			t.Fatal(err)
		}
		for h, want := range map[[32]byte]bool{keep: true, older: false, verify: true, others: true} {
			if _, err := store.ByHash(ctx, h); (err == nil) != want {
				t.Errorf("after Supersede: token present = %v, want %v", err == nil, want)
			}
		}

		// Deleting the account deletes its tokens.
		_, hash4 := emailtoken.NewSecret()
		if err := store.Insert(ctx, emailtoken.Issue(hash4, emailtoken.PurposeVerifyEmail, u, u.Email, base, time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{u.ID, other.ID} {
			if err := s.users.Delete(ctx, gone); err != nil {
				t.Fatal(err)
			}
		}
		if c := count(t, s, "email_tokens"); c != 0 {
			t.Fatalf("%d tokens outlived their account", c)
		}
	})
}

func TestMailOutbox(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		ob := persistence.NewMailOutbox(s.db)
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		lease := time.Minute

		// A link is never stored: the outbox refuses one.
		withLink := outbox.Message{ID: id.New(), Kind: outbox.KindVerifyEmail, To: "a@example.com",
			Link: "http://x/#/verify-email?token=abc", CreatedAt: now}
		if err := ob.Enqueue(ctx, withLink, now); err == nil {
			t.Fatal("the outbox stored a message with a link")
		}
		msg := outbox.Message{ID: id.New(), Kind: outbox.KindVerifyRequested, To: "a@example.com", Locale: "de",
			UserID: id.New(), CreatedAt: now}
		// Written in a transaction that rolls back: nothing queued.
		_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := ob.Enqueue(ctx, msg, now); err != nil {
				t.Fatal(err)
			}
			return errors.New("abort")
		})
		if c := count(t, s, "mail_outbox"); c != 0 {
			t.Fatalf("a rolled-back enqueue left %d rows", c)
		}
		if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return ob.Enqueue(ctx, msg, now) }); err != nil {
			t.Fatal(err)
		}
		later := outbox.Message{ID: id.New(), Kind: outbox.KindEmailChanged, To: "b@example.com", CreatedAt: now}
		if err := ob.Enqueue(ctx, later, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		got, err := ob.Claim(ctx, now, lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := msg
		want.Attempts = 1
		if len(got) != 1 {
			t.Fatalf("claimed %d messages, want the one due", len(got))
		}
		equal(t, "claimed", got[0], want)

		// Claimed: nobody else gets it until the lease ends.
		if again, err := ob.Claim(ctx, now.Add(lease/2), lease, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice within the lease: %v, %v", again, err)
		}
		// A crash mid-send: after the lease it is claimed again.
		again, err := ob.Claim(ctx, now.Add(lease+time.Millisecond), lease, 10)
		if err != nil || len(again) != 1 || again[0].ID != msg.ID || again[0].Attempts != 2 {
			t.Fatalf("after the lease: %+v, %v", again, err)
		}
		t2 := now.Add(lease + time.Millisecond)
		if err := ob.Retry(ctx, msg.ID, t2.Add(10*time.Second), "421 try later"); err != nil {
			t.Fatal(err)
		}
		if early, _ := ob.Claim(ctx, t2.Add(5*time.Second), lease, 10); len(early) != 0 {
			t.Fatal("a retried message came back before its time")
		}
		third, err := ob.Claim(ctx, t2.Add(10*time.Second), lease, 10)
		if err != nil || len(third) != 1 || third[0].Attempts != 3 {
			t.Fatalf("retry: %+v, %v", third, err)
		}
		if err := ob.Delivered(ctx, msg.ID); err != nil {
			t.Fatal(err)
		}
		// The other message; given up, it stays for operators.
		last, err := ob.Claim(ctx, now.Add(2*time.Hour), lease, 10)
		if err != nil || len(last) != 1 || last[0].ID != later.ID || last[0].Locale != "en" {
			t.Fatalf("second message (queued without a locale: the default): %+v, %v", last, err)
		}
		if err := ob.GiveUp(ctx, later.ID, "550 no such user"); err != nil {
			t.Fatal(err)
		}
		if none, _ := ob.Claim(ctx, now.Add(100*time.Hour), lease, 10); len(none) != 0 {
			t.Fatal("a given-up message was claimed")
		}
		var rows []struct {
			Status, Link, LastError string
		}
		if err := s.db.Raw("SELECT status, link, last_error FROM mail_outbox").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Status != "failed" || rows[0].LastError != "550 no such user" {
			t.Fatalf("outbox after give-up: %+v", rows)
		}
	})
}

// TestMailOutboxClaimsAreExclusive: instances claiming at once never get
// the same message, and together they get every one.
func TestMailOutboxClaimsAreExclusive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		ob := persistence.NewMailOutbox(s.db)
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		const total = 60
		for range total {
			if err := ob.Enqueue(ctx, outbox.Message{ID: id.New(), Kind: outbox.KindEmailChanged, To: "x@example.com", CreatedAt: now}, now); err != nil {
				t.Fatal(err)
			}
		}
		claimEachOnce(t, s, total, func() ([]outbox.Message, error) { return ob.Claim(ctx, now, time.Minute, 7) },
			func(m outbox.Message) string { return m.ID })
	})
}

// TestMigrationVoidsQueuedLinks: messages queued before migration 00010
// held their link in clear. After it no row holds a link, the tokens of
// those links are void (whoever copied the database before cannot use
// them), other tokens stay, and the messages are still due: delivery makes
// a new link at send time.
func TestMigrationVoidsQueuedLinks(t *testing.T) {
	for _, e := range engines {
		if e.migrated {
			continue // see TestMigrationKeepsIssuedTokens
		}
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			db := openAt(t, e, 9)
			ctx := context.Background()
			exec := func(q string, args ...any) {
				t.Helper()
				if err := db.Exec(q, args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			now := base
			uid := id.New()
			exec("INSERT INTO users (id, email, name, roles, password_hash, created_at, updated_at) VALUES (?, ?, '', 'user', ?, ?, ?)",
				uid, "queued@example.com", "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", now, now)
			token := func(purpose string) [32]byte {
				_, h := emailtoken.NewSecret()
				exec("INSERT INTO email_tokens (token_hash, purpose, user_id, email, created_at, expires_at) VALUES ( ?, ?, ?, ?, ?, ?)", // "( ?": gorm would spread a byte slice right after "("
					h[:], purpose, uid, "queued@example.com", now, now.Add(time.Hour))
				return h
			}
			queuedReset, delivered := token("password_reset"), token("verify_email")
			exec(`INSERT INTO mail_outbox (id, kind, recipient, link, ttl_seconds, next_attempt_at, created_at)
				VALUES (?, 'password_reset', 'queued@example.com', ?, 1800, 0, ?)`, id.New(), "http://x/#/reset-password?token=secret", now)

			if err := database.Migrate(ctx, db, e.driver); err != nil {
				t.Fatal(err)
			}
			store := persistence.NewEmailTokenStore(db)
			if _, err := store.ByHash(ctx, queuedReset); !errors.Is(err, emailtoken.ErrLinkInvalid) {
				t.Fatalf("the token of a link that sat in the outbox still works: %v", err)
			}
			if _, err := store.ByHash(ctx, delivered); err != nil {
				t.Fatalf("another token was lost: %v", err)
			}
			var links []string
			if err := db.Raw("SELECT link FROM mail_outbox").Scan(&links).Error; err != nil {
				t.Fatal(err)
			}
			if len(links) != 1 || links[0] != "" {
				t.Fatalf("outbox links after the migration: %q", links)
			}
			msgs, err := persistence.NewMailOutbox(db).Claim(ctx, now, time.Minute, 10)
			if err != nil || len(msgs) != 1 || msgs[0].Kind != outbox.KindPasswordReset || msgs[0].Link != "" {
				t.Fatalf("the queued message after the migration: %+v, %v", msgs, err)
			}
		})
	}
}
