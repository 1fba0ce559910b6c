package webauthnrp_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/adapter/webauthnrp"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
)

// TestIPAddressRPStartsWithoutPasskeys: a PUBLIC_URL on an IP address (as in
// local development or tests) must not stop the service; passkeys are then
// unavailable, and every ceremony is PASSKEY_INVALID rather than a 500.
func TestIPAddressRPStartsWithoutPasskeys(t *testing.T) {
	rp, err := webauthnrp.New(webauthnrp.Config{RPID: "127.0.0.1", RPName: "Gatehouse", Origins: []string{"http://127.0.0.1:3000"}})
	if err != nil {
		t.Fatalf("New with an IP RP ID: %v", err)
	}
	if rp.Available() {
		t.Fatal("an IP RP ID reports passkeys available")
	}
	if _, _, err := rp.BeginLogin(); !errors.Is(err, mfa.ErrPasskeyInvalid) {
		t.Fatalf("BeginLogin: %v; want ErrPasskeyInvalid", err)
	}
	if _, _, err := rp.BeginRegistration(user.User{ID: "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", Email: "a@b.co"}, nil); !errors.Is(err, mfa.ErrPasskeyInvalid) {
		t.Fatalf("BeginRegistration: %v; want ErrPasskeyInvalid", err)
	}
	if _, _, err := rp.FinishLogin(nil, nil, nil); !errors.Is(err, mfa.ErrPasskeyInvalid) {
		t.Fatalf("FinishLogin: %v; want ErrPasskeyInvalid", err)
	}

	rp, err = webauthnrp.New(webauthnrp.Config{RPID: "localhost", RPName: "Gatehouse", Origins: []string{"http://localhost:3000"}})
	if err != nil || !rp.Available() {
		t.Fatalf("localhost RP: available %v, %v", rp != nil && rp.Available(), err)
	}
}
