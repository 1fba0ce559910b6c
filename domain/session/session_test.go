package session_test

import (
	"reflect"
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
	if !reflect.DeepEqual(s, want) {
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
	// rotated2 (its successor sealed), 1 long before.
	start := t0
	rotated2 := start.Add(2 * time.Hour)
	h := func(b byte) [32]byte { return [32]byte{b, 1, 2, 3} }
	base := policy.Start("sid", "uid", start, "", "")
	base.Generation = 3
	base.TokenHash, base.PrevTokenHash = h(3), h(2)
	base.RotatedAt, base.SuccessorSealed = rotated2, []byte("sealed successor")
	policy.Touch(&base, rotated2, "", "")

	current := session.Presented{Hash: h(3), SessionID: "sid", Generation: 3}
	parent := session.Presented{Hash: h(2), SessionID: "sid", Generation: 2}
	grandparent := session.Presented{Hash: h(1), SessionID: "sid", Generation: 1}
	legacyGrandparent := grandparent
	legacyGrandparent.Legacy = true
	otherSession := current
	otherSession.SessionID = "other"
	// Genuine format, current generation, but not the token handed out.
	forgedCurrent := session.Presented{Hash: h(9), SessionID: "sid", Generation: 3}
	future := session.Presented{Hash: h(4), SessionID: "sid", Generation: 4}

	unsealed := base
	unsealed.SuccessorSealed = nil

	revoked := base
	revoked.Revoke(rotated2.Add(time.Second), session.ReasonLogout)

	// Session moved two generations within the grace interval: generation 1
	// is then a grandparent rotated a moment ago.
	fast := base
	fast.RotatedAt = rotated2

	idleEnd := base.IdleExpiresAt
	absEnd := base.AbsoluteExpiresAt
	old := base
	policy.Touch(&old, absEnd.Add(-time.Hour), "", "")

	tests := []struct {
		name string
		s    session.Session
		tok  session.Presented
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
		{"predecessor within grace but no sealed successor", unsealed, parent, rotated2.Add(time.Second), session.RevokeForReuse},
		{"grandparent within grace", fast, grandparent, rotated2, session.RevokeForReuse},
		{"grandparent after grace", base, grandparent, rotated2.Add(time.Minute), session.RevokeForReuse},
		{"legacy grandparent", base, legacyGrandparent, rotated2.Add(time.Minute), session.RevokeForReuse},
		{"token of another session", base, otherSession, rotated2.Add(time.Minute), session.Reject},
		{"current generation, not the issued token", base, forgedCurrent, rotated2.Add(time.Minute), session.Reject},
		{"a later generation", base, future, rotated2.Add(time.Minute), session.Reject},
		{"revoked session, current token", revoked, current, rotated2.Add(time.Minute), session.Reject},
		{"revoked session, predecessor within grace", revoked, parent, rotated2.Add(2 * time.Second), session.Reject},
		{"revoked session, old ancestor", revoked, grandparent, rotated2.Add(time.Hour), session.Reject},
		{"idle-expired, current token", base, current, idleEnd, session.Reject},
		{"idle-expired, old ancestor", base, grandparent, idleEnd.Add(time.Hour), session.Reject},
		{"absolute-expired though recently used", old, current, absEnd, session.Reject},
		{"absolute-expired long after", old, current, absEnd.Add(24 * time.Hour), session.Reject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.Decide(tc.s, tc.tok, tc.now); got != tc.want {
				t.Fatalf("Decide = %s; want %s", decisionName(got), decisionName(tc.want))
			}
		})
	}
}

func TestRotateAndEraseSealed(t *testing.T) {
	s := policy.Start("sid", "uid", t0, "Firefox", "203.0.113.7")
	s.TokenHash = [32]byte{1}
	now := t0.Add(time.Hour)
	policy.Rotate(&s, [32]byte{2}, []byte("seal"), now, "Chrome", "")
	if s.Generation != 2 || s.TokenHash != ([32]byte{2}) || s.PrevTokenHash != ([32]byte{1}) ||
		!s.RotatedAt.Equal(now) || string(s.SuccessorSealed) != "seal" || !s.LastUsedAt.Equal(now) ||
		s.UserAgent != "Chrome" || s.IP != "203.0.113.7" || !s.IdleExpiresAt.Equal(now.Add(policy.IdleTTL)) {
		t.Fatalf("after Rotate: %+v", s)
	}
	if policy.EraseSealed(&s, now.Add(policy.ReuseGrace)) || s.SuccessorSealed == nil {
		t.Fatal("EraseSealed erased within the grace interval")
	}
	if !policy.EraseSealed(&s, now.Add(policy.ReuseGrace+time.Nanosecond)) || s.SuccessorSealed != nil {
		t.Fatal("EraseSealed kept the seal after the grace interval")
	}
	if policy.EraseSealed(&s, now.Add(time.Hour)) {
		t.Fatal("EraseSealed reported erasing nothing")
	}
	policy.Rotate(&s, [32]byte{3}, []byte("seal"), now, "", "")
	s.Revoke(now, session.ReasonLogout)
	if s.SuccessorSealed != nil {
		t.Fatal("a revoked session keeps its sealed successor")
	}
}
