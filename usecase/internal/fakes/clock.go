// Package fakes holds in-memory implementations of the ports declared by
// usecase/authn and usecase/account, for black-box tests of the interactors.
//
// One Store holds all the state (users, sessions, refresh tokens, security
// events) so that cascades work as they do in the database (deleting a user
// removes its sessions and tokens, keeps its events). The Store is also the
// Transactor: transactions are serialised by a mutex and a failed one
// restores the state it started from. Calls made outside a transaction run as
// their own one-statement transaction (autocommit), so a rollback never
// undoes somebody else's committed write.
//
// Everything here is safe for concurrent use.
package fakes

import (
	"sync"
	"time"
)

// Clock is a settable clock. The zero value is not useful; use NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
