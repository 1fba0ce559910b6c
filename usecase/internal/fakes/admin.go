package fakes

import (
	"context"
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/domain/user"
)

// UpdateAdmin changes the account id with fn and writes the fields
// administrators change (name, roles, disabled, emailVerified, updatedAt),
// bumping the credential version on a disable, as the persistence adapter
// does. The store serializes transactions, which is the row lock.
func (r *Users) UpdateAdmin(ctx context.Context, id string, fn func(*user.User) error) (user.User, error) {
	var out user.User
	err := r.modify(ctx, id, func(u *user.User) error {
		next := copyUser(*u)
		if err := fn(&next); err != nil {
			return err
		}
		if next.Disabled && !u.Disabled {
			u.CredentialVersion++
		}
		u.Name, u.Roles, u.Disabled, u.EmailVerified, u.UpdatedAt = next.Name, slices.Clone(next.Roles), next.Disabled, next.EmailVerified, next.UpdatedAt
		out = copyUser(*u)
		return nil
	})
	return out, err
}

// LockAdmins returns the IDs of the enabled administrators, in order.
func (r *Users) LockAdmins(ctx context.Context) ([]string, error) {
	s := r.s
	defer s.access(ctx)()
	var ids []string
	for id, u := range s.st.users {
		if u.ActiveAdmin() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
