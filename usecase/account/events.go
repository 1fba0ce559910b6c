package account

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// AccountDeleter deletes the caller's account.
type AccountDeleter struct {
	users UserDeleter
	audit EventScrubber
	rec   recorder
	tx    Transactor
	cache SessionCache
	fresh stepUp
	clock Clock
	// events publishes user.deleted (webhooks); see WithEvents.
	events publisher
}

// WithEvents makes the deleter publish user.deleted (webhooks).
func (d *AccountDeleter) WithEvents(ev Events) *AccountDeleter {
	d.events = publisher{ev}
	return d
}

// NewAccountDeleter returns an AccountDeleter; cache may be nil.
func NewAccountDeleter(users UserDeleter, events EventScrubber, tx Transactor, clock Clock, cache SessionCache, step auth.StepUpPolicy) *AccountDeleter {
	return &AccountDeleter{
		users: users, audit: events, rec: recorder{events, clock}, tx: tx, cache: cache,
		fresh: stepUp{step, clock}, clock: clock,
	}
}

// DeleteAccount removes the caller's account, sessions and refresh tokens;
// it needs a fresh session. Its security events stay for operators,
// stripped of the IP and user agent.
func (d *AccountDeleter) DeleteAccount(ctx context.Context, p auth.Principal, meta Meta) error {
	if err := d.fresh.check(p); err != nil {
		return err
	}
	defer forget(d.cache, p.UserID())
	return d.tx.WithinTx(ctx, func(ctx context.Context) error {
		if _, err := caller(ctx, d.users, p); err != nil {
			return err
		}
		if err := d.users.Delete(ctx, p.UserID()); err != nil {
			return err
		}
		if err := d.audit.ScrubUser(ctx, p.UserID()); err != nil {
			return err
		}
		if err := d.events.publish(ctx, webhook.NewUserDeleted(id.New(), p.UserID(), d.clock.Now().UTC())); err != nil {
			return err
		}
		// Recorded after the scrub, and without client data, for the same reason.
		return d.rec.record(ctx, audit.AccountDeleted, p, Meta{})
	})
}

// MaxEventPage bounds one page of security events.
const MaxEventPage = 100

// SecurityEventListing lists the caller's security events.
type SecurityEventListing struct{ events EventReader }

// NewSecurityEventListing returns a SecurityEventListing.
func NewSecurityEventListing(events EventReader) *SecurityEventListing {
	return &SecurityEventListing{events: events}
}

// SecurityEvents lists the caller's security events, newest first; a limit
// outside 1..MaxEventPage or a cursor it did not issue is a validation
// error.
func (l *SecurityEventListing) SecurityEvents(ctx context.Context, p auth.Principal, cursor string, limit int) (audit.Page, error) {
	if limit < 1 || limit > MaxEventPage {
		return audit.Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	page, err := l.events.ListByUser(ctx, p.UserID(), cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return audit.Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	return page, err
}

// eventPurgeBatch bounds one delete of old security events.
const eventPurgeBatch = 1000

// EventPurger deletes security events past their retention, so the table
// does not grow without bound (SECURITY_EVENT_RETENTION).
type EventPurger struct {
	events    EventDeleter
	clock     Clock
	retention time.Duration
}

// NewEventPurger returns an EventPurger; a retention of zero or less keeps
// events for ever.
func NewEventPurger(events EventDeleter, clock Clock, retention time.Duration) *EventPurger {
	return &EventPurger{events: events, clock: clock, retention: retention}
}

// PurgeEvents deletes security events older than the retention and returns
// how many; safe on several instances at once.
func (p *EventPurger) PurgeEvents(ctx context.Context) (int, error) {
	if p.retention <= 0 {
		return 0, nil
	}
	return p.events.PurgeBefore(ctx, p.clock.Now().UTC().Add(-p.retention), eventPurgeBatch)
}
