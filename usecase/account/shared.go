package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// Meta describes the client of a request, for security events.
type Meta struct {
	IP        string
	UserAgent string
}

// caller loads the caller's account: a vanished account means the session
// is gone (auth.ErrSessionRevoked), whoever asks.
func caller(ctx context.Context, users UserReader, p auth.Principal) (user.User, error) {
	u, err := users.ByID(ctx, p.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, auth.ErrSessionRevoked
	}
	return u, err
}

// recorder writes the caller's security events, stamped by its clock.
type recorder struct {
	log   EventRecorder
	clock Clock
}

func (r recorder) record(ctx context.Context, t audit.Type, p auth.Principal, meta Meta) error {
	return r.log.Append(ctx, audit.Event{
		ID: id.New(), UserID: p.UserID(), SessionID: p.SessionID(), Type: t,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: r.clock.Now().UTC(),
	})
}

// stepUp is the freshness rule of the sensitive operations (change of
// password or email, deletion). It is checked in the use cases, so every
// caller gets it; the HTTP routes check it too, to answer before reading a
// body.
type stepUp struct {
	policy auth.StepUpPolicy
	clock  Clock
}

func (s stepUp) check(p auth.Principal) error {
	return s.policy.Check(p.Claims, s.clock.Now().UTC())
}

// forget drops what this instance cached of userID's sessions (cache may be
// nil). Callers defer it past their transaction, so no request can cache
// the state from before the commit again; on a rollback it only costs a
// lookup.
func forget(cache SessionCache, userID string) {
	if cache != nil {
		cache.ForgetUser(userID)
	}
}

// Events publishes webhook events in the caller's transaction, so an
// event exists if and only if the change it reports commits.
type Events interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// publisher publishes through an optional Events (nil: nothing).
type publisher struct{ ev Events }

func (p publisher) publish(ctx context.Context, e webhook.Event) error {
	if p.ev == nil {
		return nil
	}
	return p.ev.Publish(ctx, e)
}
