package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/user"
)

// AccountSearch finds accounts for administrators.
type AccountSearch struct {
	users AccountSearcher
	view  viewer
}

// NewAccountSearch returns an AccountSearch.
func NewAccountSearch(users AccountSearcher, clock Clock) *AccountSearch {
	return &AccountSearch{users: users, view: viewer{users, clock}}
}

// Search lists accounts matching q (email or name substring), to
// administrators only (auth.ErrForbidden); a limit outside 1..MaxPage,
// a q longer than an address or a foreign cursor is a validation error.
func (s *AccountSearch) Search(ctx context.Context, a Actor, q, cursor string, limit int) (Page, error) {
	if err := a.authorize(); err != nil {
		return Page{}, err
	}
	if limit < 1 || limit > MaxPage {
		return Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	if len(q) > user.MaxEmailLength {
		return Page{}, user.Invalid("q", "must be at most 254 characters")
	}
	list, next, err := s.users.Search(ctx, strings.TrimSpace(q), cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	if err != nil {
		return Page{}, err
	}
	views, err := s.view.views(ctx, list)
	return Page{Items: views, NextCursor: next}, err
}

// AccountReader reads one account for administrators.
type AccountReader struct {
	users AccountViewer
	view  viewer
}

// NewAccountReader returns an AccountReader.
func NewAccountReader(users AccountViewer, clock Clock) *AccountReader {
	return &AccountReader{users: users, view: viewer{users, clock}}
}

// Get reads one account, to administrators only; user.ErrNotFound.
func (r *AccountReader) Get(ctx context.Context, a Actor, userID string) (View, error) {
	if err := a.authorize(); err != nil {
		return View{}, err
	}
	u, err := r.users.ByID(ctx, userID)
	if err != nil {
		return View{}, err
	}
	return r.view.view(ctx, u)
}

// EventListing lists any account's security events for administrators.
type EventListing struct {
	users  UserReader
	events EventReader
}

// NewEventListing returns an EventListing.
func NewEventListing(users UserReader, events EventReader) *EventListing {
	return &EventListing{users: users, events: events}
}

// SecurityEvents lists an account's events, newest first, to
// administrators only; user.ErrNotFound for an unknown account.
func (l *EventListing) SecurityEvents(ctx context.Context, a Actor, userID, cursor string, limit int) (audit.Page, error) {
	if err := a.authorize(); err != nil {
		return audit.Page{}, err
	}
	if limit < 1 || limit > MaxPage {
		return audit.Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	if _, err := l.users.ByID(ctx, userID); err != nil {
		return audit.Page{}, err
	}
	page, err := l.events.ListByUser(ctx, userID, cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return audit.Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	return page, err
}
