package authn_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// benchService is the interactors on the in-memory store with one registered
// user, and that user's first token pair.
func benchService(b *testing.B) (*interactors, authn.TokenPair) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	svc := newService(clock, store, tokens, nil)
	pair, err := svc.Register(b.Context(), authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta)
	if err != nil {
		b.Fatal(err)
	}
	return svc, pair
}

// BenchmarkRefresh measures one rotation through the use case with the
// in-memory store: the interactor's own cost (policy, secrets, sealing,
// claims), without a database. The fake store copies its state at every
// transaction, so the chain is restarted every 50 rotations (outside the
// timer) to keep that copy small and the figure about the interactor.
func BenchmarkRefresh(b *testing.B) {
	svc, pair := benchService(b)
	tok := pair.RefreshToken
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%50 == 0 {
			b.StopTimer()
			svc, pair = benchService(b)
			tok = pair.RefreshToken
			b.StartTimer()
		}
		p, err := svc.Refresh(b.Context(), tok, meta)
		if err != nil {
			b.Fatal(err)
		}
		tok = p.RefreshToken
	}
}

// BenchmarkAuthenticate measures the per-request access check with the
// in-memory store.
func BenchmarkAuthenticate(b *testing.B) {
	svc, pair := benchService(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Authenticate(b.Context(), pair.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
