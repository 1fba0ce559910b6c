package admin

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
)

// KeyLister lists the signing keys.
type KeyLister struct{ keys SigningKeys }

// NewKeyLister returns a KeyLister.
func NewKeyLister(keys SigningKeys) *KeyLister { return &KeyLister{keys: keys} }

// Keys lists the signing keys, to administrators only.
func (l *KeyLister) Keys(ctx context.Context, a Actor) ([]auth.KeyStatus, error) {
	if err := a.authorize(); err != nil {
		return nil, err
	}
	return l.keys.Keys(ctx)
}

// KeyRotator adds signing keys.
type KeyRotator struct {
	keys     SigningKeys
	guard    *WriteGuard
	notifier Notifier
	clock    Clock
}

// NewKeyRotator returns a KeyRotator; notifier may be nil.
func NewKeyRotator(keys SigningKeys, guard *WriteGuard, notifier Notifier, clock Clock) *KeyRotator {
	return &KeyRotator{keys: keys, guard: guard, notifier: notifier, clock: clock}
}

// RotateKey adds the next signing key (published now, signing after the
// publish-ahead time), under the rule of writes.
func (r *KeyRotator) RotateKey(ctx context.Context, a Actor) (auth.KeyStatus, error) {
	if err := r.guard.AuthorizeWrite(ctx, a); err != nil {
		return auth.KeyStatus{}, err
	}
	k, err := r.keys.Rotate(ctx)
	if err == nil && r.notifier != nil {
		r.notifier.AdminAction(ctx, audit.Event{Type: "signing_key_rotated", ActorID: a.id(), CreatedAt: r.clock.Now().UTC()})
	}
	return k, err
}
