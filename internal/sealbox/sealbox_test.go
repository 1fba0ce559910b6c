package sealbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	k, err := New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("-----BEGIN PRIVATE KEY-----\nabc\n")
	s, err := k.Seal(secret, []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(s) || SealedWith(s) != k.KeyID() || strings.Contains(s, "BEGIN") {
		t.Fatalf("sealed form %q", s)
	}
	got, err := k.Open(s, []byte("kid-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	// Bound to its record: another ad does not open it.
	if _, err := k.Open(s, []byte("kid-2")); err == nil {
		t.Fatal("opened with another ad")
	}
	// Two seals of one secret differ (random nonce).
	s2, _ := k.Seal(secret, []byte("kid-1"))
	if s2 == s {
		t.Fatal("same ciphertext twice")
	}
	// A flipped byte is refused.
	b := []byte(s)
	b[len(b)-3] ^= 1
	if _, err := k.Open(string(b), []byte("kid-1")); err == nil {
		t.Fatal("opened an altered value")
	}
}

func TestKeyChange(t *testing.T) {
	old, _ := New(key(1))
	s, _ := old.Seal([]byte("x"), nil)
	other, _ := New(key(2))
	if _, err := other.Open(s, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
	both, _ := New(key(2), key(1))
	if both.KeyID() != other.KeyID() {
		t.Fatal("first key must seal")
	}
	if got, err := both.Open(s, nil); err != nil || string(got) != "x" {
		t.Fatalf("old value with both keys: %q %v", got, err)
	}
}

func TestParse(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(key(7))
	dir := t.TempDir()
	path := filepath.Join(dir, "dek")
	if err := os.WriteFile(path, []byte(k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{k1, base64.RawURLEncoding.EncodeToString(key(7)), "file:" + path, " " + k1 + " "} {
		k, err := Parse(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if k.KeyID() != ID(key(7)) {
			t.Fatalf("%q: wrong key", in)
		}
	}
	k, err := Parse(base64.StdEncoding.EncodeToString(key(8)) + "," + k1)
	if err != nil || k.KeyID() != ID(key(8)) || len(k.ids) != 2 {
		t.Fatalf("two keys: %v", err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short")), "file:", "file:" + filepath.Join(dir, "missing"), k1 + "," + k1} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		} else if strings.Contains(err.Error(), k1) {
			t.Errorf("%q: error echoes the key: %v", bad, err)
		}
	}
}
