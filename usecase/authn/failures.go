package authn

import (
	"context"
	"sync"

	"github.com/gatehouse/gatehouse/domain/audit"
)

// FailureLog records failed password attempts of existing accounts
// (login_failed) off the request path: Record only queues the event in
// memory, and Flush writes what is queued in one transaction, every second
// on every instance and once more at stop.
//
// Written in a transaction of its own during the request, the event cost a
// failed login of an existing account a count, an insert and a commit that
// an unknown email never paid: 4.5 to 6.4 ms with a real disk's fsync,
// enough to tell which addresses have an account (issue 21 item 8). Now a
// failed login does the same database work whatever the email: the throttle
// count before the check (which is what limits guessing, and is written at
// once) and nothing after it. The price: an instance that crashes loses at
// most a second of these routine events, and past MaxQueued waiting events
// further ones are dropped, as SECURITY_EVENT_LIMIT would drop them.
//
// A nil *FailureLog records synchronously in the caller's context, as
// before.
type FailureLog struct {
	audit AuditLog
	tx    Transactor
	max   int

	mu      sync.Mutex
	pending []audit.Event
	closed  bool
}

// MaxQueued bounds the events a FailureLog holds between two flushes.
const MaxQueued = 10_000

// NewFailureLog returns a FailureLog writing through log in transactions
// of tx.
func NewFailureLog(log AuditLog, tx Transactor) *FailureLog {
	return &FailureLog{audit: log, tx: tx, max: MaxQueued}
}

// Record queues e for the next Flush, without touching the database. After
// Close (the instance is stopping) it writes e at once instead.
func (f *FailureLog) Record(ctx context.Context, e audit.Event) error {
	f.mu.Lock()
	closed := f.closed
	if !closed && len(f.pending) < f.max {
		f.pending = append(f.pending, e)
	}
	f.mu.Unlock()
	if closed {
		return f.write(ctx, []audit.Event{e})
	}
	return nil
}

// Flush writes the queued events in one transaction. When that fails they
// are queued again (up to the bound) for the next Flush.
func (f *FailureLog) Flush(ctx context.Context) error {
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := f.write(ctx, batch)
	if err != nil {
		f.mu.Lock()
		f.pending = append(batch, f.pending...)[:min(len(batch)+len(f.pending), f.max)]
		f.mu.Unlock()
	}
	return err
}

// Close flushes what is queued; events recorded afterwards are written at
// once.
func (f *FailureLog) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return f.Flush(ctx)
}

func (f *FailureLog) write(ctx context.Context, events []audit.Event) error {
	return f.tx.WithinTx(ctx, func(ctx context.Context) error {
		for _, e := range events {
			if err := f.audit.Append(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}
