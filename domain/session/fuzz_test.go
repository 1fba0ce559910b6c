package session

import (
	"crypto/sha256"
	"testing"
)

// FuzzHashRefreshToken: the refresh-token parser never panics, accepts only
// what could have been issued, and hashes it as SHA-256 of the text.
func FuzzHashRefreshToken(f *testing.F) {
	raw, _ := NewRefreshSecret()
	for _, s := range []string{raw, "", "short", raw + "x", raw[:42] + "=", raw[:42] + "+", raw[:42] + "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := HashRefreshToken(s)
		if err != nil {
			if err != ErrRefreshInvalid {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(s) != RefreshTokenLength || h != sha256.Sum256([]byte(s)) {
			t.Fatalf("accepted %q", s)
		}
	})
}
