package authn

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Events publishes webhook events in the caller's transaction, so an
// event exists if and only if the change it reports commits. Optional in
// every Deps: nil publishes nothing.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// publish publishes e when ev is set.
func publish(ctx context.Context, ev Events, e webhook.Event) error {
	if ev == nil {
		return nil
	}
	return ev.Publish(ctx, e)
}

// beforeSignup asks h when set.
func beforeSignup(ctx context.Context, h SignupHook, s SignupAttempt) error {
	if h == nil {
		return nil
	}
	return h.BeforeSignup(ctx, s)
}
