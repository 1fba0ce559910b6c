// Package webhook holds the interactors of webhook delivery, one type per
// operation: Deliverer (every instance's sender of the outbox),
// DeliveryList and DeliveryRetry (operators). Events are written by the
// interactors of the changes they report, through their own Events ports,
// in the change's transaction; this package only delivers them.
package delivery

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Outbox is what the sender needs of the stored events.
type Outbox interface {
	// Claim takes up to limit due events for lease, counting the attempt,
	// one user's in write order (see the store).
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]webhook.Claimed, error)
	Delivered(ctx context.Context, eventID string) error
	Retry(ctx context.Context, eventID string, at time.Time, reason string) error
	GiveUp(ctx context.Context, eventID, reason string) error
	// Pending counts the events waiting.
	Pending(ctx context.Context) (int, error)
}

// Sender posts one event's body to the receiver, signed; an error for
// anything but a 2xx answer within its deadline.
type Sender interface {
	Send(ctx context.Context, eventID string, body []byte) error
}

// Observer counts outcomes for metrics; cheap and concurrency-safe.
type Observer interface {
	// WebhookQueued reports how many events wait.
	WebhookQueued(n int)
	WebhookDelivered()
	// WebhookFailed counts a failed attempt: retried, or given up.
	WebhookFailed(givenUp bool)
}

// Logger logs one line per failed attempt.
type Logger interface {
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// DeliveryLister pages deliveries for operators.
type DeliveryLister interface {
	List(ctx context.Context, status, cursor string, limit int) (webhook.DeliveryPage, error)
}

// DeliveryRequeuer makes a delivery pending again.
type DeliveryRequeuer interface {
	RetryNow(ctx context.Context, eventID string, now time.Time) error
}

// AdminGate is the administrators' authorization (admin.Service).
type AdminGate interface {
	AuthorizeRead(ctx context.Context, a admin.Actor) error
	AuthorizeWrite(ctx context.Context, a admin.Actor) error
}
