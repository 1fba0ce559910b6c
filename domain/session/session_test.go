package session_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
)

var t0 = time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)

var policy = session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

func TestStart(t *testing.T) {
	s := policy.Start("sid", "uid", t0, "Firefox", "203.0.113.7")
	want := session.Session{
		ID: "sid", UserID: "uid",
		CreatedAt: t0, LastUsedAt: t0, AuthTime: t0,
		IdleExpiresAt:     t0.Add(policy.IdleTTL),
		AbsoluteExpiresAt: t0.Add(policy.AbsoluteTTL),
		UserAgent:         "Firefox", IP: "203.0.113.7",
		Generation: 1,
	}
	if s != want {
		t.Fatalf("Start =\n %+v\nwant\n %+v", s, want)
	}
	if s.Revoked() || !s.Active(t0) {
		t.Fatalf("a new session must be active and not revoked: %+v", s)
	}
}

func TestStartCapsIdleByAbsolute(t *testing.T) {
	p := session.Policy{IdleTTL: 48 * time.Hour, AbsoluteTTL: 24 * time.Hour}
	s := p.Start("sid", "uid", t0, "", "")
	if !s.IdleExpiresAt.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("IdleExpiresAt = %v; want capped at the absolute expiry %v", s.IdleExpiresAt, t0.Add(24*time.Hour))
	}
	if !s.ExpiresAt().Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("ExpiresAt = %v; want %v", s.ExpiresAt(), t0.Add(24*time.Hour))
	}
}

func TestTouch(t *testing.T) {
	tests := []struct {
		name     string
		at       time.Duration // after start
		ua, ip   string
		wantIdle time.Duration // after start
		wantUA   string
		wantIP   string
	}{
		{"idle restarts", 3 * 24 * time.Hour, "Chrome", "198.51.100.1", 10 * 24 * time.Hour, "Chrome", "198.51.100.1"},
		{"empty client data keeps the old", 24 * time.Hour, "", "", 8 * 24 * time.Hour, "Firefox", "203.0.113.7"},
		{"idle capped by absolute", 25 * 24 * time.Hour, "", "", 30 * 24 * time.Hour, "Firefox", "203.0.113.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := policy.Start("sid", "uid", t0, "Firefox", "203.0.113.7")
			now := t0.Add(tc.at)
			policy.Touch(&s, now, tc.ua, tc.ip)
			if !s.LastUsedAt.Equal(now) {
				t.Errorf("LastUsedAt = %v; want %v", s.LastUsedAt, now)
			}
			if want := t0.Add(tc.wantIdle); !s.IdleExpiresAt.Equal(want) {
				t.Errorf("IdleExpiresAt = %v; want %v", s.IdleExpiresAt, want)
			}
			if !s.AbsoluteExpiresAt.Equal(t0.Add(policy.AbsoluteTTL)) {
				t.Errorf("Touch moved the absolute expiry to %v", s.AbsoluteExpiresAt)
			}
			if s.UserAgent != tc.wantUA || s.IP != tc.wantIP {
				t.Errorf("client = %q %q; want %q %q", s.UserAgent, s.IP, tc.wantUA, tc.wantIP)
			}
			if !s.AuthTime.Equal(t0) || !s.CreatedAt.Equal(t0) || s.Generation != 1 {
				t.Errorf("Touch changed auth time, creation or generation: %+v", s)
			}
		})
	}
}

func TestExpiresAtAndActive(t *testing.T) {
	idle := t0.Add(time.Hour)
	abs := t0.Add(2 * time.Hour)
	revoked := session.Session{IdleExpiresAt: idle, AbsoluteExpiresAt: abs, RevokedAt: t0}
	tests := []struct {
		name   string
		s      session.Session
		now    time.Time
		expiry time.Time
		active bool
	}{
		{"before idle expiry", session.Session{IdleExpiresAt: idle, AbsoluteExpiresAt: abs}, idle.Add(-time.Nanosecond), idle, true},
		{"exactly at idle expiry", session.Session{IdleExpiresAt: idle, AbsoluteExpiresAt: abs}, idle, idle, false},
		{"after idle expiry", session.Session{IdleExpiresAt: idle, AbsoluteExpiresAt: abs}, idle.Add(time.Minute), idle, false},
		{"absolute earlier than idle", session.Session{IdleExpiresAt: abs, AbsoluteExpiresAt: idle}, idle, idle, false},
		{"absolute earlier, before it", session.Session{IdleExpiresAt: abs, AbsoluteExpiresAt: idle}, idle.Add(-time.Second), idle, true},
		{"revoked", revoked, t0.Add(time.Minute), idle, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.ExpiresAt(); !got.Equal(tc.expiry) {
				t.Errorf("ExpiresAt = %v; want %v", got, tc.expiry)
			}
			if got := tc.s.Active(tc.now); got != tc.active {
				t.Errorf("Active(%v) = %v; want %v", tc.now, got, tc.active)
			}
		})
	}
}

func TestRevokeIsIdempotent(t *testing.T) {
	s := policy.Start("sid", "uid", t0, "", "")
	s.Revoke(t0.Add(time.Minute), session.ReasonLogout)
	if !s.Revoked() || !s.RevokedAt.Equal(t0.Add(time.Minute)) || s.RevokeReason != session.ReasonLogout {
		t.Fatalf("after Revoke: %+v", s)
	}
	if s.Active(t0.Add(2 * time.Minute)) {
		t.Fatal("a revoked session is active")
	}
	s.Revoke(t0.Add(time.Hour), session.ReasonReuseDetected)
	if !s.RevokedAt.Equal(t0.Add(time.Minute)) || s.RevokeReason != session.ReasonLogout {
		t.Fatalf("second Revoke changed the first time and reason: %v %q", s.RevokedAt, s.RevokeReason)
	}
}

func decisionName(d session.Decision) string {
	switch d {
	case session.Reject:
		return "Reject"
	case session.Rotate:
		return "Rotate"
	case session.Replay:
		return "Replay"
	case session.RevokeForReuse:
		return "RevokeForReuse"
	}
	return "unknown"
}

func TestDecide(t *testing.T) {
	// A session at generation 3: token 3 is current, 2 was rotated at
	// rotated2, 1 long before.
	start := t0
	rotated1 := start.Add(time.Hour)
	rotated2 := start.Add(2 * time.Hour)
	base := policy.Start("sid", "uid", start, "", "")
	base.Generation = 3
	policy.Touch(&base, rotated2, "", "")

	sealed := []byte("sealed successor")
	current := session.RefreshToken{SessionID: "sid", Generation: 3, CreatedAt: rotated2}
	parent := session.RefreshToken{SessionID: "sid", Generation: 2, CreatedAt: rotated1, RotatedAt: rotated2, SuccessorSealed: sealed}
	grandparent := session.RefreshToken{SessionID: "sid", Generation: 1, CreatedAt: start, RotatedAt: rotated1, SuccessorSealed: sealed}
	unsealedParent := parent
	unsealedParent.SuccessorSealed = nil
	staleUnrotated := session.RefreshToken{SessionID: "sid", Generation: 2, CreatedAt: rotated1}

	revoked := base
	revoked.Revoke(rotated2.Add(time.Second), session.ReasonLogout)

	// A grandparent rotated just now: the session moved two generations
	// within the grace interval.
	fast := base
	fastGrand := grandparent
	fastGrand.RotatedAt = rotated2.Add(-time.Second)

	idleEnd := base.IdleExpiresAt
	absEnd := base.AbsoluteExpiresAt
	// A session refreshed late in its life: idle capped at the absolute end.
	old := base
	policy.Touch(&old, absEnd.Add(-time.Hour), "", "")
	oldCurrent := current
	oldCurrent.CreatedAt = absEnd.Add(-time.Hour)

	tests := []struct {
		name string
		s    session.Session
		tok  session.RefreshToken
		now  time.Time
		want session.Decision
	}{
		{"current token", base, current, rotated2.Add(time.Minute), session.Rotate},
		{"current token just before idle expiry", base, current, idleEnd.Add(-time.Nanosecond), session.Rotate},
		{"predecessor within grace", base, parent, rotated2.Add(5 * time.Second), session.Replay},
		{"predecessor at the same instant", base, parent, rotated2, session.Replay},
		// The boundary is inclusive: exactly ReuseGrace after the rotation
		// still replays; one nanosecond later is reuse.
		{"predecessor exactly at grace", base, parent, rotated2.Add(policy.ReuseGrace), session.Replay},
		{"predecessor just after grace", base, parent, rotated2.Add(policy.ReuseGrace + time.Nanosecond), session.RevokeForReuse},
		{"predecessor long after", base, parent, rotated2.Add(time.Hour), session.RevokeForReuse},
		{"predecessor within grace but no sealed successor", base, unsealedParent, rotated2.Add(time.Second), session.RevokeForReuse},
		{"grandparent within grace", fast, fastGrand, rotated2, session.RevokeForReuse},
		{"grandparent after grace", base, grandparent, rotated2.Add(time.Minute), session.RevokeForReuse},
		{"unrotated token of an old generation", base, staleUnrotated, rotated2.Add(time.Second), session.RevokeForReuse},
		{"revoked session, current token", revoked, current, rotated2.Add(time.Minute), session.Reject},
		{"revoked session, predecessor within grace", revoked, parent, rotated2.Add(2 * time.Second), session.Reject},
		{"revoked session, old ancestor", revoked, grandparent, rotated2.Add(time.Hour), session.Reject},
		{"idle-expired, current token", base, current, idleEnd, session.Reject},
		{"idle-expired, old ancestor", base, grandparent, idleEnd.Add(time.Hour), session.Reject},
		{"absolute-expired though recently used", old, oldCurrent, absEnd, session.Reject},
		{"absolute-expired long after", old, oldCurrent, absEnd.Add(24 * time.Hour), session.Reject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.Decide(tc.s, tc.tok, tc.now); got != tc.want {
				t.Fatalf("Decide = %s; want %s", decisionName(got), decisionName(tc.want))
			}
		})
	}
}
