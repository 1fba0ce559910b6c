package delivery

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/webhook"
)

// deliverBatch bounds the events one claim takes.
const deliverBatch = 20

// maxRounds bounds the claims of one DeliverDue run, so a backlog is
// worked off across runs and a run ends within its scheduler slot.
const maxRounds = 50

// DelivererDeps are the ports and settings of a Deliverer.
type DelivererDeps struct {
	Outbox   Outbox
	Sender   Sender
	Clock    Clock
	Log      Logger
	Observer Observer
	Retry    webhook.Retry
	// Lease is how long a claimed event is this instance's; it must
	// outlast one attempt (the sender's timeout).
	Lease time.Duration
}

// Deliverer posts the outbox's due events. Every instance runs it, off
// any request path: a claim makes an event this instance's for the lease,
// so two instances never post one event at once, and a crash mid-post
// leaves the claim to run out and the event to be posted again (at least
// once; receivers de-duplicate by webhook-id).
type Deliverer struct{ d DelivererDeps }

// NewDeliverer returns a Deliverer.
func NewDeliverer(d DelivererDeps) *Deliverer { return &Deliverer{d: d} }

// DeliverDue posts due events until none is left (or maxRounds claims)
// and returns how many were delivered.
func (r *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	sent := 0
	defer func() {
		if n, err := r.d.Outbox.Pending(ctx); err == nil {
			r.d.Observer.WebhookQueued(n)
		}
	}()
	for range maxRounds {
		events, err := r.d.Outbox.Claim(ctx, r.d.Clock.Now().UTC(), r.d.Lease, deliverBatch)
		if err != nil {
			return sent, err
		}
		if len(events) == 0 {
			return sent, nil
		}
		// In claim order: one user's events were claimed in write order.
		failed := 0
		for _, e := range events {
			if ctx.Err() != nil {
				// The claims run out and another run picks the rest up.
				return sent, ctx.Err()
			}
			if r.deliver(ctx, e) {
				sent++
			} else {
				failed++
			}
		}
		if failed == len(events) {
			// Nothing got through (the receiver is down): the rest waits
			// for its back-off instead of being claimed again at once.
			return sent, nil
		}
	}
	return sent, nil
}

// deliver posts one claimed event and records the outcome; true when it
// was delivered.
func (r *Deliverer) deliver(ctx context.Context, e webhook.Claimed) bool {
	// One attempt may take at most half the lease, so the claim always
	// outlives it.
	sendCtx, cancel := context.WithTimeout(ctx, r.d.Lease/2)
	err := r.d.Sender.Send(sendCtx, e.ID, e.Body)
	cancel()
	if err == nil {
		r.d.Observer.WebhookDelivered()
		if derr := r.d.Outbox.Delivered(ctx, e.ID); derr != nil {
			// Posted; the row stays claimed until the lease ends and may
			// be posted once more then (receivers de-duplicate).
			r.d.Log.Warn("webhook delivered but not marked", "eventId", e.ID, "error", derr.Error())
		}
		return true
	}
	if ctx.Err() != nil {
		// Shutting down: not the event's fault; the claim runs out.
		return false
	}
	now := r.d.Clock.Now().UTC()
	next, retry := r.d.Retry.Next(e.Attempts, e.WindowFrom, now)
	r.d.Observer.WebhookFailed(!retry)
	if retry {
		r.d.Log.Warn("webhook delivery failed; will retry", "eventId", e.ID, "attempt", e.Attempts,
			"error", err.Error(), "nextAttempt", next)
		err = r.d.Outbox.Retry(ctx, e.ID, next, err.Error())
	} else {
		r.d.Log.Error("webhook delivery failed; giving up", "eventId", e.ID, "attempt", e.Attempts,
			"error", err.Error())
		err = r.d.Outbox.GiveUp(ctx, e.ID, err.Error())
	}
	if err != nil {
		r.d.Log.Warn("webhook outbox update failed", "eventId", e.ID, "error", err.Error())
	}
	return false
}
