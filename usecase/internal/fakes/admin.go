package fakes

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/user"
)

// UpdateAdmin writes the fields administrators change (name, roles,
// disabled, emailVerified, updatedAt), as the persistence adapter does.
func (r *Users) UpdateAdmin(ctx context.Context, u user.User) error {
	s := r.s
	defer s.access(ctx)()
	old, ok := s.st.users[u.ID]
	if !ok {
		return user.ErrNotFound
	}
	old.Name, old.Roles, old.Disabled, old.EmailVerified, old.UpdatedAt = u.Name, u.Roles, u.Disabled, u.EmailVerified, u.UpdatedAt
	s.st.users[u.ID] = copyUser(old)
	return nil
}
