package fakes

import (
	"context"

	"github.com/gatehouse/gatehouse/domain/user"
)

// UserMap is a plain account table keyed by ID, for the tests whose use
// cases only find and add accounts and need none of Store's transactions.
type UserMap map[string]user.User

// ByID finds an account by ID; user.ErrNotFound if none.
func (m UserMap) ByID(_ context.Context, id string) (user.User, error) {
	if u, ok := m[id]; ok {
		return u, nil
	}
	return user.User{}, user.ErrNotFound
}

// ByEmail finds an account by its stored address; user.ErrNotFound if none.
func (m UserMap) ByEmail(_ context.Context, email string) (user.User, error) {
	for _, u := range m {
		if u.Email == email {
			return u, nil
		}
	}
	return user.User{}, user.ErrNotFound
}

// Create adds u.
func (m UserMap) Create(_ context.Context, u user.User) error {
	m[u.ID] = u
	return nil
}
