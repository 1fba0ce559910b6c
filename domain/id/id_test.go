package id_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain/id"
)

func TestNewIsCanonicalVersion4UUID(t *testing.T) {
	for range 1000 {
		s := id.New()
		if !id.Valid(s) {
			t.Fatalf("New() = %q, not a canonical UUID", s)
		}
		if s[14] != '4' {
			t.Fatalf("New() = %q: version nibble %q, want 4", s, s[14])
		}
		if !strings.ContainsRune("89ab", rune(s[19])) {
			t.Fatalf("New() = %q: variant nibble %q, want one of 8 9 a b", s, s[19])
		}
	}
}

func TestNewIsUnique(t *testing.T) {
	const n = 100000
	seen := make(map[string]struct{}, n)
	for range n {
		s := id.New()
		if _, dup := seen[s]; dup {
			t.Fatalf("New() returned %q twice in %d calls", s, n)
		}
		seen[s] = struct{}{}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0B6F6C1E-4C7A-4F1E-9A53-2C1D0E6B7A10", false}, // upper case is not canonical
		{"0b6f6c1e4c7a4f1e9a532c1d0e6b7a10", false},     // no hyphens
		{"0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a1", false},  // too short
		{"0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a100", false},
		{"0b6f6c1e-4c7a-4f1e-9a53_2c1d0e6b7a10", false},
		{"0b6f6c1e-4c7a-4f1e-9a5-32c1d0e6b7a10", false}, // hyphen misplaced
		{"gb6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", false},
		{"{b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a1}", false},
		{"", false},
		{"../../../../etc/passwd/../../../../xx", false},
	}
	for _, tc := range tests {
		if got := id.Valid(tc.in); got != tc.want {
			t.Errorf("Valid(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestBytesRoundTrip(t *testing.T) {
	for range 1000 {
		s := id.New()
		b, ok := id.Bytes(s)
		if !ok || id.FromBytes(b) != s {
			t.Fatalf("Bytes(%q) = %x, %v; FromBytes gives %q", s, b, ok, id.FromBytes(b))
		}
	}
	for _, bad := range []string{"", "0B6F6C1E-4C7A-4F1E-9A53-2C1D0E6B7A10", "0b6f6c1e4c7a4f1e9a532c1d0e6b7a10abcd", "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a1g"} {
		if _, ok := id.Bytes(bad); ok {
			t.Errorf("Bytes(%q) accepted", bad)
		}
	}
}
