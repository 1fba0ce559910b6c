package authn_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// TestFailedLoginDoesTheSameDatabaseWork (issue 21 item 8): a wrong password
// for an existing account commits exactly as many transactions as a login
// of an unknown email, so its time does not tell them apart; its
// login_failed event is written by the next Flush, with its client data.
// Without a FailureLog (main) the wrong password cost one commit more.
func TestFailedLoginDoesTheSameDatabaseWork(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	failures := authn.NewFailureLog(store.Audit, store)
	svc := newService(clock, store, fakes.NewTokens(clock, accessTTL), nil)
	reg, err := svc.Register(t.Context(), authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	login := authn.NewPasswordLogin(authn.PasswordLoginDeps{
		Users: store.Users, Hasher: fakes.NewHasher(),
		SignInDeps: authn.SignInDeps{Sessions: nil, Audit: store.Audit, Tx: store, Clock: clock}, Failures: failures,
	})
	commits := func(email string) int64 {
		t.Helper()
		before := store.Stats().Commits
		_, err := login.Login(t.Context(), authn.Credentials{Email: email, Password: "a wrong password"}, meta)
		if !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("login %s: %v", email, err)
		}
		return store.Stats().Commits - before
	}
	unknown, known := commits("nobody@example.com"), commits(adaEmail)
	if known != unknown {
		t.Fatalf("a wrong password commits %d transactions, an unknown email %d", known, unknown)
	}
	if n := len(store.EventsOfType(reg.User.ID, audit.LoginFailed)); n != 0 {
		t.Fatalf("%d login_failed events written on the request path", n)
	}
	if err := failures.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := store.EventsOfType(reg.User.ID, audit.LoginFailed)
	if len(ev) != 1 || ev[0].IP != meta.IP || ev[0].UserAgent != meta.UserAgent || !ev[0].CreatedAt.Equal(t0) {
		t.Fatalf("after the flush: %+v", ev)
	}
}

// TestFailureLogFlushAndClose: queued events go out in one transaction; a
// failed flush keeps them for the next one; after Close an event is written
// at once (requests finishing while the instance stops).
func TestFailureLogFlushAndClose(t *testing.T) {
	store := fakes.NewStore()
	f := authn.NewFailureLog(store.Audit, store)
	ctx := t.Context()
	ev := func(i int) audit.Event {
		return audit.Event{ID: id.New(), UserID: "u", Type: audit.LoginFailed, CreatedAt: t0, IP: string(rune('a' + i))}
	}
	for i := range 3 {
		if err := f.Record(ctx, ev(i)); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("database down")
	store.Audit.FailAppend(boom)
	if err := f.Flush(ctx); !errors.Is(err, boom) {
		t.Fatalf("flush with the database down: %v", err)
	}
	store.Audit.FailAppend(nil)
	before := store.Stats().Commits
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(store.Events("u")); n != 3 || store.Stats().Commits != before+1 {
		t.Fatalf("%d events in %d commits after the retry; want 3 in 1", n, store.Stats().Commits-before)
	}
	if err := f.Flush(ctx); err != nil || store.Stats().Commits != before+1 {
		t.Fatalf("an empty flush committed: %v", err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Record(ctx, ev(3)); err != nil {
		t.Fatal(err)
	}
	if n := len(store.Events("u")); n != 4 {
		t.Fatalf("an event after Close waits: %d events", n)
	}
}
