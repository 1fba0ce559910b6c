package persistence_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

func webhookOutbox(s *env) *persistence.WebhookOutbox {
	return persistence.NewWebhookOutbox(s.db).Enable(webhook.Types())
}

// webhookSetup is what the outbox tests start from: a context, an outbox
// on s keeping every type, and the instant their events occur at.
func webhookSetup(s *env) (context.Context, *persistence.WebhookOutbox, time.Time) {
	return context.Background(), webhookOutbox(s), time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
}

func publish(t *testing.T, o *persistence.WebhookOutbox, e webhook.Event) {
	t.Helper()
	if err := o.Publish(context.Background(), e); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func claimIDs(t *testing.T, o *persistence.WebhookOutbox, now time.Time) []string {
	t.Helper()
	got, err := o.Claim(context.Background(), now, time.Minute, 50)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	ids := make([]string, len(got))
	for i, c := range got {
		ids[i] = c.ID
	}
	return ids
}

// TestWebhookOutboxInTransaction: an event exists if and only if the
// transaction that wrote it commits, and its body is the contract's.
func TestWebhookOutboxInTransaction(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx, o, now := webhookSetup(s)
		rolled := webhook.NewUserDeleted(id.New(), id.New(), now)
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := o.Publish(ctx, rolled); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if err == nil {
			t.Fatal("want the rollback's error")
		}
		kept := webhook.NewPasswordChanged(id.New(), id.New(), webhook.ViaChange, now)
		if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return o.Publish(ctx, kept) }); err != nil {
			t.Fatal(err)
		}
		got, err := o.Claim(ctx, now, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != kept.ID {
			t.Fatalf("claimed %+v, %v; want only the committed event", got, err)
		}
		var body struct {
			Type      string            `json:"type"`
			Timestamp string            `json:"timestamp"`
			Data      map[string]string `json:"data"`
		}
		if err := json.Unmarshal(got[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != "password.changed" || body.Timestamp != "2026-12-07T12:00:00Z" ||
			body.Data["userId"] != kept.UserID || body.Data["via"] != "change" {
			t.Fatalf("body %s", got[0].Body)
		}
		if got[0].Attempts != 1 {
			t.Errorf("attempts %d, want 1", got[0].Attempts)
		}
		if err := o.Delivered(ctx, kept.ID); err != nil {
			t.Fatal(err)
		}
		// Not enabled: nothing kept.
		off := persistence.NewWebhookOutbox(s.db).Enable([]webhook.Type{webhook.UserCreated})
		publish(t, off, webhook.NewPasswordChanged(id.New(), id.New(), webhook.ViaChange, now))
		if ids := claimIDs(t, o, now.Add(time.Hour)); len(ids) != 0 {
			t.Fatalf("a filtered type was stored: %v", ids)
		}
	})
}

// TestWebhookOutboxOrderPerUser: one user's events are claimed one at a
// time in write order while none fails; other users' go alongside; an
// event in back-off lets the next one through; a crashed claim (lease run
// out) blocks the later ones until it is posted again.
func TestWebhookOutboxOrderPerUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx, o, now := webhookSetup(s)
		ada, bob := id.New(), id.New()
		a1 := webhook.NewPasswordChanged(id.New(), ada, webhook.ViaChange, now)
		a2 := webhook.NewUserDeleted(id.New(), ada, now)
		b1 := webhook.NewPasswordChanged(id.New(), bob, webhook.ViaReset, now)
		a3 := webhook.NewEmailVerified(id.New(), ada, "ada@example.com", now)
		for _, e := range []webhook.Event{a1, a2, b1, a3} {
			publish(t, o, e)
		}
		equal(t, "first claim", claimIDs(t, o, now), []string{a1.ID, b1.ID})
		if err := o.Delivered(ctx, b1.ID); err != nil {
			t.Fatal(err)
		}
		// a1 in flight: nothing more of Ada's.
		equal(t, "while a1 is in flight", claimIDs(t, o, now), []string{})
		if err := o.Delivered(ctx, a1.ID); err != nil {
			t.Fatal(err)
		}
		equal(t, "after a1", claimIDs(t, o, now), []string{a2.ID})
		// a2 fails and waits a minute: a3 may go.
		if err := o.Retry(ctx, a2.ID, now.Add(time.Minute), "receiver answered 500"); err != nil {
			t.Fatal(err)
		}
		equal(t, "a2 in back-off", claimIDs(t, o, now), []string{a3.ID})
		// The lease of a3 runs out (a crash): a2 is due again at +1m and
		// goes first, a3 waits for it.
		later := now.Add(2 * time.Minute)
		equal(t, "after the lease", claimIDs(t, o, later), []string{a2.ID})
		if err := o.GiveUp(ctx, a2.ID, "gave up"); err != nil {
			t.Fatal(err)
		}
		// Given up, a2 holds nothing back: a3 (its lease long over) goes.
		equal(t, "a2 failed", claimIDs(t, o, later), []string{a3.ID})

		page, err := o.List(ctx, webhook.StatusFailed, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != a2.ID || page.Items[0].LastError != "gave up" ||
			page.Items[0].Attempts != 2 || page.Items[0].Type != webhook.UserDeleted {
			t.Fatalf("failed page %+v, %v", page, err)
		}
		// An operator's retry: pending and due now.
		if err := o.RetryNow(ctx, a2.ID, later); err != nil {
			t.Fatal(err)
		}
		page, _ = o.List(ctx, webhook.StatusPending, "", 10)
		if len(page.Items) != 2 {
			t.Fatalf("pending after the retry: %+v", page.Items)
		}
		if err := o.RetryNow(ctx, id.New(), later); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("retry of an unknown delivery: %v", err)
		}
		n, err := o.Pending(ctx)
		if err != nil || n != 2 {
			t.Fatalf("pending %d, %v", n, err)
		}
	})
}

// TestWebhookOutboxListPages: newest first, keyset cursor, a foreign
// cursor refused.
func TestWebhookOutboxListPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx, o, now := webhookSetup(s)
		var ids []string
		for i := range 5 {
			e := webhook.NewUserDeleted(id.New(), id.New(), now.Add(time.Duration(i)*time.Second))
			publish(t, o, e)
			ids = append(ids, e.ID)
		}
		var seen []string
		cursor := ""
		for {
			page, err := o.List(ctx, "", cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Items {
				seen = append(seen, d.ID)
				if d.Status != webhook.StatusPending || d.NextAttemptAt.IsZero() {
					t.Errorf("delivery %+v", d)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		equal(t, "pages", seen, []string{ids[4], ids[3], ids[2], ids[1], ids[0]})
		if _, err := o.List(ctx, "", "not-a-cursor", 2); !errors.Is(err, webhook.ErrInvalidCursor) {
			t.Fatalf("foreign cursor: %v", err)
		}
		// Delivered rows are kept, then purged.
		for _, e := range ids {
			if err := o.Delivered(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		n, err := o.PurgeDelivered(ctx, now.Add(3*time.Second), 100)
		if err != nil || n != 3 {
			t.Fatalf("purged %d, %v; want 3", n, err)
		}
	})
}

// TestWebhookOutboxClaimsAreExclusive: instances claiming at once never
// take one event twice, and every event is taken (one user per event, so
// order never holds any back).
func TestWebhookOutboxClaimsAreExclusive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx, o, now := webhookSetup(s)
		const total = 60
		for range total {
			publish(t, o, webhook.NewUserDeleted(id.New(), id.New(), now))
		}
		claimEachOnce(t, s, total, func() ([]webhook.Claimed, error) { return o.Claim(ctx, now, time.Minute, 7) },
			func(c webhook.Claimed) string { return c.ID })
	})
}

// TestSessionStoreReportsSessions: the session store reports every start
// and every end (one event per session, the contract's reason) in the
// transaction of the write, and nothing for an account's deletion.
func TestSessionStoreReportsSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		o := webhookOutbox(s)
		s.sessions = persistence.NewSessionStore(s.db).Publishing(o)
		u := mustCreateUser(t, s, "ada@example.com")
		now := base.UTC()
		one, _ := mustStartSession(t, s, u, now)
		two, _ := mustStartSession(t, s, u, now)
		three, _ := mustStartSession(t, s, u, now)
		err := s.sessions.Update(ctx, one.ID, func(cur *session.Session) error {
			cur.Revoke(now, session.ReasonReuseDetected)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.sessions.RevokeAllForUser(ctx, u.ID, three.ID, "disabled", now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonAccountDeleted, now); err != nil {
			t.Fatal(err)
		}
		var got []ev
		for _, b := range drainEvents(t, o, now) {
			if b.Data["userId"] != u.ID {
				t.Errorf("event for %q", b.Data["userId"])
			}
			extra := b.Data["reason"]
			if b.Type == "session.created" {
				extra = b.Data["method"] + " " + b.Data["ip"] + " " + b.Data["userAgent"]
			}
			got = append(got, ev{b.Type, b.Data["sessionId"], extra})
		}
		created := "password 192.0.2.1 test-agent"
		equal(t, "events", got, []ev{
			{"session.created", one.ID, created}, {"session.created", two.ID, created}, {"session.created", three.ID, created},
			{"session.revoked", one.ID, "reuse_detected"}, {"session.revoked", two.ID, "disabled"},
		})
	})
}

// ev is what the session tests compare of an event: its type, session and
// one more field.
type ev struct{ typ, sid, extra string }

// eventBody is an outbox event's body with flat data.
type eventBody struct {
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

// drainEvents claims every event due by an hour after now, in order, and
// marks each delivered.
func drainEvents(t *testing.T, o *persistence.WebhookOutbox, now time.Time) []eventBody {
	t.Helper()
	var out []eventBody
	for {
		claimed, err := o.Claim(context.Background(), now.Add(time.Hour), time.Minute, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			return out
		}
		for _, c := range claimed {
			var b eventBody
			if err := json.Unmarshal(c.Body, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
			if err := o.Delivered(context.Background(), c.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOAuthStoreReportsRevokedSessions: the sessions an OpenID client's
// end revokes (here: the client deleted) are reported one event each,
// under each session's own account, and the accounts' other sessions are
// neither revoked nor reported.
func TestOAuthStoreReportsRevokedSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx, o, _ := webhookSetup(s)
		now := base.UTC()
		st := persistence.NewOAuthStore(s.db).Publishing(o)
		c := newClient(t, st, now)
		want := map[string]string{} // client session -> its account
		for _, email := range []string{"ada@example.com", "grace@example.com"} {
			u := mustCreateUser(t, s, email)
			sess, _ := mustStartSession(t, s, u, now)
			mustStartSession(t, s, u, now) // the account's own session, not the client's
			if err := st.CreateClientSession(ctx, oauth.ClientSession{SessionID: sess.ID, ClientID: c.ID, UserID: u.ID,
				Scopes: []string{"openid"}, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			want[sess.ID] = u.ID
		}
		ids, err := st.RevokeClientSessions(ctx, oidcprovider.SessionFilter{ClientID: c.ID}, oidcprovider.ReasonClientDeleted, now)
		if err != nil || len(ids) != 2 {
			t.Fatalf("revoked %v, %v; want the two client sessions", ids, err)
		}
		got := map[string]string{}
		for _, b := range drainEvents(t, o, now) {
			if b.Type != "session.revoked" || b.Data["reason"] != "revoked" {
				t.Errorf("event %s with reason %q, want session.revoked with reason revoked", b.Type, b.Data["reason"])
			}
			got[b.Data["sessionId"]] = b.Data["userId"]
		}
		equal(t, "revoked sessions reported (session -> account)", got, want)
	})
}

// TestAppMetadataStored: appMetadata round-trips through the admin
// update, is cleared by an empty object, and comes back with the user the
// refresh fast path reads (no other query).
func TestAppMetadataStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		u := mustCreateUser(t, s, "ada@example.com")
		setMeta := func(m map[string]any) user.AppMetadata {
			t.Helper()
			meta, err := user.NewAppMetadata("appMetadata", m)
			if err != nil {
				t.Fatal(err)
			}
			err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
				_, err := dir.UpdateAdmin(ctx, u.ID, func(cur *user.User) error {
					cur.AppMetadata = meta
					return nil
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return meta
		}
		meta := setMeta(map[string]any{"tenant": "acme", "seats": float64(5), "tags": []any{"a", "b"}})
		equal(t, "compact encoding", meta, user.AppMetadata(`{"seats":5,"tags":["a","b"],"tenant":"acme"}`))
		got, err := s.users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "stored", got.AppMetadata, meta)

		now := base.UTC()
		sess, raw := mustStartSession(t, s, u, now)
		tok, err := codec.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, next, err := codec.Issue(sess.ID, sess.Generation+1)
		if err != nil {
			t.Fatal(err)
		}
		_, ru, ok, err := s.sessions.RotateCurrent(ctx, authn.RotateInput{Token: tok, Policy: policy, Now: now.Add(time.Minute), Next: next})
		if err != nil || !ok {
			t.Fatalf("rotate: %v %v", ok, err)
		}
		equal(t, "user of the rotation", ru.AppMetadata, meta)

		setMeta(nil)
		got, _ = s.users.ByID(ctx, u.ID)
		if got.AppMetadata != "" {
			t.Fatalf("cleared metadata reads %v", got.AppMetadata)
		}

		// A row edited by hand to something else reads as none, so the
		// account's tokens still issue.
		for _, bad := range []string{"[1]", "not json", `{"a":`} {
			if err := s.db.Exec("UPDATE users SET app_metadata = ? WHERE id = ?", bad, u.ID).Error; err != nil {
				t.Fatal(err)
			}
			if got, _ = s.users.ByID(ctx, u.ID); got.AppMetadata != "" {
				t.Errorf("hand-edited %q reads as %q", bad, got.AppMetadata)
			}
		}
	})
}

// TestWebhookClaimReadsOnlyPendingRows: with 100,000 delivered and failed
// events kept for operators, the claim reads the partial indexes of
// pending rows only: no sequential scan, and a few index entries per
// pending event (the due ones and the per-user order check), none per done
// one.
func TestWebhookClaimReadsOnlyPendingRows(t *testing.T) {
	s := onePostgresConn(t)
	ctx := context.Background()
	now := time.Now()
	err := s.db.Exec(`INSERT INTO webhook_outbox (id, type, user_id, body, status, attempts, next_attempt_at, window_from, created_at)
		SELECT gen_random_uuid()::text, 'session.created', 'u' || (g % 1000), '{}',
			CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 1, ?, ?, now()
		FROM generate_series(1, 100000) g`, now.Add(-time.Hour).UnixMilli(), now.Add(-time.Hour).UnixMilli()).Error
	if err != nil {
		t.Fatal(err)
	}
	o := persistence.NewWebhookOutbox(s.db).Enable(webhook.Types())
	for i, due := range []time.Duration{-time.Minute, -time.Second, 0, time.Hour, 2 * time.Hour} {
		e := webhook.NewUserDeleted(id.New(), "u"+string(rune('a'+i)), now.Add(due))
		if err := o.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Exec("ANALYZE webhook_outbox").Error; err != nil {
		t.Fatal(err)
	}
	// The 3 due claimed, reading a few entries per pending event (the due
	// range, each candidate's order check), nothing per delivered or
	// failed one: 18 when written, at most 5 per pending event allowed.
	claimReadsIndexesOnly(t, s, "webhook_outbox", []string{"webhook_outbox_claim_idx", "webhook_outbox_user_idx"}, 3, 25,
		func() (int, error) {
			got, err := o.Claim(ctx, now, 2*time.Minute, 10)
			return len(got), err
		})
}
