package admin

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// AccountUpdater changes accounts for administrators.
type AccountUpdater struct {
	users AccountEditor
	d     WriterDeps
	j     journal
	view  viewer
}

// NewAccountUpdater returns an AccountUpdater.
func NewAccountUpdater(users AccountEditor, d WriterDeps) *AccountUpdater {
	return &AccountUpdater{users: users, d: d, j: journal{d.Audit, d.Notifier}, view: viewer{users, d.Clock}}
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
// role from the last enabled administrator or disable them (auth.ErrLastAdmin),
// so there is always a way back in.
func (s *AccountUpdater) Update(ctx context.Context, a Actor, userID string, p Patch) (View, error) {
	if err := s.d.Guard.AuthorizeWrite(ctx, a); err != nil {
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
	var meta user.AppMetadata
	if p.AppMetadata != nil {
		var err error
		meta, err = user.NewAppMetadata("appMetadata", *p.AppMetadata)
		errs = append(errs, err)
	}
	if err := user.Join(errs...); err != nil {
		return View{}, err
	}
	self := !a.CLI && userID == a.Principal.UserID()
	if self && ((p.Roles != nil && !(user.User{Roles: p.Roles}).HasRole(user.RoleAdmin)) || (p.Disabled != nil && *p.Disabled)) {
		return View{}, auth.ErrForbidden
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
			if admins, err = lockAdmins(ctx, s.users, a); err != nil {
				return err
			}
		}
		now := s.d.Clock.Now().UTC()
		disabling := false
		u, err := s.users.UpdateAdmin(ctx, userID, func(u *user.User) error {
			wasAdmin := u.ActiveAdmin()
			add := func(t audit.Type) { events = append(events, s.j.event(a, t, u.ID, now)) }
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
			if p.AppMetadata != nil && meta != u.AppMetadata {
				u.AppMetadata = meta
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
				return auth.ErrLastAdmin
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
			if err := s.d.publish(ctx, webhook.NewUserUpdated(id.New(), u, changed, now)); err != nil {
				return err
			}
		}
		return s.j.append(ctx, events...)
	})
	if err != nil {
		return View{}, err
	}
	if len(events) > 0 {
		forget(s.d.Cache, userID)
	}
	s.j.notify(ctx, events...)
	return s.view.view(ctx, out)
}

// SetRolesByEmail replaces the roles of the account with this email (the
// command line's way to make an admin).
func (s *AccountUpdater) SetRolesByEmail(ctx context.Context, a Actor, email string, roles []string) (View, error) {
	if err := a.authorize(); err != nil {
		return View{}, err
	}
	e, ok := user.NormalizeEmail(email)
	if !ok {
		return View{}, user.Invalid("email", "must be a valid email address")
	}
	u, err := s.users.ByEmail(ctx, e)
	if err != nil {
		return View{}, err
	}
	return s.Update(ctx, a, u.ID, Patch{Roles: roles})
}
