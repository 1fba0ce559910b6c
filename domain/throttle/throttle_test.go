package throttle

import (
	"testing"
	"time"
)

var policy = Policy{BackoffAfter: 5, BaseDelay: time.Second, MaxFailures: 10, Window: 15 * time.Minute, Lockout: 15 * time.Minute}

func TestBackoffThenLockout(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var s State
	// Five failures in quick succession are all admitted.
	for i := range 5 {
		if _, ok := policy.Admit(s, now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		s = policy.Fail(s, now)
	}
	// The sixth must wait 1 s, the seventh 2 s, the eighth 4 s ...
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		wait, ok := policy.Admit(s, now)
		if ok || wait != want {
			t.Fatalf("after %d failures: wait %v ok %v, want %v", 5+i, wait, ok, want)
		}
		now = now.Add(want)
		if _, ok := policy.Admit(s, now); !ok {
			t.Fatalf("refused after waiting %v", want)
		}
		s = policy.Fail(s, now)
	}
	// That was the ninth failure; the tenth locks the account.
	now = now.Add(16 * time.Second)
	s = policy.Fail(s, now)
	wait, ok := policy.Admit(s, now.Add(time.Minute))
	if ok || wait != 14*time.Minute {
		t.Fatalf("locked: wait %v ok %v", wait, ok)
	}
	// Never permanent: after the lockout, a clean slate.
	if _, ok := policy.Admit(s, now.Add(15*time.Minute)); !ok {
		t.Fatal("still locked after the lockout")
	}
	if !policy.Stale(s, now.Add(15*time.Minute)) {
		t.Error("ended lockout not stale")
	}
	s = policy.Fail(s, now.Add(15*time.Minute))
	if s.Failures != 1 {
		t.Errorf("failures after lockout = %d, want 1", s.Failures)
	}
}

func TestWindowForgetsOldFailures(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var s State
	for range 4 {
		s = policy.Fail(s, now)
	}
	s = policy.Fail(s, now.Add(15*time.Minute))
	if s.Failures != 1 {
		t.Errorf("failures = %d after the window passed, want 1", s.Failures)
	}
	if policy.Stale(s, now.Add(15*time.Minute)) {
		t.Error("fresh failure reported stale")
	}
}

func TestDelayIsCappedByLockout(t *testing.T) {
	p := Policy{BackoffAfter: 1, BaseDelay: time.Minute, MaxFailures: 100, Window: time.Hour, Lockout: 5 * time.Minute}
	if d := p.delay(50); d != 5*time.Minute {
		t.Errorf("delay = %v", d)
	}
}

func TestUndo(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var s State
	for range 10 {
		s = policy.Fail(s, now)
	}
	if _, ok := policy.Admit(s, now); ok {
		t.Fatal("not locked after ten failures")
	}
	s = policy.Undo(s)
	if s.Failures != 9 || !s.LockedUntil.IsZero() {
		t.Fatalf("after undo: %+v", s)
	}
	if got := policy.Undo(policy.Fail(State{}, now)); got != (State{}) {
		t.Errorf("undoing the only failure left %+v", got)
	}
	if got := policy.Undo(State{}); got != (State{}) {
		t.Errorf("undo below zero: %+v", got)
	}
}
