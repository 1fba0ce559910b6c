package sessiontest_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/usecase/authn/sessiontest"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// TestFakeStore holds the in-memory fake the use-case tests run on to the
// same contract as the real stores.
func TestFakeStore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) sessiontest.Harness {
		s := fakes.NewStore()
		return sessiontest.Harness{
			Sessions: s.Sessions, Users: s.Users, Audit: s.Audit, Tx: s,
			SeedLegacy: func(_ *testing.T, sessionID string, gen int64, hash [32]byte) {
				s.SeedLegacy(sessionID, gen, hash)
			},
		}
	})
}
