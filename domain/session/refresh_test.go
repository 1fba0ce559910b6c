package session_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain/session"
)

func TestNewRefreshSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		raw, hash := session.NewRefreshSecret()
		if len(raw) != session.RefreshTokenLength {
			t.Fatalf("secret %q has length %d; want %d", raw, len(raw), session.RefreshTokenLength)
		}
		if hash != sha256.Sum256([]byte(raw)) {
			t.Fatalf("hash of %q is not its SHA-256", raw)
		}
		got, err := session.HashRefreshToken(raw)
		if err != nil || got != hash {
			t.Fatalf("HashRefreshToken(NewRefreshSecret()) = %x, %v; want %x, nil", got, err, hash)
		}
		if seen[raw] {
			t.Fatalf("secret %q issued twice", raw)
		}
		seen[raw] = true
	}
}

func TestHashRefreshTokenRejectsWhatCannotHaveBeenIssued(t *testing.T) {
	valid, _ := session.NewRefreshSecret()
	tests := []struct {
		name string
		raw  string
	}{
		{"empty", ""},
		{"one short", valid[:42]},
		{"one long", valid + "A"},
		{"padded", valid[:42] + "="},
		{"standard base64 plus", "+" + valid[1:]},
		{"standard base64 slash", "/" + valid[1:]},
		{"space", " " + valid[1:]},
		{"dot", "." + valid[1:]},
		{"non-ASCII", "é" + valid[2:]},
		{"NUL", "\x00" + valid[1:]},
		{"a JWT", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
		{"very long", strings.Repeat("A", 10000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := session.HashRefreshToken(tc.raw)
			if !errors.Is(err, session.ErrRefreshInvalid) {
				t.Fatalf("HashRefreshToken(%q) = %x, %v; want ErrRefreshInvalid", tc.raw, h, err)
			}
			if h != ([32]byte{}) {
				t.Fatalf("rejected token returned a non-zero hash %x", h)
			}
		})
	}
	// Any 43 characters of the base64url alphabet are accepted.
	for _, raw := range []string{strings.Repeat("A", 43), strings.Repeat("-", 43), strings.Repeat("_", 43), strings.Repeat("z9", 21) + "0"} {
		if _, err := session.HashRefreshToken(raw); err != nil {
			t.Errorf("HashRefreshToken(%q) = %v; want accepted", raw, err)
		}
	}
}

func TestSealAndOpenSuccessor(t *testing.T) {
	current, currentHash := session.NewRefreshSecret()
	next, _ := session.NewRefreshSecret()
	other, _ := session.NewRefreshSecret()
	const sid = "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"

	sealed := session.SealSuccessor(current, next, sid)
	if bytes.Contains(sealed, []byte(next)) {
		t.Fatal("sealed successor contains the successor in clear")
	}
	got, err := session.OpenSuccessor(current, sealed, sid)
	if err != nil || got != next {
		t.Fatalf("OpenSuccessor = %q, %v; want %q, nil", got, err, next)
	}
	if again := session.SealSuccessor(current, next, sid); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same successor are identical; the nonce is not random")
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 0x01
	tamperedNonce := bytes.Clone(sealed)
	tamperedNonce[0] ^= 0x80

	failures := []struct {
		name    string
		current string
		sealed  []byte
		sid     string
	}{
		{"wrong token", other, sealed, sid},
		{"the stored hash as key", string(currentHash[:]), sealed, sid},
		{"wrong session id", current, sealed, "1b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"},
		{"empty session id", current, sealed, ""},
		{"tampered ciphertext", current, tampered, sid},
		{"tampered nonce", current, tamperedNonce, sid},
		{"truncated", current, sealed[:len(sealed)-1], sid},
		{"shorter than a nonce", current, sealed[:5], sid},
		{"empty", current, nil, sid},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			got, err := session.OpenSuccessor(tc.current, tc.sealed, tc.sid)
			if err == nil {
				t.Fatalf("OpenSuccessor = %q, nil; want an error", got)
			}
			if got != "" {
				t.Fatalf("failed OpenSuccessor returned %q", got)
			}
		})
	}
}
