package admin

import (
	"context"
	"slices"

	"github.com/gatehouse/gatehouse/usecase/authn"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// WriterDeps are the ports shared by the administrative writes that end
// sessions: a SessionsRevoker's and an AccountDeleter's.
type WriterDeps struct {
	Sessions Sessions
	Audit    EventScrubber
	Tx       Transactor
	Clock    Clock
	Guard    *WriteGuard
	// Notifier and Cache are optional.
	Notifier Notifier
	Cache    SessionCache
	// Events is optional: user.updated and user.deleted (webhooks).
	Events Events
}

// publish publishes e when events are configured.
func (d WriterDeps) publish(ctx context.Context, e webhook.Event) error {
	if d.Events == nil {
		return nil
	}
	return d.Events.Publish(ctx, e)
}

// accountWrite is the frame of an administrative write to one account:
// the rule of writes, the change and its event in one transaction, then,
// once committed, the account's cached sessions forgotten and the notifier
// told.
type accountWrite struct {
	guard *WriteGuard
	tx    Transactor
	cache SessionCache
	j     journal
}

func (d WriterDeps) accountWrite() accountWrite {
	return accountWrite{guard: d.Guard, tx: d.Tx, cache: d.Cache, j: journal{d.Audit, d.Notifier}}
}

// run makes the change fn to userID's account and records the event fn
// returns, in the same transaction.
func (w accountWrite) run(ctx context.Context, a Actor, userID string, fn func(ctx context.Context) (audit.Event, error)) error {
	if err := w.guard.AuthorizeWrite(ctx, a); err != nil {
		return err
	}
	var ev audit.Event
	err := w.tx.WithinTx(ctx, func(ctx context.Context) error {
		var err error
		if ev, err = fn(ctx); err != nil {
			return err
		}
		return w.j.append(ctx, ev)
	})
	if err == nil {
		forget(w.cache, userID)
		w.j.notify(ctx, ev)
	}
	return err
}

// SessionsRevoker ends every session of an account.
type SessionsRevoker struct {
	users UserReader
	d     WriterDeps
	w     accountWrite
}

// NewSessionsRevoker returns a SessionsRevoker.
func NewSessionsRevoker(users UserReader, d WriterDeps) *SessionsRevoker {
	return &SessionsRevoker{users: users, d: d, w: d.accountWrite()}
}

// RevokeSessions ends every session of the account, under the rule of
// writes (WriteGuard); user.ErrNotFound.
func (r *SessionsRevoker) RevokeSessions(ctx context.Context, a Actor, userID string) error {
	return r.w.run(ctx, a, userID, func(ctx context.Context) (audit.Event, error) {
		if _, err := r.users.ByID(ctx, userID); err != nil {
			return audit.Event{}, err
		}
		now := r.d.Clock.Now().UTC()
		if _, err := r.d.Sessions.RevokeAllForUser(ctx, userID, "", ReasonAdmin, now); err != nil {
			return audit.Event{}, err
		}
		return r.w.j.event(a, audit.AdminSessionsRevoked, userID, now), nil
	})
}

// AccountDeleter deletes accounts for administrators.
type AccountDeleter struct {
	users AccountRemover
	d     WriterDeps
	w     accountWrite
}

// NewAccountDeleter returns an AccountDeleter.
func NewAccountDeleter(users AccountRemover, d WriterDeps) *AccountDeleter {
	return &AccountDeleter{users: users, d: d, w: d.accountWrite()}
}

// Delete removes the account with its sessions, under the rule of writes;
// its events stay, scrubbed of client data, with the deletion recorded.
// Not oneself (auth.ErrForbidden), nor the last enabled administrator
// (auth.ErrLastAdmin).
func (d *AccountDeleter) Delete(ctx context.Context, a Actor, userID string) error {
	return d.w.run(ctx, a, userID, func(ctx context.Context) (audit.Event, error) {
		if !a.CLI && userID == a.Principal.UserID() {
			return audit.Event{}, auth.ErrForbidden
		}
		admins, err := lockAdmins(ctx, d.users, a)
		if err != nil {
			return audit.Event{}, err
		}
		if slices.Contains(admins, userID) && !othersRemain(admins, userID) {
			return audit.Event{}, auth.ErrLastAdmin
		}
		if err := d.users.Delete(ctx, userID); err != nil {
			return audit.Event{}, err
		}
		if err := d.d.Audit.ScrubUser(ctx, userID); err != nil {
			return audit.Event{}, err
		}
		ev := d.w.j.event(a, audit.AdminUserDeleted, userID, d.d.Clock.Now().UTC())
		// The deleted account's events keep no client data, the
		// administrator's included.
		ev.IP, ev.UserAgent = "", ""
		return ev, d.d.publish(ctx, webhook.NewUserDeleted(id.New(), userID, ev.CreatedAt))
	})
}

// CreateInput is a new account made by an administrator.
type CreateInput struct {
	Email, Password, Name string
	Roles                 []string // empty: ["user"]
}

// AccountCreator makes accounts for administrators.
type AccountCreator struct {
	users  UserCreator
	hasher PasswordHasher
	j      journal
	tx     Transactor
	clock  Clock
	events Events
	hook   SignupHook
}

// WithWebhooks makes the creator ask hook (the before-signup hook) first
// and publish user.created to events; either may be nil.
func (c *AccountCreator) WithWebhooks(events Events, hook SignupHook) *AccountCreator {
	c.events, c.hook = events, hook
	return c
}

// NewAccountCreator returns an AccountCreator; notifier may be nil.
func NewAccountCreator(users UserCreator, hasher PasswordHasher, events EventRecorder, notifier Notifier, tx Transactor, clock Clock) *AccountCreator {
	return &AccountCreator{users: users, hasher: hasher, j: journal{events, notifier}, tx: tx, clock: clock}
}

// Create makes an account without signing it in (the command line's first
// admin). Its email counts as verified: an operator vouched for it.
// user.ErrEmailTaken, or a validation error for a bad address, password,
// name or role.
func (c *AccountCreator) Create(ctx context.Context, a Actor, in CreateInput) (user.User, error) {
	if err := a.authorize(); err != nil {
		return user.User{}, err
	}
	roles := in.Roles
	if len(roles) == 0 {
		roles = []string{user.RoleUser}
	}
	email, name, err := user.CheckNewAccount(in.Email, in.Password, in.Name)
	if err := user.Join(err, user.CheckRoles("roles", roles)); err != nil {
		return user.User{}, err
	}
	// The app decides who has an account, whoever creates it; asked
	// before anything is written.
	if c.hook != nil {
		if err := c.hook.BeforeSignup(ctx, authn.SignupAttempt{Email: email, Name: name, Method: webhook.MethodAdmin, IP: a.IP}); err != nil {
			return user.User{}, err
		}
	}
	hash, err := c.hasher.Hash(ctx, in.Password)
	if err != nil {
		return user.User{}, err
	}
	now := c.clock.Now().UTC()
	u := user.User{ID: id.New(), Email: email, Name: name, Roles: roles, PasswordHash: hash,
		EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	ev := c.j.event(a, audit.AdminUserCreated, u.ID, now)
	err = c.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := c.users.Create(ctx, u); err != nil {
			return err
		}
		if c.events != nil {
			if err := c.events.Publish(ctx, webhook.NewUserCreated(id.New(), u, webhook.MethodAdmin, now)); err != nil {
				return err
			}
		}
		return c.j.append(ctx, ev)
	})
	if err != nil {
		return user.User{}, err
	}
	c.j.notify(ctx, ev)
	return u, nil
}

// lockAdmins locks the set of enabled administrators for the rest of the
// transaction and checks that a signed-in actor is still one of them: an
// administrator demoted or disabled by a change that committed while this
// request waited acts no more.
func lockAdmins(ctx context.Context, users AdminLocker, a Actor) ([]string, error) {
	admins, err := users.LockAdmins(ctx)
	if err != nil {
		return nil, err
	}
	if !a.CLI && !slices.Contains(admins, a.Principal.UserID()) {
		return nil, auth.ErrForbidden
	}
	return admins, nil
}

// othersRemain reports whether an enabled administrator other than userID
// is among admins.
func othersRemain(admins []string, userID string) bool {
	for _, id := range admins {
		if id != userID {
			return true
		}
	}
	return false
}
