package persistence_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
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

		u.Name = "Ada L"
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0 {
			t.Fatalf("a name change moved the credential version %d -> %d", v0, v)
		}
		u.Disabled = true
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0+1 {
			t.Fatalf("disable: credential version %d; want %d", v, v0+1)
		}
		if err := dir.UpdateAdmin(ctx, u); err != nil { // still disabled
			t.Fatal(err)
		}
		u.Disabled = false
		if err := dir.UpdateAdmin(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v := version(); v != v0+1 {
			t.Fatalf("after staying disabled and re-enabling: %d; want %d", v, v0+1)
		}
	})
}

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
