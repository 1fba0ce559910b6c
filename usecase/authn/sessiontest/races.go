package sessiontest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// runRaces runs parallel refreshes with one token, and a refresh against a
// logout.
func runRaces(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("parallel refreshes keep one lineage", func(t *testing.T) {
		w := newWorld(t, open(t), false)
		p := w.login()
		const n = 16
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[string]int{}
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				r, err := w.refresh(p.RefreshToken)
				if err != nil {
					t.Errorf("parallel refresh: %v", err)
					return
				}
				mu.Lock()
				got[r.RefreshToken]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if len(got) != 1 {
			t.Fatalf("%d distinct successors from %d parallel refreshes; want 1", len(got), n)
		}
		if s := w.stored(p.Session.ID); s.Generation != 2 || s.Revoked() {
			t.Fatalf("after the race: %+v", s)
		}
		for succ := range got {
			w.mustRefresh(succ)
		}
	})
	t.Run("rotation against logout", func(t *testing.T) {
		w := newWorld(t, open(t), false)
		for range 5 {
			p := w.login()
			var wg sync.WaitGroup
			var rerr error
			var r authn.TokenPair
			wg.Go(func() { r, rerr = w.refresh(p.RefreshToken) })
			wg.Go(func() {
				if err := w.revoker.Logout(context.Background(), authn.LogoutInput{RefreshToken: p.RefreshToken}, meta); err != nil {
					t.Errorf("logout: %v", err)
				}
			})
			wg.Wait()
			if rerr != nil && !errors.Is(rerr, session.ErrRefreshInvalid) {
				t.Fatalf("refresh racing a logout: %v", rerr)
			}
			if s := w.stored(p.Session.ID); !s.Revoked() {
				t.Fatalf("the logout was lost: %+v", s)
			}
			if rerr == nil {
				_, err := w.refresh(r.RefreshToken)
				wantErr(t, "successor after logout", err, session.ErrRefreshInvalid)
			}
		}
	})
}
