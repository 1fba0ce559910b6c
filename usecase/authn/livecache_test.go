package authn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

func TestLivenessCache(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	newSvc := func() *interactors {
		return newService(clock, store, tokens, func(d *deps) { d.LivenessCacheTTL = time.Second })
	}
	// Two instances on one store, each with its own cache.
	a, b := newSvc(), newSvc()
	ctx := context.Background()
	pair, err := a.Register(ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Logout(ctx, authn.LogoutInput{Principal: &p}, meta); err != nil {
		t.Fatal(err)
	}
	// The revoking instance sees it at once.
	if _, err := a.Authenticate(ctx, pair.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("revoking instance: %v", err)
	}
	// The other may trust its cache for less than the TTL ...
	clock.Advance(999 * time.Millisecond)
	if _, err := b.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Errorf("within the TTL the cached answer stands: %v", err)
	}
	// ... and no longer.
	clock.Advance(time.Millisecond)
	if _, err := b.Authenticate(ctx, pair.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("after the TTL: %v", err)
	}
}
