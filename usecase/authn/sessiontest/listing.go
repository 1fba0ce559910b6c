package sessiontest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
)

// runLiveness checks the access check's narrow read against the session
// as stored: live, revoked, idle-expired and past its absolute lifetime,
// with its user and never the user's password hash.
func runLiveness(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u := mkUser(t, h)
	cases := []struct {
		name string
		edit func(*session.Session)
	}{
		{"live", noChange},
		{"revoked", func(s *session.Session) { s.Revoke(T0.Add(time.Minute), session.ReasonLogout) }},
		{"idle expiry before absolute", func(s *session.Session) { s.IdleExpiresAt = T0.Add(time.Hour) }},
		{"absolute before idle", func(s *session.Session) { s.AbsoluteExpiresAt = T0.Add(30 * time.Minute) }},
	}
	for _, tc := range cases {
		s := Policy.Start(id.New(), u.ID, T0, "agent", "192.0.2.1")
		s.TokenHash = hashOf(9)
		tc.edit(&s)
		if err := h.Sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, gotUser, err := h.Sessions.Liveness(ctx, s.ID)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := s.Liveness()
		if got.ID != want.ID || got.UserID != want.UserID || !got.RevokedAt.Equal(want.RevokedAt) ||
			!got.IdleExpiresAt.Equal(want.IdleExpiresAt) || !got.AbsoluteExpiresAt.Equal(want.AbsoluteExpiresAt) {
			t.Errorf("%s: liveness %+v; want %+v", tc.name, got, want)
		}
		for _, now := range []time.Time{T0, T0.Add(45 * time.Minute), T0.Add(2 * time.Hour), T0.Add(Policy.AbsoluteTTL)} {
			if got.Active(now) != s.Active(now) {
				t.Errorf("%s at %v: active %v; the session says %v", tc.name, now, got.Active(now), s.Active(now))
			}
		}
		if gotUser.ID != u.ID || gotUser.Email != u.Email || len(gotUser.Roles) != len(u.Roles) || gotUser.PasswordHash != "" {
			t.Errorf("%s: user %+v; want %s/%s with roles %v and no password hash", tc.name, gotUser, u.ID, u.Email, u.Roles)
		}
	}
	if _, _, err := h.Sessions.Liveness(ctx, id.New()); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("liveness of an unknown session = %v", err)
	}
	if _, _, err := h.Sessions.Liveness(ctx, "not-a-uuid"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("liveness of a malformed id = %v", err)
	}
}

// runListing pages through an account's active sessions and caps them.
func runListing(t *testing.T, open func(t *testing.T) Harness) {
	h := open(t)
	ctx := context.Background()
	u, other := mkUser(t, h), mkUser(t, h)
	now := T0.Add(time.Hour)
	var want []session.Session
	mk := func(userID string, at time.Time, edit func(*session.Session)) session.Session {
		s := Policy.Start(id.New(), userID, at, "", "")
		s.TokenHash = hashOf(1)
		edit(&s)
		if err := h.Sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for i := range 7 {
		// Pairs share a creation time: ties are ordered by ID.
		want = append(want, mk(u.ID, T0.Add(time.Duration(i/2)*time.Minute), noChange))
	}
	mk(u.ID, T0, func(s *session.Session) { s.Revoke(T0, session.ReasonLogout) })
	mk(u.ID, T0.Add(-Policy.IdleTTL), noChange) // expired at now
	mk(other.ID, T0, noChange)
	slices.SortFunc(want, func(a, b session.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := h.Sessions.ListActive(ctx, u.ID, now, cursor, 3)
		if err != nil || len(page.Sessions) > 3 || pages > 3 {
			t.Fatalf("page %d: %d sessions, %v", pages, len(page.Sessions), err)
		}
		for _, s := range page.Sessions {
			got = append(got, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	var wantIDs []string
	for _, s := range want {
		wantIDs = append(wantIDs, s.ID)
	}
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("pages:\n got  %v\n want %v", got, wantIDs)
	}
	if _, err := h.Sessions.ListActive(ctx, u.ID, now, "bm90IGEgY3Vyc29y", 3); !errors.Is(err, session.ErrInvalidCursor) {
		t.Fatalf("a cursor nobody issued: %v", err)
	}
	ids, err := h.Sessions.RevokeBeyond(ctx, u.ID, 5, session.ReasonSessionLimit, now)
	if err != nil {
		t.Fatal(err)
	}
	oldest := []string{wantIDs[5], wantIDs[6]}
	slices.Sort(oldest)
	if !slices.Equal(ids, oldest) {
		t.Fatalf("RevokeBeyond revoked %v; want the two oldest %v", ids, oldest)
	}
	page, err := h.Sessions.ListActive(ctx, u.ID, now, "", 100)
	if err != nil || len(page.Sessions) != 5 {
		t.Fatalf("after the cap: %d sessions, %v", len(page.Sessions), err)
	}
	if s := w0(t, h, wantIDs[6]); s.RevokeReason != session.ReasonSessionLimit {
		t.Fatalf("capped session: %+v", s)
	}
	if ids, err := h.Sessions.RevokeBeyond(ctx, u.ID, 5, session.ReasonSessionLimit, now); err != nil || len(ids) != 0 {
		t.Fatalf("second RevokeBeyond: %v, %v", ids, err)
	}
}
