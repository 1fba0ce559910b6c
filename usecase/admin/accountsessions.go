package admin

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// SessionLister lists an account's active sessions (the store behind the
// owner's own listing, GET /auth/sessions).
type SessionLister interface {
	// ListActive lists userID's sessions active at now, newest first, at
	// most limit after cursor; session.ErrInvalidCursor for a foreign one.
	ListActive(ctx context.Context, userID string, now time.Time, cursor string, limit int) (session.Page, error)
}

// SessionUpdater changes one session under its row lock.
type SessionUpdater interface {
	// Update locks session id, lets fn change it and stores the change;
	// session.ErrNotFound if there is none.
	Update(ctx context.Context, id string, fn func(*session.Session) error) error
}

// TOTPReader reads an account's TOTP factor; mfa.ErrNotFound when none.
type TOTPReader interface {
	Get(ctx context.Context, userID string) (mfa.TOTP, error)
}

// PasskeyLister lists an account's passkeys, oldest first.
type PasskeyLister interface {
	ListByUser(ctx context.Context, userID string) ([]mfa.Passkey, error)
}

// SessionView is one session of an account as administrators see it,
// what its owner sees; Current marks the session the calling administrator
// is using.
type SessionView = authn.SessionView

// SessionPage is one page of an account's sessions.
type SessionPage struct {
	Items []SessionView
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// AccountSessionListing lists any account's active sessions for
// administrators.
type AccountSessionListing struct {
	users    UserReader
	sessions SessionLister
	clock    Clock
}

// NewAccountSessionListing returns an AccountSessionListing.
func NewAccountSessionListing(users UserReader, sessions SessionLister, clock Clock) *AccountSessionListing {
	return &AccountSessionListing{users: users, sessions: sessions, clock: clock}
}

// Sessions lists userID's active sessions, newest first, limit per page
// (1..MaxPage) after cursor, to administrators only; user.ErrNotFound for
// an unknown account, a validation error for a bad limit or cursor.
func (l *AccountSessionListing) Sessions(ctx context.Context, a Actor, userID, cursor string, limit int) (SessionPage, error) {
	if err := a.authorize(); err != nil {
		return SessionPage{}, err
	}
	if limit < 1 || limit > MaxPage {
		return SessionPage{}, user.Invalid("limit", "must be between 1 and 100")
	}
	if _, err := l.users.ByID(ctx, userID); err != nil {
		return SessionPage{}, err
	}
	current := "" // the command line has no session
	if !a.CLI {
		current = a.Principal.SessionID()
	}
	list, err := authn.ActiveSessions(ctx, l.sessions, userID, current, l.clock.Now().UTC(), cursor, limit)
	if err != nil {
		return SessionPage{}, err
	}
	return SessionPage{Items: list.Sessions, NextCursor: list.NextCursor}, nil
}

// SessionEnder ends one session of an account for administrators.
type SessionEnder struct {
	users    UserReader
	sessions SessionUpdater
	w        accountWrite
	clock    Clock
}

// NewSessionEnder returns a SessionEnder; notifier and cache may be nil.
func NewSessionEnder(users UserReader, sessions SessionUpdater, guard *WriteGuard, events EventRecorder,
	notifier Notifier, cache SessionCache, tx Transactor, clock Clock) *SessionEnder {
	return &SessionEnder{users: users, sessions: sessions, clock: clock,
		w: accountWrite{guard: guard, tx: tx, cache: cache, j: journal{events, notifier}}}
}

// RevokeSession ends userID's session sessionID under the rule of writes
// (WriteGuard), so its refresh token is refused from now on, and records
// it on the account with the administrator as actor. user.ErrNotFound for
// an unknown account; session.ErrNotFound when the account has no active
// session with that ID (another account's session included, so the answer
// tells nothing of it).
func (e *SessionEnder) RevokeSession(ctx context.Context, a Actor, userID, sessionID string) error {
	return e.w.run(ctx, a, userID, func(ctx context.Context) (audit.Event, error) {
		if _, err := e.users.ByID(ctx, userID); err != nil {
			return audit.Event{}, err
		}
		now := e.clock.Now().UTC()
		found := false
		err := e.sessions.Update(ctx, sessionID, func(s *session.Session) error {
			if s.UserID != userID || !s.Active(now) {
				return nil
			}
			found = true
			s.Revoke(now, ReasonAdmin)
			return nil
		})
		if err != nil {
			return audit.Event{}, err
		}
		if !found {
			return audit.Event{}, session.ErrNotFound
		}
		ev := e.w.j.event(a, audit.AdminSessionRevoked, userID, now)
		ev.SessionID = sessionID
		return ev, nil
	})
}

// TOTPStatus is whether an account's TOTP factor is on, and since when.
type TOTPStatus struct {
	Enabled bool
	// EnabledAt is when the secret in force was confirmed; zero when off.
	EnabledAt time.Time
}

// PasskeyView is a passkey as administrators see it: no credential.
type PasskeyView struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used
}

// FactorsView are an account's second factors, without any secret.
type FactorsView struct {
	TOTP     TOTPStatus
	Passkeys []PasskeyView
}

// FactorReader reads any account's second factors for administrators.
type FactorReader struct {
	users    UserReader
	totp     TOTPReader
	passkeys PasskeyLister
}

// NewFactorReader returns a FactorReader.
func NewFactorReader(users UserReader, totp TOTPReader, passkeys PasskeyLister) *FactorReader {
	return &FactorReader{users: users, totp: totp, passkeys: passkeys}
}

// Factors tells whether userID has TOTP on (a pending enrolment is off)
// and lists their passkeys, oldest first, to administrators only;
// user.ErrNotFound for an unknown account. Secrets and credentials stay
// here: the view has none.
func (r *FactorReader) Factors(ctx context.Context, a Actor, userID string) (FactorsView, error) {
	if err := a.authorize(); err != nil {
		return FactorsView{}, err
	}
	if _, err := r.users.ByID(ctx, userID); err != nil {
		return FactorsView{}, err
	}
	var out FactorsView
	t, err := r.totp.Get(ctx, userID)
	switch {
	case errors.Is(err, mfa.ErrNotFound):
	case err != nil:
		return FactorsView{}, err
	case t.Active():
		out.TOTP = TOTPStatus{Enabled: true, EnabledAt: t.ConfirmedAt}
	}
	keys, err := r.passkeys.ListByUser(ctx, userID)
	if err != nil {
		return FactorsView{}, err
	}
	out.Passkeys = make([]PasskeyView, len(keys))
	for i, k := range keys {
		out.Passkeys[i] = PasskeyView{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	}
	return out, nil
}
