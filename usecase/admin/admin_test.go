package admin_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

var t0 = time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)

// directory is admin.Directory over the fake store: enough search for the
// use case's own rules (the real search is tested on both databases).
type directory struct {
	*fakes.Users
	store *fakes.Store
	ids   []string
}

func (d *directory) Search(_ context.Context, q, _ string, limit int) ([]user.User, string, error) {
	var out []user.User
	for _, id := range d.ids {
		if u, ok := d.store.User(id); ok && strings.Contains(u.Email, q) && len(out) < limit {
			out = append(out, u)
		}
	}
	return out, "", nil
}

func (d *directory) Facts(_ context.Context, ids []string, now time.Time) (map[string]admin.Facts, error) {
	out := map[string]admin.Facts{}
	for _, id := range ids {
		n := 0
		for _, s := range d.store.SessionsOf(id) {
			if s.Active(now) {
				n++
			}
		}
		out[id] = admin.Facts{ActiveSessions: n}
	}
	return out, nil
}

type notes struct {
	mu     sync.Mutex
	events []audit.Event
}

func (n *notes) AdminAction(_ context.Context, e audit.Event) {
	n.mu.Lock()
	n.events = append(n.events, e)
	n.mu.Unlock()
}

// deps are the ports and settings the admin interactors of a test are
// built from; each interactor takes the ones it calls.
type deps struct {
	Users    admin.Directory
	Sessions admin.Sessions
	Audit    admin.AuditLog
	Tx       admin.Transactor
	Clock    admin.Clock
	Hasher   admin.PasswordHasher
	Keys     admin.SigningKeys
	Notifier admin.Notifier
	Cache    admin.SessionCache
	StepUp   *auth.StepUpPolicy
	Factors  admin.Factors
}

// interactors are the admin interactors the tests act through.
type interactors struct {
	*admin.WriteGuard
	*admin.AccountSearch
	*admin.AccountReader
	*admin.AccountUpdater
	*admin.SessionsRevoker
	*admin.AccountDeleter
	*admin.EventListing
	*admin.AccountCreator
	*admin.KeyLister
	*admin.KeyRotator
}

func newInteractors(d deps) interactors {
	guard := admin.NewWriteGuard(d.StepUp, d.Factors, d.Clock)
	w := admin.WriterDeps{Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Guard: guard,
		Notifier: d.Notifier, Cache: d.Cache}
	return interactors{
		WriteGuard:      guard,
		AccountSearch:   admin.NewAccountSearch(d.Users, d.Clock),
		AccountReader:   admin.NewAccountReader(d.Users, d.Clock),
		AccountUpdater:  admin.NewAccountUpdater(d.Users, w),
		SessionsRevoker: admin.NewSessionsRevoker(d.Users, w),
		AccountDeleter:  admin.NewAccountDeleter(d.Users, w),
		EventListing:    admin.NewEventListing(d.Users, d.Audit),
		AccountCreator:  admin.NewAccountCreator(d.Users, d.Hasher, d.Audit, d.Notifier, d.Tx, d.Clock),
		KeyLister:       admin.NewKeyLister(d.Keys),
		KeyRotator:      admin.NewKeyRotator(d.Keys, guard, d.Notifier, d.Clock),
	}
}

type env struct {
	ctx   context.Context
	store *fakes.Store
	dir   *directory
	notes *notes
	svc   interactors
	root  admin.Actor
	ada   user.User
}

func newEnv(t *testing.T) *env {
	store := fakes.NewStore()
	e := &env{ctx: t.Context(), store: store, dir: &directory{Users: store.Users, store: store}, notes: &notes{}}
	e.svc = newInteractors(deps{Users: e.dir, Sessions: store.Sessions, Audit: store.Audit, Tx: store,
		Clock: fakes.NewClock(t0), Hasher: fakes.NewHasher(), Notifier: e.notes})
	root, err := e.svc.Create(e.ctx, admin.CLIActor, admin.CreateInput{Email: "root@example.com", Password: "root password", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	e.ada, err = e.svc.Create(e.ctx, admin.CLIActor, admin.CreateInput{Email: "Ada@Example.com", Password: "ada's password"})
	if err != nil {
		t.Fatal(err)
	}
	e.dir.ids = []string{root.ID, e.ada.ID}
	e.root = admin.Actor{Principal: auth.Principal{Claims: auth.Claims{Subject: root.ID}, User: root}}
	for i := range 2 {
		s := session.Policy{IdleTTL: time.Hour, AbsoluteTTL: 2 * time.Hour}.Start("00000000-0000-4000-8000-00000000000"+string(rune('1'+i)), e.ada.ID, t0, "", "")
		s.TokenHash = [32]byte{byte(i + 1)}
		if err := store.Sessions.Create(e.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	e.notes.events = nil
	return e
}

// wantAdminRead checks the rule of an administrative read of one account:
// a non-administrator (ada, even of her own account) is refused, and an
// unknown account is not found.
func (e *env) wantAdminRead(t *testing.T, read func(a admin.Actor, userID string) error) {
	t.Helper()
	ada := admin.Actor{Principal: auth.Principal{Claims: auth.Claims{Subject: e.ada.ID}, User: e.ada}}
	if err := read(ada, e.ada.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("non-admin: %v", err)
	}
	if err := read(e.root, "00000000-0000-4000-8000-0000000000ff"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}

func TestCreateByCLI(t *testing.T) {
	e := newEnv(t)
	if e.ada.Email != "ada@example.com" || !e.ada.EmailVerified || len(e.ada.Roles) != 1 || e.ada.Roles[0] != user.RoleUser {
		t.Fatalf("created %+v", e.ada)
	}
	ev := e.store.Events(e.ada.ID)
	if len(ev) != 1 || ev[0].Type != audit.AdminUserCreated || ev[0].ActorID != audit.ActorCLI {
		t.Fatalf("events %+v", ev)
	}
	_, err := e.svc.Create(e.ctx, admin.CLIActor, admin.CreateInput{Email: "x", Password: "short", Roles: []string{"Bad"}})
	var ve *user.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 3 {
		t.Fatalf("bad input: %v", err)
	}
	if _, err := e.svc.Create(e.ctx, admin.CLIActor, admin.CreateInput{Email: "ada@example.com", Password: "another password"}); !errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("duplicate: %v", err)
	}
}

// The admin role is read from the caller's account as loaded with the
// session, so a token minted before a demotion gives nothing.
func TestOnlyAdmins(t *testing.T) {
	e := newEnv(t)
	adaActor := admin.Actor{Principal: auth.Principal{Claims: auth.Claims{Subject: e.ada.ID, Roles: []string{"admin"}}, User: e.ada}}
	calls := map[string]error{}
	_, calls["search"] = e.svc.Search(e.ctx, adaActor, "", "", 10)
	_, calls["get"] = e.svc.Get(e.ctx, adaActor, e.ada.ID)
	_, calls["update"] = e.svc.Update(e.ctx, adaActor, e.ada.ID, admin.Patch{Roles: []string{"admin"}})
	calls["revoke"] = e.svc.RevokeSessions(e.ctx, adaActor, e.ada.ID)
	calls["delete"] = e.svc.Delete(e.ctx, adaActor, e.root.Principal.UserID())
	_, calls["events"] = e.svc.SecurityEvents(e.ctx, adaActor, e.ada.ID, "", 10)
	_, calls["keys"] = e.svc.Keys(e.ctx, adaActor)
	_, calls["rotate"] = e.svc.RotateKey(e.ctx, adaActor)
	for name, err := range calls {
		if !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if u, _ := e.store.User(e.ada.ID); u.HasRole(user.RoleAdmin) {
		t.Fatal("a non-admin granted herself admin")
	}
}

func TestNotOneself(t *testing.T) {
	e := newEnv(t)
	me := e.root.Principal.UserID()
	tr := true
	if _, err := e.svc.Update(e.ctx, e.root, me, admin.Patch{Roles: []string{"user"}}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("own admin role: %v", err)
	}
	if _, err := e.svc.Update(e.ctx, e.root, me, admin.Patch{Disabled: &tr}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("disable self: %v", err)
	}
	if err := e.svc.Delete(e.ctx, e.root, me); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("delete self: %v", err)
	}
	// Keeping admin while adding a role is fine.
	if _, err := e.svc.Update(e.ctx, e.root, me, admin.Patch{Roles: []string{"admin", "billing"}}); err != nil {
		t.Fatal(err)
	}
}

func TestDisableRevokesEverySessionAtOnce(t *testing.T) {
	e := newEnv(t)
	tr := true
	v, err := e.svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Disabled: &tr})
	if err != nil || !v.Disabled || v.ActiveSessions != 0 {
		t.Fatalf("%+v %v", v, err)
	}
	for _, s := range e.store.SessionsOf(e.ada.ID) {
		if s.Active(t0) || s.RevokeReason != admin.ReasonDisabled {
			t.Fatalf("session %s still active", s.ID)
		}
	}
	ev := e.store.Events(e.ada.ID)
	last := ev[len(ev)-1]
	if last.Type != audit.AdminUserDisabled || last.ActorID != e.root.Principal.UserID() {
		t.Fatalf("event %+v", last)
	}
	if len(e.notes.events) != 1 || e.notes.events[0].Type != audit.AdminUserDisabled {
		t.Fatalf("notified %+v", e.notes.events)
	}
	// Unchanged values record nothing.
	if _, err := e.svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Disabled: &tr}); err != nil || len(e.store.Events(e.ada.ID)) != len(ev) {
		t.Fatalf("no-op update recorded: %v", err)
	}
}

// A failed event write rolls the whole change back and notifies nobody.
func TestUpdateIsAtomic(t *testing.T) {
	e := newEnv(t)
	e.store.Audit.FailAppend(errors.New("disk full"))
	tr := true
	if _, err := e.svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Disabled: &tr, Roles: []string{"user", "admin"}}); err == nil {
		t.Fatal("update succeeded without its events")
	}
	u, _ := e.store.User(e.ada.ID)
	if u.Disabled || u.HasRole(user.RoleAdmin) || len(e.notes.events) != 0 {
		t.Fatalf("partial update: %+v, notes %d", u, len(e.notes.events))
	}
	for _, s := range e.store.SessionsOf(e.ada.ID) {
		if !s.Active(t0) {
			t.Fatal("sessions revoked by a rolled-back disable")
		}
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	empty := ""
	for name, p := range map[string]admin.Patch{
		"empty roles": {Roles: []string{}}, "bad role": {Roles: []string{"a b"}}, "empty name": {Name: &empty},
	} {
		var ve *user.ValidationError
		if _, err := e.svc.Update(e.ctx, e.root, e.ada.ID, p); !errors.As(err, &ve) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.svc.Get(e.ctx, e.root, "00000000-0000-4000-8000-000000000099"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := e.svc.Search(e.ctx, e.root, "", "", 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

// With the step-up rule configured, the sensitive operations refuse an
// administrator whose token is not fresh, whoever calls the use case, and
// change nothing; a fresh token and the command line pass.
func TestSensitiveOperationsNeedAFreshToken(t *testing.T) {
	e := newEnv(t)
	svc := newInteractors(deps{Users: e.dir, Sessions: e.store.Sessions, Audit: e.store.Audit, Tx: e.store,
		Clock: fakes.NewClock(t0), Hasher: fakes.NewHasher(), Notifier: e.notes,
		StepUp: &auth.StepUpPolicy{MaxAge: 10 * time.Minute}})
	stale := e.root
	stale.Principal.Claims.Fresh, stale.Principal.Claims.AuthTime = true, t0.Add(-11*time.Minute)
	name := "Countess"
	calls := map[string]error{}
	_, calls["update"] = svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Name: &name})
	_, calls["update, stale"] = svc.Update(e.ctx, stale, e.ada.ID, admin.Patch{Name: &name})
	calls["revoke"] = svc.RevokeSessions(e.ctx, e.root, e.ada.ID)
	calls["delete"] = svc.Delete(e.ctx, e.root, e.ada.ID)
	_, calls["rotate"] = svc.RotateKey(e.ctx, e.root)
	for what, err := range calls {
		if !errors.Is(err, auth.ErrFreshAuthRequired) {
			t.Errorf("%s without a fresh token: %v", what, err)
		}
	}
	if u, ok := e.store.User(e.ada.ID); !ok || u.Name == name {
		t.Fatalf("a refused change was made: %+v %v", u, ok)
	}
	if page, err := e.store.Sessions.ListActive(e.ctx, e.ada.ID, t0, "", 10); err != nil || len(page.Sessions) != 2 {
		t.Fatalf("sessions after refused revocation: %d %v", len(page.Sessions), err)
	}
	fresh := e.root
	fresh.Principal.Claims.Fresh, fresh.Principal.Claims.AuthTime = true, t0.Add(-time.Minute)
	if _, err := svc.Update(e.ctx, fresh, e.ada.ID, admin.Patch{Name: &name}); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if err := svc.RevokeSessions(e.ctx, admin.CLIActor, e.ada.ID); err != nil {
		t.Fatalf("command line: %v", err)
	}
}

// forgotten records the accounts the admin use cases evict.
type forgotten struct {
	mu  sync.Mutex
	ids []string
}

func (f *forgotten) ForgetUser(userID string) {
	f.mu.Lock()
	f.ids = append(f.ids, userID)
	f.mu.Unlock()
}

// TestChangesEvictTheSessionCache: with SESSION_CACHE_TTL on, an instance
// remembers sessions and their accounts for a moment; disabling an account,
// changing its roles, ending its sessions or deleting it must evict it on
// the instance that did so, or its tokens (and old roles) would still pass
// there until the entry ran out.
func TestChangesEvictTheSessionCache(t *testing.T) {
	e := newEnv(t)
	cache := &forgotten{}
	svc := newInteractors(deps{Users: e.dir, Sessions: e.store.Sessions, Audit: e.store.Audit, Tx: e.store,
		Clock: fakes.NewClock(t0), Hasher: fakes.NewHasher(), Cache: cache})
	yes := true
	steps := []struct {
		name string
		do   func() error
	}{
		{"nothing changes", func() error { _, err := svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{}); return err }},
		{"roles", func() error {
			_, err := svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Roles: []string{"user", "admin"}})
			return err
		}},
		{"disable", func() error { _, err := svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Disabled: &yes}); return err }},
		{"revoke sessions", func() error { return svc.RevokeSessions(e.ctx, e.root, e.ada.ID) }},
		{"delete", func() error { return svc.Delete(e.ctx, e.root, e.ada.ID) }},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if want := i; len(cache.ids) != want {
			t.Fatalf("after %q: %d evictions %v; want %d", st.name, len(cache.ids), cache.ids, want)
		}
		for _, id := range cache.ids {
			if id != e.ada.ID {
				t.Fatalf("evicted %q; want only %q", id, e.ada.ID)
			}
		}
	}
}

// TestLastAdminStays: nobody, the command line included, can take the
// admin role from the last enabled administrator, disable them or delete
// them (ErrLastAdmin, a FORBIDDEN); with a second one it works. An
// administrator demoted meanwhile (the account as it is now, under the
// lock) acts no more, even with the principal loaded before.
func TestLastAdminStays(t *testing.T) {
	e := newEnv(t)
	rootID := e.root.Principal.UserID()
	yes := true
	refused := map[string]error{}
	_, refused["demote"] = e.svc.Update(e.ctx, admin.CLIActor, rootID, admin.Patch{Roles: []string{"user"}})
	_, refused["disable"] = e.svc.Update(e.ctx, admin.CLIActor, rootID, admin.Patch{Disabled: &yes})
	refused["delete"] = e.svc.Delete(e.ctx, admin.CLIActor, rootID)
	_, refused["set-roles"] = e.svc.SetRolesByEmail(e.ctx, admin.CLIActor, "root@example.com", []string{"user"})
	for what, err := range refused {
		if !errors.Is(err, auth.ErrLastAdmin) || !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s of the last admin: %v", what, err)
		}
	}
	if u, _ := e.store.User(rootID); !u.ActiveAdmin() {
		t.Fatalf("the last admin was changed: %+v", u)
	}
	// Ada becomes the second administrator: now root can be demoted, by
	// her, and then she is the last one.
	if _, err := e.svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Roles: []string{"user", "admin"}}); err != nil {
		t.Fatal(err)
	}
	ada, _ := e.store.User(e.ada.ID)
	adaActor := admin.Actor{Principal: auth.Principal{Claims: auth.Claims{Subject: ada.ID}, User: ada}}
	if _, err := e.svc.Update(e.ctx, adaActor, rootID, admin.Patch{Roles: []string{"user"}}); err != nil {
		t.Fatalf("demote one of two admins: %v", err)
	}
	// Root's principal still says admin (loaded before): refused, since the
	// account under the lock no longer is one.
	if _, err := e.svc.Update(e.ctx, e.root, e.ada.ID, admin.Patch{Roles: []string{"user"}}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("a demoted admin demoting the last one: %v", err)
	}
	if err := e.svc.Delete(e.ctx, e.root, e.ada.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("a demoted admin deleting: %v", err)
	}
	if _, err := e.svc.Update(e.ctx, admin.CLIActor, e.ada.ID, admin.Patch{Disabled: &yes}); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable the last admin: %v", err)
	}
	// A disabled admin does not count: re-granting root and disabling her
	// leaves root; disabling root then is refused.
	if _, err := e.svc.Update(e.ctx, admin.CLIActor, rootID, admin.Patch{Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Update(e.ctx, admin.CLIActor, e.ada.ID, admin.Patch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Update(e.ctx, admin.CLIActor, rootID, admin.Patch{Disabled: &yes}); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable the last enabled admin: %v", err)
	}
}

// factors says which accounts have a second factor.
type factors map[string]bool

func (f factors) HasSecondFactor(_ context.Context, userID string) (bool, error) {
	return f[userID], nil
}

// TestWritesNeedAAL2WithASecondFactor: once an administrator's account has
// a second factor, every administrative write needs a token that proved it
// (aal2), as changing one's own factors does: a fresh aal1 token (the
// password alone, or a session older than the factor) is refused with
// ErrSecondFactorRequired and changes nothing. Without a factor aal1 is
// enough; the command line is exempt.
func TestWritesNeedAAL2WithASecondFactor(t *testing.T) {
	e := newEnv(t)
	f := factors{}
	svc := newInteractors(deps{Users: e.dir, Sessions: e.store.Sessions, Audit: e.store.Audit, Tx: e.store,
		Clock: fakes.NewClock(t0), Hasher: fakes.NewHasher(), Notifier: e.notes,
		StepUp: &auth.StepUpPolicy{MaxAge: 10 * time.Minute}, Factors: f})
	aal1 := e.root
	aal1.Principal.Claims.Fresh, aal1.Principal.Claims.AuthTime, aal1.Principal.Claims.AAL = true, t0.Add(-time.Minute), auth.AAL1
	aal2 := aal1
	aal2.Principal.Claims.AAL = auth.AAL2
	name := "Countess"
	writes := func(a admin.Actor) map[string]error {
		calls := map[string]error{}
		_, calls["update"] = svc.Update(e.ctx, a, e.ada.ID, admin.Patch{Name: &name})
		calls["revoke"] = svc.RevokeSessions(e.ctx, a, e.ada.ID)
		_, calls["rotate"] = svc.RotateKey(e.ctx, a)
		calls["authorize"] = svc.AuthorizeWrite(e.ctx, a)
		return calls
	}
	// No factor: aal1 passes the rule (rotate fails later: no key store).
	if err := svc.AuthorizeWrite(e.ctx, aal1); err != nil {
		t.Fatalf("aal1 without a factor: %v", err)
	}
	f[e.root.Principal.UserID()] = true
	for what, err := range writes(aal1) {
		if !errors.Is(err, auth.ErrSecondFactorRequired) {
			t.Errorf("%s with an aal1 token and a second factor: %v", what, err)
		}
	}
	if err := svc.Delete(e.ctx, aal1, e.ada.ID); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Errorf("delete with an aal1 token: %v", err)
	}
	if u, _ := e.store.User(e.ada.ID); u.Name == name {
		t.Fatal("a refused update was made")
	}
	if err := svc.AuthorizeWrite(e.ctx, aal2); err != nil {
		t.Fatalf("aal2: %v", err)
	}
	if _, err := svc.Update(e.ctx, aal2, e.ada.ID, admin.Patch{Name: &name}); err != nil {
		t.Fatalf("update with aal2: %v", err)
	}
	if err := svc.AuthorizeWrite(e.ctx, admin.CLIActor); err != nil {
		t.Fatalf("command line: %v", err)
	}
}
