package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// ReasonAdmin is the revoke reason of sessions an administrator ended.
const ReasonAdmin = "admin"

// ReasonDisabled is the revoke reason of the sessions a disable ended.
const ReasonDisabled = "disabled"

// Deps are the ports of the admin interactors.
type Deps struct {
	Users    Directory
	Sessions Sessions
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	Hasher   PasswordHasher
	Keys     SigningKeys
	// Notifier is optional.
	Notifier Notifier
	// Cache, when set, forgets an account after any change made to it or
	// its sessions.
	Cache SessionCache
	// StepUp, when set, is the freshness rule of the sensitive operations
	// (Update, RevokeSessions, Delete, RotateKey) for signed-in callers, so
	// any caller gets it, not only the routes that declare it. The command
	// line has no token and is exempt.
	StepUp *domauth.StepUpPolicy
	// Factors, when set with StepUp, adds aal2 to that rule for an
	// administrator whose account has a second factor: a stolen password
	// (or a session that never proved the factor) must not be enough to
	// change other accounts.
	Factors Factors
	// Events and Hook are optional (webhooks and the before-signup hook).
	Events Events
	Hook   SignupHook
}

// Service runs the administration use cases.
type Service struct{ d Deps }

// NewService returns a Service.
func NewService(d Deps) *Service { return &Service{d: d} }

// Actor is who acts: an administrator signed in over HTTP, or the command
// line (CLI true), which has database access and no account.
type Actor struct {
	Principal domauth.Principal
	CLI       bool
	IP        string
	UserAgent string
}

// CLIActor is the actor of the command line.
var CLIActor = Actor{CLI: true}

func (a Actor) id() string {
	if a.CLI {
		return audit.ActorCLI
	}
	return a.Principal.UserID()
}

// authorize admits the command line and callers whose account (as loaded
// with their session, so a removed role counts at once) holds admin.
func (a Actor) authorize() error {
	if a.CLI || a.Principal.User.HasRole(user.RoleAdmin) {
		return nil
	}
	return domauth.ErrForbidden
}

// AuthorizeWrite applies the rule of every administrative write to a: the
// command line, or an administrator with a fresh token, aal2 when their
// account has a second factor (see Deps.StepUp and Deps.Factors). The
// writes check it themselves; the routes call it first, to answer before
// reading a body.
func (s *Service) AuthorizeWrite(ctx context.Context, a Actor) error {
	if err := a.authorize(); err != nil {
		return err
	}
	if a.CLI || s.d.StepUp == nil {
		return nil
	}
	now := s.now()
	if err := s.d.StepUp.Check(a.Principal.Claims, now); err != nil {
		return err
	}
	if s.d.Factors == nil {
		return nil
	}
	has, err := s.d.Factors.HasSecondFactor(ctx, a.Principal.UserID())
	if err != nil {
		return err
	}
	return s.d.StepUp.CheckAAL2(a.Principal.Claims, has, now)
}

// View is an account as administrators see it.
type View struct {
	user.User
	Facts
}

// Page is one page of a search.
type Page struct {
	Items      []View
	NextCursor string
}

// MaxPage bounds a page of search results or events.
const MaxPage = 100

// Search lists accounts matching q (email or name substring).
func (s *Service) Search(ctx context.Context, a Actor, q, cursor string, limit int) (Page, error) {
	if err := a.authorize(); err != nil {
		return Page{}, err
	}
	if limit < 1 || limit > MaxPage {
		return Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	if len(q) > user.MaxEmailLength {
		return Page{}, user.Invalid("q", "must be at most 254 characters")
	}
	list, next, err := s.d.Users.Search(ctx, strings.TrimSpace(q), cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	if err != nil {
		return Page{}, err
	}
	views, err := s.views(ctx, list)
	return Page{Items: views, NextCursor: next}, err
}

func (s *Service) views(ctx context.Context, list []user.User) ([]View, error) {
	ids := make([]string, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	facts, err := s.d.Users.Facts(ctx, ids, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]View, len(list))
	for i, u := range list {
		out[i] = View{User: u, Facts: facts[u.ID]}
	}
	return out, nil
}

func (s *Service) view(ctx context.Context, u user.User) (View, error) {
	v, err := s.views(ctx, []user.User{u})
	if err != nil {
		return View{}, err
	}
	return v[0], nil
}

// Get reads one account.
func (s *Service) Get(ctx context.Context, a Actor, userID string) (View, error) {
	if err := a.authorize(); err != nil {
		return View{}, err
	}
	u, err := s.d.Users.ByID(ctx, userID)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, u)
}

// Patch is a partial change of an account; nil fields stay.
type Patch struct {
	Name          *string
	Roles         []string // nil: unchanged
	Disabled      *bool
	EmailVerified *bool
	// AppMetadata, when not nil, replaces the account's appMetadata; a
	// pointer to a nil or empty map clears it.
	AppMetadata *map[string]any
}

// Update applies p in a locked read-modify-write, so it changes only what
// p names and never writes back what another administrator changed since
// (see Directory.UpdateAdmin). Disabling revokes every session of the
// account in the same transaction. An administrator cannot remove their own
// admin role or disable themselves (ErrForbidden), and nobody can take the
// role from the last enabled administrator or disable them (domauth.ErrLastAdmin),
// so there is always a way back in.
func (s *Service) Update(ctx context.Context, a Actor, userID string, p Patch) (View, error) {
	if err := s.AuthorizeWrite(ctx, a); err != nil {
		return View{}, err
	}
	var errs []error
	var name string
	if p.Name != nil {
		var err error
		name, err = user.NormalizeName(*p.Name)
		errs = append(errs, err)
	}
	if p.Roles != nil {
		errs = append(errs, user.CheckRoles("roles", p.Roles))
	}
	if p.AppMetadata != nil {
		_, err := user.CheckAppMetadata("appMetadata", *p.AppMetadata)
		errs = append(errs, err)
	}
	if err := user.Join(errs...); err != nil {
		return View{}, err
	}
	self := !a.CLI && userID == a.Principal.UserID()
	if self && ((p.Roles != nil && !(user.User{Roles: p.Roles}).HasRole(user.RoleAdmin)) || (p.Disabled != nil && *p.Disabled)) {
		return View{}, domauth.ErrForbidden
	}
	// Only a change of roles or a disable can take an administrator away.
	guard := p.Roles != nil || p.Disabled != nil && *p.Disabled
	var (
		out     user.User
		events  []audit.Event
		changed []string
	)
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		events, changed = events[:0], changed[:0]
		var admins []string
		if guard {
			// Before the account's own lock, always in this order, so two
			// administrators demoting each other queue instead of deadlocking,
			// and the second sees the first's change.
			var err error
			if admins, err = s.lockAdmins(ctx, a); err != nil {
				return err
			}
		}
		now := s.now()
		disabling := false
		u, err := s.d.Users.UpdateAdmin(ctx, userID, func(u *user.User) error {
			wasAdmin := u.ActiveAdmin()
			add := func(t audit.Type) { events = append(events, s.event(a, t, u.ID, now)) }
			if p.Name != nil && name != u.Name {
				u.Name = name
				add(audit.AdminNameChanged)
				changed = append(changed, "name")
			}
			if p.Roles != nil && strings.Join(p.Roles, ",") != strings.Join(u.Roles, ",") {
				u.Roles = append([]string(nil), p.Roles...)
				add(audit.AdminRolesChanged)
				changed = append(changed, "roles")
			}
			if p.EmailVerified != nil && *p.EmailVerified != u.EmailVerified {
				u.EmailVerified = *p.EmailVerified
				add(audit.AdminEmailVerifiedSet)
				changed = append(changed, "emailVerified")
			}
			if p.AppMetadata != nil && !sameMetadata(*p.AppMetadata, u.AppMetadata) {
				u.AppMetadata = *p.AppMetadata
				if len(u.AppMetadata) == 0 {
					u.AppMetadata = nil
				}
				add(audit.AdminAppMetadataChanged)
				changed = append(changed, "appMetadata")
			}
			if p.Disabled != nil && *p.Disabled != u.Disabled {
				u.Disabled = *p.Disabled
				changed = append(changed, "disabled")
				disabling = u.Disabled
				if u.Disabled {
					add(audit.AdminUserDisabled)
				} else {
					add(audit.AdminUserEnabled)
				}
			}
			if wasAdmin && !u.ActiveAdmin() && !othersRemain(admins, u.ID) {
				return domauth.ErrLastAdmin
			}
			if len(events) > 0 {
				u.UpdatedAt = now
			}
			return nil
		})
		if err != nil {
			return err
		}
		out = u
		if disabling {
			if _, err := s.d.Sessions.RevokeAllForUser(ctx, u.ID, "", ReasonDisabled, now); err != nil {
				return err
			}
		}
		if len(changed) > 0 {
			if err := s.publish(ctx, webhook.NewUserUpdated(id.New(), u, changed, now)); err != nil {
				return err
			}
		}
		return s.append(ctx, events)
	})
	if err != nil {
		return View{}, err
	}
	if len(events) > 0 {
		s.forget(userID)
	}
	s.notify(ctx, events)
	return s.view(ctx, out)
}

// lockAdmins locks the set of enabled administrators for the rest of the
// transaction and checks that a signed-in actor is still one of them: an
// administrator demoted or disabled by a change that committed while this
// request waited acts no more.
func (s *Service) lockAdmins(ctx context.Context, a Actor) ([]string, error) {
	admins, err := s.d.Users.LockAdmins(ctx)
	if err != nil {
		return nil, err
	}
	if !a.CLI && !slices.Contains(admins, a.Principal.UserID()) {
		return nil, domauth.ErrForbidden
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

// forget evicts userID from this instance's session cache: disabled, its
// roles changed or its sessions ended, what the cache holds is stale.
func (s *Service) forget(userID string) {
	if s.d.Cache != nil {
		s.d.Cache.ForgetUser(userID)
	}
}

// RevokeSessions ends every session of the account.
func (s *Service) RevokeSessions(ctx context.Context, a Actor, userID string) error {
	if err := s.AuthorizeWrite(ctx, a); err != nil {
		return err
	}
	var ev audit.Event
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if _, err := s.d.Users.ByID(ctx, userID); err != nil {
			return err
		}
		now := s.now()
		if _, err := s.d.Sessions.RevokeAllForUser(ctx, userID, "", ReasonAdmin, now); err != nil {
			return err
		}
		ev = s.event(a, audit.AdminSessionsRevoked, userID, now)
		return s.d.Audit.Append(ctx, ev)
	})
	if err == nil {
		s.forget(userID)
		s.notify(ctx, []audit.Event{ev})
	}
	return err
}

// Delete removes the account with its sessions; its events stay, scrubbed
// of client data, with the deletion recorded. Not oneself (ErrForbidden).
func (s *Service) Delete(ctx context.Context, a Actor, userID string) error {
	if err := s.AuthorizeWrite(ctx, a); err != nil {
		return err
	}
	if !a.CLI && userID == a.Principal.UserID() {
		return domauth.ErrForbidden
	}
	var ev audit.Event
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		admins, err := s.lockAdmins(ctx, a)
		if err != nil {
			return err
		}
		if slices.Contains(admins, userID) && !othersRemain(admins, userID) {
			return domauth.ErrLastAdmin
		}
		if err := s.d.Users.Delete(ctx, userID); err != nil {
			return err
		}
		if err := s.d.Audit.ScrubUser(ctx, userID); err != nil {
			return err
		}
		ev = s.event(a, audit.AdminUserDeleted, userID, s.now())
		// The deleted account's events keep no client data, the
		// administrator's included.
		ev.IP, ev.UserAgent = "", ""
		if err := s.publish(ctx, webhook.NewUserDeleted(id.New(), userID, ev.CreatedAt)); err != nil {
			return err
		}
		return s.d.Audit.Append(ctx, ev)
	})
	if err == nil {
		s.forget(userID)
		s.notify(ctx, []audit.Event{ev})
	}
	return err
}

// SecurityEvents lists an account's events, newest first.
func (s *Service) SecurityEvents(ctx context.Context, a Actor, userID, cursor string, limit int) (audit.Page, error) {
	if err := a.authorize(); err != nil {
		return audit.Page{}, err
	}
	if limit < 1 || limit > MaxPage {
		return audit.Page{}, user.Invalid("limit", "must be between 1 and 100")
	}
	if _, err := s.d.Users.ByID(ctx, userID); err != nil {
		return audit.Page{}, err
	}
	page, err := s.d.Audit.ListByUser(ctx, userID, cursor, limit)
	if errors.Is(err, audit.ErrInvalidCursor) {
		return audit.Page{}, user.Invalid("cursor", "is not a cursor this service issued")
	}
	return page, err
}

// CreateInput is a new account made by an administrator.
type CreateInput struct {
	Email, Password, Name string
	Roles                 []string // empty: ["user"]
}

// Create makes an account without signing it in (the command line's first
// admin). Its email counts as verified: an operator vouched for it.
func (s *Service) Create(ctx context.Context, a Actor, in CreateInput) (user.User, error) {
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
	if s.d.Hook != nil {
		if err := s.d.Hook.BeforeSignup(ctx, webhook.Signup{Email: email, Name: name, Method: webhook.MethodAdmin, IP: a.IP}); err != nil {
			return user.User{}, err
		}
	}
	hash, err := s.d.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return user.User{}, err
	}
	now := s.now()
	u := user.User{ID: id.New(), Email: email, Name: name, Roles: roles, PasswordHash: hash,
		EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	ev := s.event(a, audit.AdminUserCreated, u.ID, now)
	err = s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := s.d.Users.Create(ctx, u); err != nil {
			return err
		}
		if err := s.publish(ctx, webhook.NewUserCreated(id.New(), u, webhook.MethodAdmin, now)); err != nil {
			return err
		}
		return s.d.Audit.Append(ctx, ev)
	})
	if err != nil {
		return user.User{}, err
	}
	s.notify(ctx, []audit.Event{ev})
	return u, nil
}

// SetRolesByEmail replaces the roles of the account with this email (the
// command line's way to make an admin).
func (s *Service) SetRolesByEmail(ctx context.Context, a Actor, email string, roles []string) (View, error) {
	if err := a.authorize(); err != nil {
		return View{}, err
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return View{}, user.Invalid("email", "must be a valid email address")
	}
	u, err := s.d.Users.ByEmail(ctx, e)
	if err != nil {
		return View{}, err
	}
	return s.Update(ctx, a, u.ID, Patch{Roles: roles})
}

// Keys lists the signing keys.
func (s *Service) Keys(ctx context.Context, a Actor) ([]domauth.KeyStatus, error) {
	if err := a.authorize(); err != nil {
		return nil, err
	}
	return s.d.Keys.Keys(ctx)
}

// RotateKey adds the next signing key (published now, signing after the
// publish-ahead time).
func (s *Service) RotateKey(ctx context.Context, a Actor) (domauth.KeyStatus, error) {
	if err := s.AuthorizeWrite(ctx, a); err != nil {
		return domauth.KeyStatus{}, err
	}
	k, err := s.d.Keys.Rotate(ctx)
	if err == nil && s.d.Notifier != nil {
		s.d.Notifier.AdminAction(ctx, audit.Event{Type: "signing_key_rotated", ActorID: a.id(), CreatedAt: s.now()})
	}
	return k, err
}

func (s *Service) event(a Actor, t audit.Type, userID string, now time.Time) audit.Event {
	return audit.Event{ID: id.New(), UserID: userID, Type: t, IP: a.IP, UserAgent: a.UserAgent,
		CreatedAt: now, ActorID: a.id()}
}

func (s *Service) append(ctx context.Context, events []audit.Event) error {
	for _, e := range events {
		if err := s.d.Audit.Append(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) notify(ctx context.Context, events []audit.Event) {
	if s.d.Notifier == nil {
		return
	}
	for _, e := range events {
		s.d.Notifier.AdminAction(ctx, e)
	}
}

// publish publishes e when events are configured.
func (s *Service) publish(ctx context.Context, e webhook.Event) error {
	if s.d.Events == nil {
		return nil
	}
	return s.d.Events.Publish(ctx, e)
}

// sameMetadata compares two appMetadata objects by their JSON encoding
// (nil and empty are the same: no metadata).
func sameMetadata(a, b map[string]any) bool {
	ja, _ := user.CheckAppMetadata("", a)
	jb, _ := user.CheckAppMetadata("", b)
	return ja == jb
}

func (s *Service) now() time.Time { return s.d.Clock.Now().UTC() }

// AuthorizeRead applies the rule of every administrative read to a: the
// command line, or a caller whose current account holds the admin role.
func (s *Service) AuthorizeRead(_ context.Context, a Actor) error { return a.authorize() }
