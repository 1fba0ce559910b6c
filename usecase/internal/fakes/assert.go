package fakes

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/user"
)

// WantErr fails t unless err is (or wraps) want.
func WantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v; want %v", what, err, want)
	}
}

// WantField fails t unless err is a *user.ValidationError naming field.
func WantField(t testing.TB, err error, field string) {
	t.Helper()
	var ve *user.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T); want a *user.ValidationError on %q", err, err, field)
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("validation error %v does not name field %q", ve, field)
}

// MustUser returns the stored account id, failing t when there is none.
func (s *Store) MustUser(t testing.TB, id string) user.User {
	t.Helper()
	u, ok := s.User(id)
	if !ok {
		t.Fatalf("user %s is not in the store", id)
	}
	return u
}

// MustPrincipal authenticates an access token with a, failing t if it is
// refused.
func MustPrincipal(t testing.TB, a interface {
	Authenticate(ctx context.Context, access string) (auth.Principal, error)
}, access string) auth.Principal {
	t.Helper()
	p, err := a.Authenticate(t.Context(), access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}
