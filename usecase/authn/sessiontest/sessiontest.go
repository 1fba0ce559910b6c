// Package sessiontest is the contract of a session store, written once and
// run on every store: the in-memory fake, SQLite (file and memory) and
// PostgreSQL. It holds each store's one-step refresh (RotateCurrent) and its
// update function to session.Policy, case by case, and runs the refresh
// interactor over both paths and under races.
package sessiontest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// Harness is one fresh, empty store under test.
type Harness struct {
	Sessions authn.SessionStore
	Users    authn.UserRepository
	Audit    authn.AuditLog
	Tx       authn.Transactor
	// SeedLegacy stores what a store kept, before the authenticated token
	// format, of a token of generation gen in sessionID: its hash.
	SeedLegacy func(t *testing.T, sessionID string, gen int64, hash [32]byte)
	// Footprint, when set, returns the rows and bytes the store holds for
	// sessionID, every table together.
	Footprint func(t *testing.T, sessionID string) (rows, bytes int64)
}

// Policy is the session policy of the contract.
var Policy = session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// T0 is when every scenario starts: whole microseconds, UTC, so what a
// store gives back compares equal.
var T0 = time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)

var testKey = bytes.Repeat([]byte{0x5a}, session.RefreshKeyBytes)

// Run runs the whole contract; open returns a fresh store for each subtest.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("decide/fast path", func(t *testing.T) { runDecide(t, open, true) })
	t.Run("decide/update function", func(t *testing.T) { runDecide(t, open, false) })
	for _, path := range []struct {
		name string
		slow bool
	}{{"fast", false}, {"locked", true}} {
		t.Run("refresh/"+path.name, func(t *testing.T) { runRefresh(t, open, path.slow) })
	}
	t.Run("legacy tokens", func(t *testing.T) { runLegacy(t, open) })
	t.Run("races", func(t *testing.T) { runRaces(t, open) })
	t.Run("update function", func(t *testing.T) { runUpdate(t, open) })
	t.Run("erase sealed", func(t *testing.T) { runErase(t, open) })
	t.Run("listing and cap", func(t *testing.T) { runListing(t, open) })
	t.Run("liveness", func(t *testing.T) { runLiveness(t, open) })
}

// mkUser stores an account and returns it.
func mkUser(t *testing.T, h Harness) user.User {
	t.Helper()
	u := user.User{
		ID: id.New(), Email: id.New()[:8] + "@example.com", Name: "Ada", Roles: []string{user.RoleUser},
		PasswordHash: fakes.Encoded(1, "correct horse battery"), CreatedAt: T0, UpdatedAt: T0,
	}
	if err := h.Users.Create(context.Background(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

func hashOf(b byte) [32]byte { return [32]byte{b, 0xee, 0x01, b} }

// Growth refreshes one session n times through the interactor and reports
// the store's footprint after each count in at.
func Growth(t *testing.T, h Harness, n int, at []int) map[int][2]int64 {
	w := newWorld(t, h, false)
	p := w.login()
	out := map[int][2]int64{}
	for i := 1; i <= n; i++ {
		w.clock.Advance(time.Minute)
		p = w.mustRefresh(p.RefreshToken)
		for _, a := range at {
			if a == i {
				r, b := h.Footprint(t, p.Session.ID)
				out[i] = [2]int64{r, b}
			}
		}
	}
	return out
}

// Service returns the refresh interactor over h with the contract's policy,
// a fake clock starting at start (advance moves it) and the test key.
func Service(t *testing.T, h Harness, start time.Time) (refresher *authn.Refresher, advance func(time.Duration)) {
	w := newWorld(t, h, false)
	w.clock.Set(start)
	return w.refresher, w.clock.Advance
}

// TestKey is the refresh-token key of Service.
func TestKey() []byte { return bytes.Clone(testKey) }
