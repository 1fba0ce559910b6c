package session

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// FuzzParseRefreshToken: the refresh-token parser never panics, accepts only
// what could have been issued (the MAC of the current format, the shape of
// the legacy one), and hashes it as SHA-256 of the text.
func FuzzParseRefreshToken(f *testing.F) {
	c, _ := NewRefreshCodec(bytes.Repeat([]byte{7}, RefreshKeyBytes))
	const sid = "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"
	raw, _, _ := c.Issue(sid, 3)
	legacy, _ := NewLegacyRefreshSecret()
	for _, s := range []string{raw, legacy, "", "short", raw + "x", raw[:len(raw)-1] + "A", legacy[:42] + "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := c.Parse(s)
		if err != nil {
			if err != ErrRefreshInvalid {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if p.Hash != sha256.Sum256([]byte(s)) {
			t.Fatalf("accepted %q with hash %x", s, p.Hash)
		}
		if p.Legacy != (len(s) == LegacyRefreshTokenLength) {
			t.Fatalf("accepted %q as legacy=%v", s, p.Legacy)
		}
		if !p.Legacy && (p.SessionID != sid || p.Generation != 3) {
			// Every process issues under the same key for the same session
			// and generation (the random part differs); forging a MAC for
			// anything else by fuzzing would be news.
			t.Fatalf("accepted a token that was not issued: %q", s)
		}
	})
}
