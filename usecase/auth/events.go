package auth

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

// SignupHook asks the app built on Gatehouse whether an account may be
// created (the before-signup hook). It returns nil to go on, a
// *webhook.RejectedError when refused, webhook.ErrHookUnavailable when the
// hook did not answer as the contract says. Every path that creates an
// account calls it before its transaction, with nothing written yet.
// Optional: nil allows every signup.
type SignupHook interface {
	BeforeSignup(ctx context.Context, s webhook.Signup) error
}

// publish publishes e when ev is set.
func publish(ctx context.Context, ev Events, e webhook.Event) error {
	if ev == nil {
		return nil
	}
	return ev.Publish(ctx, e)
}

// beforeSignup asks h when set.
func beforeSignup(ctx context.Context, h SignupHook, s webhook.Signup) error {
	if h == nil {
		return nil
	}
	return h.BeforeSignup(ctx, s)
}
