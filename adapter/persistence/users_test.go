package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
)

func TestUserCreateFindUpdateDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "ada@example.com")

		got, err := s.users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "ByID", got, normUser(u))
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
		}
		got, err = s.users.ByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "ByEmail", got, normUser(u))

		u.Email, u.Name, u.Roles = "ada.l@example.com", "Ada L", []string{"user", "admin"}
		u.PasswordHash, u.UpdatedAt = "$argon2id$new", base.Add(time.Hour)
		if err := s.users.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err = s.users.ByEmail(ctx, "ada.l@example.com")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "after Update", got, normUser(u))
		if _, err := s.users.ByEmail(ctx, "ada@example.com"); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("old email: err = %v, want ErrNotFound", err)
		}

		if err := s.users.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.users.ByID(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("after Delete: err = %v, want ErrNotFound", err)
		}
		if err := s.users.Delete(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
		}
		if err := s.users.Update(ctx, u); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("Update of a deleted user: err = %v, want ErrNotFound", err)
		}
		for _, bad := range []string{"", "not-a-uuid", "0B6F6C1E-4C7A-4F1E-9A53-2C1D0E6B7A10"} {
			if _, err := s.users.ByID(ctx, bad); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("ByID(%q): err = %v, want ErrNotFound", bad, err)
			}
		}
	})
}

func TestUserDuplicateEmail(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		mustCreateUser(t, s, "taken@example.com")
		if err := s.users.Create(ctx, newUser("taken@example.com")); !errors.Is(err, user.ErrEmailTaken) {
			t.Fatalf("Create: err = %v, want ErrEmailTaken", err)
		}
		other := mustCreateUser(t, s, "other@example.com")
		other.Email = "taken@example.com"
		if err := s.users.Update(ctx, other); !errors.Is(err, user.ErrEmailTaken) {
			t.Fatalf("Update: err = %v, want ErrEmailTaken", err)
		}
		// The database refuses an email the domain forgot to normalize.
		if err := s.users.Create(ctx, newUser("Upper@example.com")); err == nil || errors.Is(err, user.ErrEmailTaken) {
			t.Fatalf("Create with upper-case email: err = %v, want a constraint error", err)
		}
	})
}

func TestUserConcurrentCreateOneEmail(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		const n = 20
		warmPool(t, s, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.users.Create(context.Background(), newUser("race@example.com"))
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, user.ErrEmailTaken):
			default:
				t.Errorf("goroutine %d: unexpected error %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creates succeeded, want exactly 1", ok)
		}
		if n := count(t, s, "users"); n != 1 {
			t.Fatalf("%d users stored, want 1", n)
		}
	})
}

func TestUserRolesRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := newUser("roles@example.com")
		u.Roles = []string{"a,b"}
		if err := s.users.Create(ctx, u); err == nil {
			t.Fatal("a role with a comma was stored")
		}
		u.Roles = nil
		if err := s.users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := s.users.ByID(ctx, u.ID)
		if err != nil || len(got.Roles) != 0 {
			t.Fatalf("roles = %#v, %v; want none", got.Roles, err)
		}
		for i := range 3 {
			v := newUser(fmt.Sprintf("u%d@example.com", i))
			v.Roles = []string{"user", "admin", "auditor"}[:i+1]
			if err := s.users.Create(ctx, v); err != nil {
				t.Fatal(err)
			}
			got, err := s.users.ByID(ctx, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "roles", got.Roles, v.Roles)
		}
	})
}

// UpdateProfile writes its fields and nothing else: a password change or an
// email change committed between a profile form's read and its save stays.
// The locale is read back by every read of the account, the per-request
// access check included.
func TestUserUpdateProfileAndLocale(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "ada@example.com")
		sess, _ := mustStartSession(t, s, u, base)
		if _, got, err := s.sessions.Liveness(ctx, sess.ID); err != nil || got.Locale != "de" {
			t.Fatalf("Liveness user locale %q, %v", got.Locale, err)
		}

		// Another operation commits in between.
		changed := u
		changed.Email, changed.PasswordHash, changed.UpdatedAt = "ada.l@example.com", "$argon2id$other", base.Add(time.Minute)
		if err := s.users.Update(ctx, changed); err != nil {
			t.Fatal(err)
		}
		en := "en"
		if err := s.users.UpdateProfile(ctx, u.ID, account.ProfileChange{Locale: &en, UpdatedAt: base.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := normUser(changed)
		want.Locale, want.UpdatedAt = "en", norm(base.Add(time.Hour))
		equal(t, "after a locale change", got, want)

		name := "Augusta"
		if err := s.users.UpdateProfile(ctx, u.ID, account.ProfileChange{Name: &name, UpdatedAt: base.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.users.ByEmail(ctx, "ada.l@example.com"); got.Name != "Augusta" || got.Locale != "en" || got.PasswordHash != "$argon2id$other" {
			t.Fatalf("after a name change: %+v", got)
		}
		// Update (every other write) leaves the locale alone.
		changed.Name = "Ada"
		if err := s.users.Update(ctx, changed); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.users.ByID(ctx, u.ID); got.Locale != "en" {
			t.Fatalf("Update changed the locale to %q", got.Locale)
		}
		if err := s.users.UpdateProfile(ctx, id.New(), account.ProfileChange{Name: &name}); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("unknown account: %v", err)
		}
		// An account created without one reads the default.
		plain := newUser("plain@example.com")
		plain.Locale = ""
		if err := s.users.Create(ctx, plain); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.users.ByID(ctx, plain.ID); got.Locale != user.DefaultLocale {
			t.Fatalf("default locale %q", got.Locale)
		}
	})
}
