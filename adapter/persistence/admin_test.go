package persistence_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// TestDisableBumpsCredentialVersion: disabling an account moves its
// credential version, as a password change does, so a login that proved the
// password just before the disable cannot start a session after it; other
// admin changes (and re-enabling) leave it alone.
func TestDisableBumpsCredentialVersion(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		u := mustCreateUser(t, s, "ada@example.com")
		version := func() int64 {
			t.Helper()
			got, err := s.users.ByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.CredentialVersion
		}
		v0 := version()
		set := func(fn func(*user.User)) {
			t.Helper()
			if _, err := dir.UpdateAdmin(ctx, u.ID, func(u *user.User) error { fn(u); return nil }); err != nil {
				t.Fatal(err)
			}
		}

		set(func(u *user.User) { u.Name = "Ada L" })
		if v := version(); v != v0 {
			t.Fatalf("a name change moved the credential version %d -> %d", v0, v)
		}
		set(func(u *user.User) { u.Disabled = true })
		if v := version(); v != v0+1 {
			t.Fatalf("disable: credential version %d; want %d", v, v0+1)
		}
		set(func(u *user.User) { u.Disabled = true }) // still disabled
		set(func(u *user.User) { u.Disabled = false })
		if v := version(); v != v0+1 {
			t.Fatalf("after staying disabled and re-enabling: %d; want %d", v, v0+1)
		}
		boom := errors.New("refused")
		if _, err := dir.UpdateAdmin(ctx, u.ID, func(u *user.User) error { u.Name = "Nope"; return boom }); !errors.Is(err, boom) {
			t.Fatalf("fn's error: %v", err)
		}
		if got, _ := s.users.ByID(ctx, u.ID); got.Name != "Ada L" {
			t.Fatalf("a refused update wrote the name %q", got.Name)
		}
		if _, err := dir.UpdateAdmin(ctx, id.New(), func(*user.User) error { return nil }); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("unknown account: %v", err)
		}
	})
}

// TestLockAdmins: the enabled accounts holding the admin role, in id
// order, whatever else their roles hold; and on PostgreSQL two transactions
// each demoting the other admin, with the set locked first, end with one
// admin left, not none (the second sees the first's change once it gets
// the lock).
func TestLockAdmins(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		mk := func(email string, roles []string, disabled bool) string {
			u := newUser(email)
			u.Roles, u.Disabled = roles, disabled
			if err := s.users.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		a := mk("a@example.com", []string{"user", "admin"}, false)
		b := mk("b@example.com", []string{"admin"}, false)
		mk("c@example.com", []string{"administrator", "superadmin", "admins"}, false)
		mk("d@example.com", []string{"admin"}, true)
		mk("e@example.com", []string{"user"}, false)
		want := []string{a, b}
		slices.Sort(want)
		var got []string
		err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			var err error
			got, err = dir.LockAdmins(ctx)
			return err
		})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("LockAdmins = %v, %v; want %v", got, err, want)
		}

		warmPool(t, s, 2)
		demote := func(self, other string) error {
			return s.tx.WithinTx(ctx, func(ctx context.Context) error {
				admins, err := dir.LockAdmins(ctx)
				if err != nil {
					return err
				}
				if !slices.Contains(admins, self) || len(admins) < 2 {
					return errLast
				}
				_, err = dir.UpdateAdmin(ctx, other, func(u *user.User) error { u.Roles = []string{"user"}; return nil })
				return err
			})
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = demote(a, b) })
		wg.Go(func() { errs[1] = demote(b, a) })
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, errLast):
				refused++
			case err != nil:
				t.Fatal(err)
			}
		}
		left, err := func() ([]string, error) {
			var ids []string
			return ids, s.tx.WithinTx(ctx, func(ctx context.Context) error {
				var err error
				ids, err = dir.LockAdmins(ctx)
				return err
			})
		}()
		if err != nil || refused != 1 || len(left) != 1 {
			t.Fatalf("two admins demoting each other: %d refused, admins left %v (%v); want 1 refused, 1 left", refused, left, err)
		}
	})
}

var errLast = errors.New("last admin")

// TestAdminFactsShowSecondFactors: the admin view says which accounts have a
// confirmed TOTP factor (a pending enrollment is not one) and how many
// passkeys each has, for a whole page at once.
func TestAdminFactsShowSecondFactors(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		dir := persistence.NewAdminDirectory(s.db)
		totp := persistence.NewTOTPStore(s.db, nil)
		passkeys := persistence.NewPasskeyStore(s.db)
		guarded := mustCreateUser(t, s, "guarded@example.com")
		pending := mustCreateUser(t, s, "pending@example.com")
		plain := mustCreateUser(t, s, "plain@example.com")
		const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
		if err := totp.Update(ctx, guarded.ID, func(f *mfa.TOTP) error {
			f.Secret, f.ConfirmedAt = secret, base
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := totp.Update(ctx, pending.ID, func(f *mfa.TOTP) error {
			f.Pending, f.PendingCreatedAt = secret, base
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, owner := range []string{guarded.ID, guarded.ID, pending.ID} {
			pk := mfa.Passkey{ID: id.New(), UserID: owner, Name: "key", CredentialID: []byte{byte(i + 1)}, Credential: []byte(`{}`), CreatedAt: base}
			if err := passkeys.Create(ctx, pk); err != nil {
				t.Fatal(err)
			}
		}
		facts, err := dir.Facts(ctx, []string{guarded.ID, pending.ID, plain.ID}, base)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who      string
			id       string
			mfa      bool
			passkeys int
		}{{"guarded", guarded.ID, true, 2}, {"pending", pending.ID, false, 1}, {"plain", plain.ID, false, 0}} {
			if f := facts[c.id]; f.MFAEnabled != c.mfa || f.Passkeys != c.passkeys {
				t.Errorf("%s: mfaEnabled %v, passkeys %d; want %v, %d", c.who, f.MFAEnabled, f.Passkeys, c.mfa, c.passkeys)
			}
		}
	})
}
