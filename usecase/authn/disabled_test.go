package authn_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// A disabled account's login proves the password first: a wrong one is the
// usual INVALID_CREDENTIALS (nothing learned), the right one ErrDisabled,
// and no session is started.
func TestLoginOfDisabledAccount(t *testing.T) {
	e := newEnv(t)
	p := e.register(adaEmail, adaPassword)
	u := e.storedUser(p.User.ID)
	if _, err := e.store.Users.UpdateAdmin(e.ctx, u.ID, func(u *user.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := e.svc.Login(e.ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); !errors.Is(err, user.ErrDisabled) {
		t.Fatalf("right password: %v", err)
	}
	page, err := e.store.Sessions.ListActive(e.ctx, u.ID, e.clock.Now(), "", 100)
	if err != nil || len(page.Sessions) != 1 {
		t.Fatalf("sessions after the refused login: %d %v", len(page.Sessions), err)
	}
}
