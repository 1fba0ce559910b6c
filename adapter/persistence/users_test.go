package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
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

		later := base.Add(time.Hour)
		if err := s.users.SetEmail(ctx, u.ID, "ada.l@example.com", true, later); err != nil {
			t.Fatal(err)
		}
		name := "Ada L"
		if err := s.users.UpdateProfile(ctx, u.ID, account.ProfileChange{Name: &name, UpdatedAt: later}); err != nil {
			t.Fatal(err)
		}
		u.Email, u.Name, u.EmailVerified, u.UpdatedAt = "ada.l@example.com", "Ada L", true, later
		got, err = s.users.ByEmail(ctx, "ada.l@example.com")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "after SetEmail and UpdateProfile", got, normUser(u))
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
		gone := "Gone"
		if err := s.users.UpdateProfile(ctx, u.ID, account.ProfileChange{Name: &gone, UpdatedAt: base}); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("UpdateProfile of a deleted user: err = %v, want ErrNotFound", err)
		}
		if err := s.users.SetPassword(ctx, u.ID, "$argon2id$x", 0, base); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("SetPassword of a deleted user: err = %v, want ErrNotFound", err)
		}
		if err := s.users.UpgradeHash(ctx, u.ID, "$argon2id$x", 0); err != nil {
			t.Fatalf("UpgradeHash of a deleted user: err = %v, want nothing done", err)
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
		if err := s.users.SetEmail(ctx, other.ID, "taken@example.com", false, base); !errors.Is(err, user.ErrEmailTaken) {
			t.Fatalf("SetEmail: err = %v, want ErrEmailTaken", err)
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

		// Other operations commit in between.
		changed := u
		changed.Email, changed.PasswordHash, changed.UpdatedAt = "ada.l@example.com", "$argon2id$other", base.Add(time.Minute)
		changed.CredentialVersion++
		if err := s.users.SetEmail(ctx, u.ID, changed.Email, false, changed.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		if err := s.users.SetPassword(ctx, u.ID, changed.PasswordHash, u.CredentialVersion, changed.UpdatedAt); err != nil {
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
		// Every other write leaves the locale alone.
		if err := s.users.SetEmail(ctx, u.ID, "ada@example.com", true, base.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.users.ByID(ctx, u.ID); got.Locale != "en" {
			t.Fatalf("SetEmail changed the locale to %q", got.Locale)
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

// TestUserWritesChangeOnlyTheirFields: every write of an account changes
// the columns of its operation and nothing else, so it cannot undo a
// change another request committed after the caller read the account
// (issue 21 item 2). The stale copy below stands for a read made before
// two hashes; an administrator's changes land in between.
func TestUserWritesChangeOnlyTheirFields(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		stale := mustCreateUser(t, s, "fields@example.com")
		admin := persistence.NewAdminDirectory(s.db)
		now := base.Add(time.Minute)
		changed, err := admin.UpdateAdmin(ctx, stale.ID, func(u *user.User) error {
			u.Roles, u.Disabled, u.Name, u.UpdatedAt = []string{"auditor"}, true, "Renamed", now
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if changed.CredentialVersion != stale.CredentialVersion+1 {
			t.Fatalf("disabling moved the credential version %d -> %d, want +1", stale.CredentialVersion, changed.CredentialVersion)
		}
		after := func(what string) user.User {
			t.Helper()
			u, err := s.users.ByID(ctx, stale.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, []string{"auditor"}) || !u.Disabled {
				t.Fatalf("after %s: roles %v, disabled %v: the administrator's change was undone", what, u.Roles, u.Disabled)
			}
			return u
		}

		// A password proven against the stale version lost the race to the
		// disable (which bumped it): nothing is written.
		if err := s.users.SetPassword(ctx, stale.ID, "$argon2id$stale", stale.CredentialVersion, now); !errors.Is(err, user.ErrCredentialChanged) {
			t.Fatalf("SetPassword with a stale version: err = %v, want ErrCredentialChanged", err)
		}
		if err := s.users.UpgradeHash(ctx, stale.ID, "$argon2id$stale", stale.CredentialVersion); err != nil {
			t.Fatal(err)
		}
		if u := after("stale password writes"); u.PasswordHash != stale.PasswordHash || u.Name != "Renamed" {
			t.Fatalf("a stale password write changed the hash to %q (name %q)", u.PasswordHash, u.Name)
		}

		if err := s.users.SetPassword(ctx, stale.ID, "$argon2id$new", changed.CredentialVersion, now); err != nil {
			t.Fatal(err)
		}
		u := after("SetPassword")
		if u.PasswordHash != "$argon2id$new" || u.CredentialVersion != changed.CredentialVersion+1 || u.Name != "Renamed" {
			t.Fatalf("after SetPassword: %+v", u)
		}
		if err := s.users.UpgradeHash(ctx, stale.ID, "$argon2id$upgraded", u.CredentialVersion); err != nil {
			t.Fatal(err)
		}
		if v := after("UpgradeHash"); v.PasswordHash != "$argon2id$upgraded" || v.CredentialVersion != u.CredentialVersion || !v.UpdatedAt.Equal(u.UpdatedAt) {
			t.Fatalf("after UpgradeHash: %+v (before %+v)", v, u)
		}
		name := "Ada"
		if err := s.users.UpdateProfile(ctx, stale.ID, account.ProfileChange{Name: &name, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.users.SetEmail(ctx, stale.ID, "moved@example.com", false, now); err != nil {
			t.Fatal(err)
		}
		if err := s.users.MarkEmailVerified(ctx, stale.ID, "fields@example.com", now); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("MarkEmailVerified of a left address: err = %v, want ErrNotFound", err)
		}
		if err := s.users.MarkEmailVerified(ctx, stale.ID, "moved@example.com", now); err != nil {
			t.Fatal(err)
		}
		if v := after("UpdateProfile, SetEmail, MarkEmailVerified"); v.Name != "Ada" || v.Email != "moved@example.com" || !v.EmailVerified || v.PasswordHash != "$argon2id$upgraded" {
			t.Fatalf("after the profile writes: %+v", v)
		}
	})
}
