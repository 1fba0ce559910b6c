package persistence_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
)

func TestAuditPaginationNewestFirst(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		userID := id.New()
		// 11 events: 7 sharing one timestamp (the tie-break must still
		// page them without loss), 4 at distinct later times.
		var want []audit.Event
		for i := range 11 {
			at := base
			if i >= 7 {
				at = base.Add(time.Duration(i) * time.Second)
			}
			e := audit.Event{ID: id.New(), UserID: userID, SessionID: id.New(), Type: audit.LoginSucceeded,
				IP: "192.0.2.1", UserAgent: "agent", CreatedAt: at}
			if i%3 == 0 {
				e.SessionID = "" // stored as NULL, read back empty
			}
			if err := s.audit.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			e.CreatedAt = norm(e.CreatedAt)
			want = append(want, e)
		}
		if err := s.audit.Append(ctx, audit.Event{UserID: id.New(), Type: audit.LoginFailed, CreatedAt: base.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		var got []audit.Event
		cursor, pages := "", 0
		for {
			page, err := s.audit.ListByUser(ctx, userID, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, page.Events...)
			if page.NextCursor == "" {
				break
			}
			if len(page.Events) != 3 {
				t.Fatalf("a non-final page has %d events", len(page.Events))
			}
			cursor = page.NextCursor
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if pages != 4 || len(got) != len(want) {
			t.Fatalf("%d pages, %d events; want 4 and %d", pages, len(got), len(want))
		}
		seen := map[string]bool{}
		for i, e := range got {
			if seen[e.ID] {
				t.Fatalf("event %s listed twice", e.ID)
			}
			seen[e.ID] = true
			if i > 0 {
				prev := got[i-1]
				if prev.CreatedAt.Before(e.CreatedAt) || prev.CreatedAt.Equal(e.CreatedAt) && prev.ID < e.ID {
					t.Fatalf("not newest first at %d: %v/%s then %v/%s", i, prev.CreatedAt, prev.ID, e.CreatedAt, e.ID)
				}
			}
		}
		byID := map[string]audit.Event{}
		for _, e := range want {
			byID[e.ID] = e
		}
		for _, e := range got {
			equal(t, "event", e, byID[e.ID])
		}

		full, err := s.audit.ListByUser(ctx, userID, "", 0)
		if err != nil || len(full.Events) != 11 || full.NextCursor != "" {
			t.Fatalf("default page: %d events, cursor %q, %v", len(full.Events), full.NextCursor, err)
		}
		empty, err := s.audit.ListByUser(ctx, id.New(), "", 10)
		if err != nil || len(empty.Events) != 0 || empty.NextCursor != "" {
			t.Fatalf("unknown user: %+v, %v", empty, err)
		}
	})
}

func TestAuditInvalidCursor(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		for _, c := range []string{
			"!!!",
			base64.RawURLEncoding.EncodeToString([]byte("garbage")),
			base64.RawURLEncoding.EncodeToString([]byte("123.not-an-id")),
			base64.RawURLEncoding.EncodeToString([]byte("x." + id.New())),
		} {
			_, err := s.audit.ListByUser(context.Background(), id.New(), c, 10)
			if !errors.Is(err, persistence.ErrInvalidCursor) {
				t.Errorf("cursor %q: err = %v, want ErrInvalidCursor", c, err)
			}
		}
	})
}

func TestAuditScrubUserAndTransactions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		gone, kept := id.New(), id.New()
		for _, uid := range []string{gone, gone, kept} {
			e := audit.Event{UserID: uid, Type: audit.PasswordChanged, IP: "192.0.2.1", UserAgent: "agent", CreatedAt: base}
			if err := s.audit.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.audit.ScrubUser(ctx, gone); err != nil {
			t.Fatal(err)
		}
		page, _ := s.audit.ListByUser(ctx, gone, "", 10)
		if len(page.Events) != 2 {
			t.Fatalf("scrub removed events: %d left", len(page.Events))
		}
		for _, e := range page.Events {
			if e.IP != "" || e.UserAgent != "" || e.UserID != gone {
				t.Fatalf("not scrubbed: %+v", e)
			}
		}
		page, _ = s.audit.ListByUser(ctx, kept, "", 10)
		if page.Events[0].IP == "" {
			t.Fatal("another user's event was scrubbed")
		}

		// An event appended in a transaction that rolls back is not kept.
		boom := errors.New("boom")
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := s.audit.Append(ctx, audit.Event{UserID: kept, Type: audit.LogoutAll, CreatedAt: base}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		page, _ = s.audit.ListByUser(ctx, kept, "", 10)
		if len(page.Events) != 1 {
			t.Fatalf("%d events, want the rolled-back one gone", len(page.Events))
		}
	})
}

// Issue 10 item 11, issue 21 item 3: one account cannot add routine events
// faster than the bound; past it one marker per window counts what was
// dropped; account, factor, recovery and admin events are always recorded
// and do not fill the bound; old events are purged.
func TestAuditBoundAndRetention(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		log := s.audit.Limit(3, time.Hour)
		userID, other := id.New(), id.New()
		at := func(d time.Duration) time.Time { return base.Add(d) }
		// Kept events first: they must not use up the routine bound.
		for i, typ := range []audit.Type{audit.PasskeyAdded, audit.AdminRolesChanged, audit.MFAEnabled} {
			if err := log.Append(ctx, audit.Event{UserID: userID, Type: typ, CreatedAt: at(time.Duration(i) * time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 6 {
			typ := audit.LoginFailed
			if i%2 == 1 {
				typ = audit.Reauthenticated
			}
			if err := log.Append(ctx, audit.Event{UserID: userID, Type: typ, IP: "203.0.113.9", CreatedAt: at(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		// Past the bound, what matters is still recorded.
		for i, typ := range []audit.Type{audit.PasswordChanged, audit.PasskeyAdded, audit.MFADisabled, audit.PasswordReset, audit.AdminUserDisabled} {
			if err := log.Append(ctx, audit.Event{UserID: userID, Type: typ, CreatedAt: at(time.Minute + time.Duration(i)*time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := log.Append(ctx, audit.Event{UserID: other, Type: audit.LoginFailed, CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
		// Drops are counted in memory and written by the flush (every
		// second in the service, and before a listing).
		if n := count(t, s, "security_events"); n != 12 {
			t.Fatalf("%d rows before the flush, want 12 (no marker yet)", n)
		}
		if n, err := log.FlushSuppressed(ctx); err != nil || n != 3 {
			t.Fatalf("flush wrote %d drops, %v; want 3", n, err)
		}
		if n, err := log.FlushSuppressed(ctx); err != nil || n != 0 {
			t.Fatalf("second flush wrote %d drops, %v", n, err)
		}
		page, err := log.ListByUser(ctx, userID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		byType := map[audit.Type]int{}
		var marker audit.Event
		for _, e := range page.Events {
			byType[e.Type]++
			if e.Type == audit.EventsSuppressed {
				marker = e
			}
		}
		if byType[audit.LoginFailed]+byType[audit.Reauthenticated] != 3 || byType[audit.PasskeyAdded] != 2 ||
			byType[audit.AdminRolesChanged] != 1 || byType[audit.MFAEnabled] != 1 || byType[audit.PasswordChanged] != 1 ||
			byType[audit.MFADisabled] != 1 || byType[audit.PasswordReset] != 1 || byType[audit.AdminUserDisabled] != 1 ||
			byType[audit.EventsSuppressed] != 1 {
			t.Fatalf("stored %v, want 3 routine, every kept event and one marker", byType)
		}
		if marker.Suppressed != 3 || marker.IP != "203.0.113.9" || !marker.CreatedAt.Equal(at(3*time.Second).Truncate(time.Microsecond)) || marker.SessionID != "" {
			t.Errorf("marker %+v, want 3 suppressed since the 4th routine event", marker)
		}
		// A window later the account may add events again, and a later
		// flood gets a marker of its own.
		for i := range 5 {
			if err := log.Append(ctx, audit.Event{UserID: userID, Type: audit.LoginFailed, CreatedAt: at(2*time.Hour + time.Duration(i)*time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		page, _ = log.ListByUser(ctx, userID, "", 2)
		if page.Events[0].Type != audit.EventsSuppressed || page.Events[0].Suppressed != 2 || page.Events[1].Type != audit.LoginFailed {
			t.Errorf("second window: newest %+v, %+v; want a marker of 2 after the 3rd failure", page.Events[0], page.Events[1])
		}
		n, err := s.audit.PurgeBefore(ctx, base.Add(90*time.Minute), 2)
		if err != nil {
			t.Fatal(err)
		}
		if n != 13 || count(t, s, "security_events") != 4 {
			t.Errorf("purged %d, %d left; want 13 purged, 4 left", n, count(t, s, "security_events"))
		}
	})
}
