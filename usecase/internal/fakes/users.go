package fakes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

var (
	_ authn.UserRepository   = (*Users)(nil)
	_ account.UserRepository = (*Users)(nil)
)

// ErrConstraint is returned for writes a database constraint would refuse
// other than the ones with domain sentinels (duplicate primary key, missing
// foreign key).
var ErrConstraint = errors.New("fakes: constraint violation")

// Users is the account repository of a Store. Emails are unique as stored:
// callers store normalized addresses, as the database's unique index on the
// normalized email expects.
type Users struct{ s *Store }

// Create inserts u; user.ErrEmailTaken when the email exists.
func (r *Users) Create(ctx context.Context, u user.User) error {
	s := r.s
	defer s.access(ctx)()
	if _, ok := s.st.users[u.ID]; ok || u.ID == "" {
		return fmt.Errorf("%w: user id %q", ErrConstraint, u.ID)
	}
	if _, ok := s.st.emails[u.Email]; ok {
		return user.ErrEmailTaken
	}
	s.st.users[u.ID] = copyUser(u)
	s.st.emails[u.Email] = u.ID
	return nil
}

// ByEmail finds an account by its (normalized) email.
func (r *Users) ByEmail(ctx context.Context, email string) (user.User, error) {
	s := r.s
	defer s.access(ctx)()
	id, ok := s.st.emails[email]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	return copyUser(s.st.users[id]), nil
}

// ByID finds an account.
func (r *Users) ByID(ctx context.Context, id string) (user.User, error) {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	return copyUser(u), nil
}

// modify changes the stored account id with fn, as one statement: the
// writes below change their own fields only, like the persistence adapter's.
func (r *Users) modify(ctx context.Context, id string, fn func(*user.User) error) error {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	old := u.Email
	if err := fn(&u); err != nil {
		return err
	}
	if u.Email != old {
		if owner, ok := s.st.emails[u.Email]; ok && owner != id {
			return user.ErrEmailTaken
		}
		delete(s.st.emails, old)
		s.st.emails[u.Email] = id
	}
	s.st.users[id] = copyUser(u)
	return nil
}

// UpdateProfile writes only the fields ch sets, and updatedAt, as the
// persistence adapter does.
func (r *Users) UpdateProfile(ctx context.Context, id string, ch account.ProfileChange) error {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	if ch.Name != nil {
		u.Name = *ch.Name
	}
	if ch.Locale != nil {
		u.Locale = *ch.Locale
	}
	u.UpdatedAt = ch.UpdatedAt
	s.st.users[id] = copyUser(u)
	return nil
}

// SetPassword stores a hash and bumps the credential version, while it is
// still proven; user.ErrCredentialChanged otherwise.
func (r *Users) SetPassword(ctx context.Context, id, hash string, proven int64, now time.Time) error {
	return r.modify(ctx, id, func(u *user.User) error {
		if u.CredentialVersion != proven {
			return user.ErrCredentialChanged
		}
		u.PasswordHash, u.UpdatedAt = hash, now
		u.CredentialVersion++
		return nil
	})
}

// UpgradeHash replaces the hash while the credential version is proven.
func (r *Users) UpgradeHash(ctx context.Context, id, hash string, proven int64) error {
	err := r.modify(ctx, id, func(u *user.User) error {
		if u.CredentialVersion == proven {
			u.PasswordHash = hash
		}
		return nil
	})
	if errors.Is(err, user.ErrNotFound) {
		return nil
	}
	return err
}

// SetEmail moves the account to an address; user.ErrEmailTaken.
func (r *Users) SetEmail(ctx context.Context, id, email string, verified bool, now time.Time) error {
	return r.modify(ctx, id, func(u *user.User) error {
		u.Email, u.EmailVerified, u.UpdatedAt = email, verified, now
		return nil
	})
}

// MarkEmailVerified records the address proven while the account has it.
func (r *Users) MarkEmailVerified(ctx context.Context, id, email string, now time.Time) error {
	return r.modify(ctx, id, func(u *user.User) error {
		if u.Email != email {
			return user.ErrNotFound
		}
		if !u.EmailVerified {
			u.EmailVerified, u.UpdatedAt = true, now
		}
		return nil
	})
}

// Delete removes the account with its sessions and refresh tokens (the
// database cascades). Security events are kept.
func (r *Users) Delete(ctx context.Context, id string) error {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	delete(s.st.users, id)
	delete(s.st.emails, u.Email)
	for sid, ss := range s.st.sessions {
		if ss.s.UserID == id {
			delete(s.st.sessions, sid)
		}
	}
	for h, t := range s.st.legacy {
		if _, ok := s.st.sessions[t.sessionID]; !ok {
			delete(s.st.legacy, h)
		}
	}
	return nil
}

// LockCredential returns the account's credential version. The fake store
// serializes transactions, which is the lock.
func (r *Users) LockCredential(ctx context.Context, id string) (int64, error) {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return 0, user.ErrNotFound
	}
	return u.CredentialVersion, nil
}

// BumpCredential increments the account's credential version.
func (r *Users) BumpCredential(ctx context.Context, id string) error {
	s := r.s
	defer s.access(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	u.CredentialVersion++
	s.st.users[id] = u
	return nil
}
