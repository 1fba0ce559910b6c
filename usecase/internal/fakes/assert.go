package fakes

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain/user"
)

// WantErr fails t unless err is (or wraps) want.
func WantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v; want %v", what, err, want)
	}
}

// WantField fails t unless err is a *user.ValidationError naming field.
func WantField(t testing.TB, err error, field string) {
	t.Helper()
	var ve *user.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T); want a *user.ValidationError on %q", err, err, field)
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("validation error %v does not name field %q", ve, field)
}
