// Package throttle holds the rules that slow down password guessing: per
// account, exponential back-off after a few consecutive failures and a
// temporary lockout after many, as pure functions of the current time.
package throttle

import (
	"fmt"
	"time"
)

// LimitedError means an attempt was refused by a throttle; the client may
// try again after RetryAfter.
type LimitedError struct {
	RetryAfter time.Duration
}

// Error implements error.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("throttled: retry after %s", e.RetryAfter)
}

// Policy is the account throttle's configuration.
type Policy struct {
	// BackoffAfter consecutive failures, each further attempt must wait
	// BaseDelay, then twice that, and so on.
	BackoffAfter int
	BaseDelay    time.Duration
	// MaxFailures within Window lock password login for Lockout.
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
}

// State is what the store keeps per account key.
type State struct {
	Failures    int
	WindowStart time.Time
	LastFailure time.Time
	LockedUntil time.Time
}

// current returns s as it stands at now: a failure window that has passed,
// or a lockout that has ended, starts over. A lockout is never permanent.
func (p Policy) current(s State, now time.Time) State {
	if !s.LockedUntil.IsZero() {
		if now.Before(s.LockedUntil) {
			return s
		}
		return State{}
	}
	if s.Failures > 0 && now.Sub(s.WindowStart) >= p.Window {
		return State{}
	}
	return s
}

// Admit decides whether an attempt at now may proceed. When it may not, it
// returns how long the client must wait.
func (p Policy) Admit(s State, now time.Time) (time.Duration, bool) {
	s = p.current(s, now)
	if now.Before(s.LockedUntil) {
		return s.LockedUntil.Sub(now), false
	}
	if s.Failures >= p.BackoffAfter && p.BackoffAfter > 0 {
		next := s.LastFailure.Add(p.delay(s.Failures))
		if now.Before(next) {
			return next.Sub(now), false
		}
	}
	return 0, true
}

// delay is the wait after the given number of consecutive failures:
// BaseDelay doubled per failure past BackoffAfter, never more than Lockout.
func (p Policy) delay(failures int) time.Duration {
	d := p.BaseDelay
	for i := p.BackoffAfter; i < failures; i++ {
		d *= 2
		if d >= p.Lockout {
			return p.Lockout
		}
	}
	return d
}

// Fail records a failed attempt at now.
func (p Policy) Fail(s State, now time.Time) State {
	s = p.current(s, now)
	if s.Failures == 0 {
		s.WindowStart = now
	}
	s.Failures++
	s.LastFailure = now
	if s.Failures >= p.MaxFailures {
		s.LockedUntil = now.Add(p.Lockout)
	}
	return s
}

// Undo takes back one failure that Fail counted for an attempt whose
// password was never checked (the store or the hash failed), so an outage
// does not push real users into back-off. Never below zero; a lockout that
// the undone failure caused is lifted.
func (p Policy) Undo(s State) State {
	if s.Failures <= 1 {
		return State{}
	}
	s.Failures--
	if s.Failures < p.MaxFailures {
		s.LockedUntil = time.Time{}
	}
	return s
}

// Stale reports whether s no longer affects anything at now, so its record
// can be deleted.
func (p Policy) Stale(s State, now time.Time) bool {
	return p.current(s, now) == State{}
}
