package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

const (
	adaSession1 = "00000000-0000-4000-8000-000000000001"
	adaSession2 = "00000000-0000-4000-8000-000000000002"
)

func TestAccountSessionsPaged(t *testing.T) {
	e := newEnv(t)
	l := admin.NewAccountSessionListing(e.dir, e.store.Sessions, fakes.NewClock(t0))
	first, err := l.Sessions(e.ctx, e.root, e.ada.ID, "", 1)
	if err != nil || len(first.Items) != 1 || first.NextCursor == "" {
		t.Fatalf("first page %+v, %v", first, err)
	}
	second, err := l.Sessions(e.ctx, e.root, e.ada.ID, first.NextCursor, 1)
	if err != nil || len(second.Items) != 1 || second.NextCursor != "" {
		t.Fatalf("second page %+v, %v", second, err)
	}
	if first.Items[0].ID == second.Items[0].ID || first.Items[0].UserID != e.ada.ID || first.Items[0].Current {
		t.Fatalf("pages %+v / %+v", first.Items[0], second.Items[0])
	}
	e.wantAdminRead(t, func(a admin.Actor, userID string) error {
		_, err := l.Sessions(e.ctx, a, userID, "", 10)
		return err
	})
	var ve *user.ValidationError
	if _, err := l.Sessions(e.ctx, e.root, e.ada.ID, "", 101); !errors.As(err, &ve) {
		t.Fatalf("limit 101: %v", err)
	}
	if _, err := l.Sessions(e.ctx, e.root, e.ada.ID, "not a cursor", 10); !errors.As(err, &ve) {
		t.Fatalf("foreign cursor: %v", err)
	}
}

func TestRevokeOneSession(t *testing.T) {
	e := newEnv(t)
	clock := fakes.NewClock(t0)
	ender := admin.NewSessionEnder(e.dir, e.store.Sessions, admin.NewWriteGuard(nil, nil, clock), e.store.Audit,
		e.notes, nil, e.store, clock)
	if err := ender.RevokeSession(e.ctx, e.root, e.ada.ID, adaSession1); err != nil {
		t.Fatal(err)
	}
	s1, _ := e.store.Session(adaSession1)
	s2, _ := e.store.Session(adaSession2)
	if !s1.Revoked() || s1.RevokeReason != admin.ReasonAdmin || s2.Revoked() {
		t.Fatalf("after revoke: %+v / %+v", s1, s2)
	}
	ev := e.store.EventsOfType(e.ada.ID, audit.AdminSessionRevoked)
	if len(ev) != 1 || ev[0].ActorID != e.root.Principal.UserID() || ev[0].SessionID != adaSession1 {
		t.Fatalf("events %+v", ev)
	}
	if len(e.notes.events) != 1 {
		t.Fatalf("notified %+v", e.notes.events)
	}
	// Revoked already, another account's, unknown: not found, nothing recorded.
	rootSession := session.Policy{IdleTTL: time.Hour, AbsoluteTTL: 2 * time.Hour}.Start("00000000-0000-4000-8000-000000000009",
		e.root.Principal.UserID(), t0, "", "")
	rootSession.TokenHash = [32]byte{9}
	if err := e.store.Sessions.Create(e.ctx, rootSession); err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{adaSession1, rootSession.ID, "00000000-0000-4000-8000-0000000000ee"} {
		if err := ender.RevokeSession(e.ctx, e.root, e.ada.ID, sid); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: %v", sid, err)
		}
	}
	if s, _ := e.store.Session(rootSession.ID); s.Revoked() {
		t.Fatal("another account's session was revoked through ada")
	}
	if err := ender.RevokeSession(e.ctx, e.root, "00000000-0000-4000-8000-0000000000ff", adaSession2); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if n := len(e.store.EventsOfType(e.ada.ID, audit.AdminSessionRevoked)); n != 1 {
		t.Fatalf("%d events after refusals", n)
	}
}

// A revocation is a write: a stale token is refused before anything
// changes.
func TestRevokeOneSessionNeedsFresh(t *testing.T) {
	e := newEnv(t)
	clock := fakes.NewClock(t0)
	step := auth.StepUpPolicy{MaxAge: 5 * time.Minute}
	ender := admin.NewSessionEnder(e.dir, e.store.Sessions, admin.NewWriteGuard(&step, nil, clock), e.store.Audit,
		nil, nil, e.store, clock)
	stale := e.root
	stale.Principal.Claims.AuthTime = t0.Add(-time.Hour)
	if err := ender.RevokeSession(e.ctx, stale, e.ada.ID, adaSession1); !errors.Is(err, auth.ErrFreshAuthRequired) {
		t.Fatalf("stale: %v", err)
	}
	if s, _ := e.store.Session(adaSession1); s.Revoked() {
		t.Fatal("revoked on a stale token")
	}
}

type totps map[string]mfa.TOTP

func (m totps) Get(_ context.Context, userID string) (mfa.TOTP, error) {
	t, ok := m[userID]
	if !ok {
		return mfa.TOTP{}, mfa.ErrNotFound
	}
	return t, nil
}

// byUser is a store of what each account has (passkeys, identities),
// listed in the order given.
type byUser[T any] map[string][]T

func (m byUser[T]) ListByUser(_ context.Context, userID string) ([]T, error) {
	return m[userID], nil
}

func TestFactors(t *testing.T) {
	e := newEnv(t)
	used := t0.Add(time.Hour)
	r := admin.NewFactorReader(e.dir,
		totps{e.ada.ID: {UserID: e.ada.ID, Secret: "JBSWY3DPEHPK3PXP", ConfirmedAt: t0}, e.root.Principal.UserID(): {Pending: "PENDING"}},
		byUser[mfa.Passkey]{e.ada.ID: {
			{ID: "k1", Name: "laptop", CredentialID: []byte("c1"), Credential: []byte("secret"), CreatedAt: t0},
			{ID: "k2", Name: "phone", CreatedAt: t0, LastUsedAt: used},
		}})
	f, err := r.Factors(e.ctx, e.root, e.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !f.TOTP.Enabled || !f.TOTP.EnabledAt.Equal(t0) || len(f.Passkeys) != 2 || f.Passkeys[0].Name != "laptop" ||
		!f.Passkeys[0].LastUsedAt.IsZero() || !f.Passkeys[1].LastUsedAt.Equal(used) {
		t.Fatalf("factors %+v", f)
	}
	// A pending enrolment is not a factor in force.
	f, err = r.Factors(e.ctx, e.root, e.root.Principal.UserID())
	if err != nil || f.TOTP.Enabled || len(f.Passkeys) != 0 {
		t.Fatalf("root %+v, %v", f, err)
	}
	e.wantAdminRead(t, func(a admin.Actor, userID string) error {
		_, err := r.Factors(e.ctx, a, userID)
		return err
	})
}
