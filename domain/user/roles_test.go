package user

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckRoles(t *testing.T) {
	for _, ok := range [][]string{{"user"}, {"admin", "user", "billing_ro", "a-1"}, {strings.Repeat("a", 32)}} {
		if err := CheckRoles("roles", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	many := make([]string, 17)
	for i := range many {
		many[i] = "r" + string(rune('a'+i))
	}
	for _, bad := range [][]string{nil, {}, {""}, {"Admin"}, {"a b"}, {"a,b"}, {strings.Repeat("a", 33)}, {"user", "user"}, {"é"}, many} {
		var ve *ValidationError
		if err := CheckRoles("roles", bad); !errors.As(err, &ve) || ve.Fields[0].Field != "roles" {
			t.Errorf("%q: got %v", bad, err)
		}
	}
}

func TestCanSignIn(t *testing.T) {
	if err := (User{}).CanSignIn(); err != nil {
		t.Fatal(err)
	}
	if err := (User{Disabled: true}).CanSignIn(); !errors.Is(err, ErrDisabled) {
		t.Fatalf("got %v", err)
	}
	if !(User{Roles: []string{"user", "admin"}}).HasRole(RoleAdmin) || (User{Roles: []string{"user"}}).HasRole(RoleAdmin) {
		t.Fatal("HasRole")
	}
}
