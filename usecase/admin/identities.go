package admin

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/federation"
)

// IdentityStore lists an account's linked identities (the store behind
// the owner's own listing, GET /auth/identities).
type IdentityStore interface {
	// ListByUser lists userID's identities, oldest first.
	ListByUser(ctx context.Context, userID string) ([]federation.Identity, error)
}

// IdentityView is a linked identity as administrators see it: what the
// owner's own listing shows, without the provider's subject.
type IdentityView struct {
	ID       string
	Provider string
	// Email is the address the provider gave at linking; empty when none.
	Email    string
	LinkedAt time.Time
}

// IdentityListing lists any account's linked identities for
// administrators.
type IdentityListing struct {
	users      UserReader
	identities IdentityStore
}

// NewIdentityListing returns an IdentityListing.
func NewIdentityListing(users UserReader, identities IdentityStore) *IdentityListing {
	return &IdentityListing{users: users, identities: identities}
}

// Identities lists userID's linked identities, oldest first, to
// administrators only; user.ErrNotFound for an unknown account (an
// account without identities is an empty list).
func (l *IdentityListing) Identities(ctx context.Context, a Actor, userID string) ([]IdentityView, error) {
	if err := a.authorize(); err != nil {
		return nil, err
	}
	if _, err := l.users.ByID(ctx, userID); err != nil {
		return nil, err
	}
	list, err := l.identities.ListByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]IdentityView, len(list))
	for i, id := range list {
		out[i] = IdentityView{ID: id.ID, Provider: id.Provider, Email: id.Email, LinkedAt: id.CreatedAt}
	}
	return out, nil
}
