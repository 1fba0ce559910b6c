package delivery

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// MaxPage bounds one page of deliveries.
const MaxPage = 100

// DeliveryList lists deliveries for administrators.
type DeliveryList struct {
	gate  AdminGate
	store DeliveryLister
}

// NewDeliveryList returns a DeliveryList.
func NewDeliveryList(gate AdminGate, store DeliveryLister) *DeliveryList {
	return &DeliveryList{gate: gate, store: store}
}

// List pages deliveries newest first, of one status (pending, delivered,
// failed) or all (empty).
func (l *DeliveryList) List(ctx context.Context, a admin.Actor, status, cursor string, limit int) (webhook.DeliveryPage, error) {
	if err := l.gate.AuthorizeRead(ctx, a); err != nil {
		return webhook.DeliveryPage{}, err
	}
	var errs []error
	switch status {
	case "", webhook.StatusPending, webhook.StatusDelivered, webhook.StatusFailed:
	default:
		errs = append(errs, user.Invalid("status", "must be pending, delivered or failed"))
	}
	if limit < 1 || limit > MaxPage {
		errs = append(errs, user.Invalid("limit", "must be between 1 and 100"))
	}
	if err := user.Join(errs...); err != nil {
		return webhook.DeliveryPage{}, err
	}
	page, err := l.store.List(ctx, status, cursor, limit)
	if errors.Is(err, webhook.ErrInvalidCursor) {
		return webhook.DeliveryPage{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	return page, err
}

// DeliveryRetry makes a delivery pending again (an operator's retry).
type DeliveryRetry struct {
	gate  AdminGate
	store DeliveryRequeuer
	clock Clock
}

// NewDeliveryRetry returns a DeliveryRetry.
func NewDeliveryRetry(gate AdminGate, store DeliveryRequeuer, clock Clock) *DeliveryRetry {
	return &DeliveryRetry{gate: gate, store: store, clock: clock}
}

// Retry makes the delivery pending and due now, with a new 24-hour window
// of retries; webhook.ErrNotFound if none.
func (r *DeliveryRetry) Retry(ctx context.Context, a admin.Actor, eventID string) error {
	if err := r.gate.AuthorizeWrite(ctx, a); err != nil {
		return err
	}
	return r.store.RetryNow(ctx, eventID, r.clock.Now().UTC())
}
