package persistence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

func TestTOTPStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		keys, err := sealbox.New(bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		store := persistence.NewTOTPStore(s.db, keys)
		u := mustCreateUser(t, s, "totp@example.com")
		const secret, pending = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "KRUGS4ZANFZSAYJAOBSW4ZDJNZTQ===="

		if _, err := store.Get(ctx, u.ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("Get before enrolment = %v", err)
		}
		if _, err := store.Get(ctx, "not-a-uuid"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("Get of a malformed id = %v", err)
		}
		confirmed := base.Add(time.Minute)
		err = store.Update(ctx, u.ID, func(tt *mfa.TOTP) error {
			if tt.UserID != u.ID || tt.Active() {
				t.Errorf("a missing factor reads as %+v", tt)
			}
			tt.Secret, tt.ConfirmedAt, tt.LastStep = secret, confirmed, 42
			tt.Pending, tt.PendingCreatedAt = pending, base
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "factor", got, mfa.TOTP{UserID: u.ID, Secret: secret, ConfirmedAt: norm(confirmed), LastStep: 42, Pending: pending, PendingCreatedAt: norm(base)})

		// At rest the secrets are sealed under the key's ID, never plain.
		var row struct {
			Secret      []byte
			SecretKeyID string
			Pending     []byte
		}
		if err := s.db.Raw("SELECT secret, secret_key_id, pending FROM totp_factors WHERE user_id = ?", u.ID).Scan(&row).Error; err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(row.Secret, []byte(secret)) || bytes.Contains(row.Pending, []byte(pending)) || row.SecretKeyID != sealbox.ID(bytes.Repeat([]byte{7}, 32)) {
			t.Fatalf("stored row is not sealed: %+v", row)
		}
		// Another instance without the key cannot read it, and says so.
		other := persistence.NewTOTPStore(s.db, nil)
		if _, err := other.Get(ctx, u.ID); !errors.Is(err, sealbox.ErrUnknownKey) {
			t.Fatalf("Get without the key = %v", err)
		}

		// An error from fn stores nothing.
		boom := errors.New("boom")
		if err := store.Update(ctx, u.ID, func(tt *mfa.TOTP) error { tt.LastStep = 99; return boom }); !errors.Is(err, boom) {
			t.Fatalf("Update = %v", err)
		}
		if got, _ := store.Get(ctx, u.ID); got.LastStep != 42 {
			t.Fatalf("a failed update was stored: %+v", got)
		}

		// Parallel code checks on one factor serialize: each sees the step
		// the previous one stored, so exactly one accepts step 43.
		oneWins(t, s, 8, mfa.ErrCodeInvalid, func(ctx context.Context) error {
			return store.Update(ctx, u.ID, func(tt *mfa.TOTP) error {
				if !mfa.AcceptStep(43, tt.LastStep) {
					return mfa.ErrCodeInvalid
				}
				tt.LastStep = 43
				return nil
			})
		})

		// Clearing both secrets deletes the row; the account's deletion
		// would cascade too.
		if err := store.Update(ctx, u.ID, func(tt *mfa.TOTP) error { *tt = mfa.TOTP{}; return nil }); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "totp_factors"); n != 0 {
			t.Fatalf("%d rows after removal", n)
		}
	})
}

// The count of failed codes moves only by its own statements: parallel
// failures each get a distinct count (none lost), the factor's update does
// not write it back, and clearing it sets it to zero.
func TestTOTPFailureCount(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewTOTPStore(s.db, nil)
		u := mustCreateUser(t, s, "count@example.com")
		if n, err := store.AddFailure(ctx, u.ID); err != nil || n != 0 {
			t.Fatalf("AddFailure without a factor = %d, %v", n, err)
		}
		if err := store.Update(ctx, u.ID, func(tt *mfa.TOTP) error {
			tt.Secret, tt.ConfirmedAt = "JBSWY3DPEHPK3PXP", base
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		const parallel = 16
		warmPool(t, s, 8)
		seen := make(chan int, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				var (
					n   int
					err error
				)
				// Half in a transaction (as a code check runs), half on their own.
				if i%2 == 0 {
					n, err = store.AddFailure(ctx, u.ID)
				} else {
					err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
						var err error
						n, err = store.AddFailure(ctx, u.ID)
						return err
					})
				}
				if err != nil {
					t.Errorf("AddFailure: %v", err)
				}
				seen <- n
			})
		}
		wg.Wait()
		close(seen)
		got := map[int]bool{}
		for n := range seen {
			got[n] = true
		}
		for n := 1; n <= parallel; n++ {
			if !got[n] {
				t.Fatalf("counts returned %v: %d missing (a lost or repeated increment)", got, n)
			}
		}
		// The factor's own update (a code accepted) leaves the count alone.
		if err := store.Update(ctx, u.ID, func(tt *mfa.TOTP) error {
			if tt.Failures != parallel {
				t.Errorf("Update read %d failures, want %d", tt.Failures, parallel)
			}
			tt.LastStep, tt.Failures = 7, 0
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if f, _ := store.Get(ctx, u.ID); f.Failures != parallel || f.LastStep != 7 {
			t.Fatalf("after Update: %+v", f)
		}
		if err := store.ClearFailures(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if f, _ := store.Get(ctx, u.ID); f.Failures != 0 {
			t.Fatalf("after ClearFailures: %d", f.Failures)
		}
		if n, err := store.AddFailure(ctx, u.ID); err != nil || n != 1 {
			t.Fatalf("AddFailure after clearing = %d, %v", n, err)
		}
		if err := store.ClearFailures(ctx, "not-a-uuid"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecoveryCodeStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewRecoveryCodeStore(s.db)
		u := mustCreateUser(t, s, "codes@example.com")
		codes := mfa.NewRecoveryCodes()
		hashes := make([][32]byte, len(codes))
		for i, c := range codes {
			n, ok := mfa.NormalizeRecoveryCode(c)
			if !ok {
				t.Fatalf("generated code %q does not normalize", c)
			}
			hashes[i] = mfa.HashRecoveryCode(u.ID, n)
		}
		if err := store.Replace(ctx, u.ID, hashes, base); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.Remaining(ctx, u.ID); n != 10 {
			t.Fatalf("%d codes stored", n)
		}
		// Ten parallel uses of one code: exactly one succeeds.
		warmPool(t, s, 10)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				used, err := store.Use(ctx, u.ID, hashes[0], base)
				if err != nil {
					t.Error(err)
				}
				if used {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("one code used %d times", ok.Load())
		}
		if used, _ := store.Use(ctx, id.New(), hashes[1], base); used {
			t.Fatal("another account's code was accepted")
		}
		if n, _ := store.Remaining(ctx, u.ID); n != 9 {
			t.Fatalf("%d codes left after one use", n)
		}
		// A new set voids the old one.
		fresh := [][32]byte{sha256.Sum256([]byte("x"))}
		if err := store.Replace(ctx, u.ID, fresh, base); err != nil {
			t.Fatal(err)
		}
		if used, _ := store.Use(ctx, u.ID, hashes[1], base); used {
			t.Fatal("a code of the old set still works")
		}
		if used, _ := store.Use(ctx, u.ID, fresh[0], base); !used {
			t.Fatal("a code of the new set does not work")
		}
		if err := store.DeleteAll(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "recovery_codes"); n != 0 {
			t.Fatalf("%d codes after DeleteAll", n)
		}
	})
}

func TestMFAChallengeStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewMFAChallengeStore(s.db)
		u := mustCreateUser(t, s, "challenge@example.com")
		c := mfa.Challenge{Hash: sha256.Sum256([]byte("tok")), UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(mfa.ChallengeTTL)}
		if err := store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := store.Get(ctx, c.Hash)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "challenge", got, mfa.Challenge{Hash: c.Hash, UserID: u.ID, CreatedAt: norm(base), ExpiresAt: norm(c.ExpiresAt)})
		if _, err := store.Get(ctx, sha256.Sum256([]byte("other"))); !errors.Is(err, mfa.ErrCodeInvalid) {
			t.Fatalf("unknown token: %v", err)
		}
		if err := store.Update(ctx, sha256.Sum256([]byte("other")), func(*mfa.Challenge) error { return nil }); !errors.Is(err, mfa.ErrCodeInvalid) {
			t.Fatalf("Update of an unknown token: %v", err)
		}
		used := base.Add(time.Minute)
		if err := store.Update(ctx, c.Hash, func(c *mfa.Challenge) error { c.Failures = 2; c.UsedAt = used; return nil }); err != nil {
			t.Fatal(err)
		}
		got, _ = store.Get(ctx, c.Hash)
		if got.Failures != 2 || !got.UsedAt.Equal(norm(used)) || got.Usable(base) {
			t.Fatalf("after update: %+v", got)
		}
		if n, err := store.PurgeExpired(ctx, base); err != nil || n != 0 {
			t.Fatalf("purge before expiry: %d, %v", n, err)
		}
		if n, err := store.PurgeExpired(ctx, base.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge after expiry: %d, %v", n, err)
		}
	})
}

func TestSessionMethodsRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		u := mustCreateUser(t, s, "methods@example.com")
		sess, _ := mustStartSession(t, s, u, base)
		got, err := s.sessions.ByID(ctx, sess.ID)
		// None stored reads back as none (the use case takes it for a password).
		if err != nil || len(got.Methods) != 0 {
			t.Fatalf("default methods: %v, %v", got.Methods, err)
		}
		if err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
			return s.sessions.Update(ctx, sess.ID, func(cur *session.Session) error {
				cur.Methods = []string{"pwd", "otp", "mfa"}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		again, _, err := s.sessions.WithUser(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "methods", again.Methods, []string{"pwd", "otp", "mfa"})
	})
}

func TestPasskeyStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewPasskeyStore(s.db)
		u := mustCreateUser(t, s, "keys@example.com")
		other := mustCreateUser(t, s, "other@example.com")
		pk := mfa.Passkey{ID: id.New(), UserID: u.ID, Name: "Laptop", CredentialID: []byte{1, 2, 3}, Credential: []byte(`{"x":1}`), CreatedAt: base}
		if err := store.Create(ctx, pk); err != nil {
			t.Fatal(err)
		}
		// One credential belongs to one account.
		dup := pk
		dup.ID, dup.UserID = id.New(), other.ID
		if err := store.Create(ctx, dup); !errors.Is(err, mfa.ErrPasskeyInvalid) {
			t.Fatalf("duplicate credential: %v", err)
		}
		got, err := store.ByCredentialID(ctx, []byte{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		pk.CreatedAt = norm(base)
		equal(t, "passkey", got, pk)
		if _, err := store.ByCredentialID(ctx, []byte{9}); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("unknown credential: %v", err)
		}
		got.Credential, got.LastUsedAt = []byte(`{"x":2}`), base.Add(time.Hour)
		if err := store.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		list, err := store.ListByUser(ctx, u.ID)
		if err != nil || len(list) != 1 || string(list[0].Credential) != `{"x":2}` || !list[0].LastUsedAt.Equal(norm(base.Add(time.Hour))) {
			t.Fatalf("after update: %+v, %v", list, err)
		}
		// Another account cannot delete it, and an unknown id is not found.
		if err := store.Delete(ctx, other.ID, pk.ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("foreign delete: %v", err)
		}
		if err := store.Delete(ctx, u.ID, "nope"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
		if err := store.Delete(ctx, u.ID, pk.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := store.ListByUser(ctx, u.ID); len(list) != 0 {
			t.Fatalf("%d passkeys after delete", len(list))
		}
	})
}

func TestCeremonyStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		store := persistence.NewCeremonyStore(s.db)
		u := mustCreateUser(t, s, "ceremony@example.com")
		login := factors.Ceremony{ID: id.New(), Purpose: factors.PurposeLogin, State: []byte("state"), CreatedAt: base, ExpiresAt: base.Add(5 * time.Minute)}
		if err := store.Create(ctx, login); err != nil {
			t.Fatal(err)
		}
		// The wrong purpose does not take it; ten parallel takes get it once.
		if _, err := store.Take(ctx, login.ID, factors.PurposeRegistration); !errors.Is(err, mfa.ErrPasskeyInvalid) {
			t.Fatalf("take for another purpose: %v", err)
		}
		oneWins(t, s, 10, mfa.ErrPasskeyInvalid, func(ctx context.Context) error {
			c, err := store.Take(ctx, login.ID, factors.PurposeLogin)
			if err == nil && (string(c.State) != "state" || c.UserID != "" || !c.ExpiresAt.Equal(norm(login.ExpiresAt))) {
				t.Errorf("taken %+v", c)
			}
			return err
		})
		// Registration: the newest of the user's ceremonies wins, all go.
		for i, name := range []string{"old", "new"} {
			c := factors.Ceremony{ID: id.New(), UserID: u.ID, Purpose: factors.PurposeRegistration, Name: name, State: []byte(name),
				CreatedAt: base.Add(time.Duration(i) * time.Second), ExpiresAt: base.Add(time.Hour)}
			if err := store.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		c, err := store.TakeForUser(ctx, u.ID, factors.PurposeRegistration)
		if err != nil || c.Name != "new" {
			t.Fatalf("TakeForUser = %+v, %v", c, err)
		}
		if _, err := store.TakeForUser(ctx, u.ID, factors.PurposeRegistration); !errors.Is(err, mfa.ErrPasskeyInvalid) {
			t.Fatalf("second TakeForUser: %v", err)
		}
		if n := count(t, s, "webauthn_challenges"); n != 0 {
			t.Fatalf("%d ceremonies left", n)
		}
	})
}
