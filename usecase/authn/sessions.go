package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
)

// SessionListing lists a caller's active sessions, a page at a time.
type SessionListing struct {
	sessions SessionLister
	clock    Clock
}

// NewSessionListing returns a SessionListing.
func NewSessionListing(sessions SessionLister, clock Clock) *SessionListing {
	return &SessionListing{sessions: sessions, clock: clock}
}

// SessionView is a session as its owner sees it in a listing.
type SessionView struct {
	session.Session
	Current bool
}

// MaxSessionPage bounds one page of the session list (and is its default).
const MaxSessionPage = 100

// SessionList is one page of the caller's sessions.
type SessionList struct {
	Sessions []SessionView
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// ListSessions lists the caller's active sessions, newest first, limit per
// page (1 to MaxSessionPage) after cursor ("" for the first page), marking
// the one the caller's token belongs to.
func (l *SessionListing) ListSessions(ctx context.Context, p auth.Principal, cursor string, limit int) (SessionList, error) {
	if limit < 1 || limit > MaxSessionPage {
		return SessionList{}, user.Invalid("limit", "must be an integer between 1 and 100")
	}
	return ActiveSessions(ctx, l.sessions, p.UserID(), p.SessionID(), nowUTC(l.clock), cursor, limit)
}

// ActiveSessions is one page of userID's sessions active at now, limit
// after cursor, marking current (the caller's own session; "" marks none).
// A cursor no listing issued is a validation error. The owner's listing
// and the administrators' (usecase/admin) are both this.
func ActiveSessions(ctx context.Context, sessions SessionLister, userID, current string, now time.Time,
	cursor string, limit int) (SessionList, error) {
	page, err := sessions.ListActive(ctx, userID, now, cursor, limit)
	if errors.Is(err, session.ErrInvalidCursor) {
		return SessionList{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	if err != nil {
		return SessionList{}, err
	}
	out := SessionList{Sessions: make([]SessionView, len(page.Sessions)), NextCursor: page.NextCursor}
	for i, sess := range page.Sessions {
		out.Sessions[i] = SessionView{Session: sess, Current: current != "" && sess.ID == current}
	}
	return out, nil
}
