// Package sealbox encrypts small secrets at rest (private signing keys, and
// later TOTP secrets) with AES-256-GCM under DATA_ENCRYPTION_KEY.
//
// A sealed value is self-describing text, "gh1:<key id>:<base64url(nonce ||
// ciphertext)>", so a row says which key sealed it: a changed key gives a
// clear "sealed with key X" error instead of garbage, and a keyring holding
// the old and the new key can open old rows and re-seal them with the new.
// The caller passes associated data naming what the secret belongs to (for
// example the signing key's kid), so a sealed value copied into another row
// does not open there.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prefix marks a sealed value and its format version.
const prefix = "gh1:"

// KeySize is the length of a data-encryption key in bytes (AES-256).
const KeySize = 32

// ErrUnknownKey means a value sealed with a key the keyring does not hold.
var ErrUnknownKey = errors.New("sealed with a key that is not configured")

// Keyring holds the data-encryption keys: the first seals, all open.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// ID derives a key's public identifier: a short hash, so the key itself is
// never written anywhere and two operators can compare IDs safely.
func ID(key []byte) string {
	sum := sha256.Sum256(append([]byte("gatehouse data-encryption key id\x00"), key...))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// New builds a keyring from raw 32-byte keys; the first seals.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("key %d has %d bytes, want %d", i+1, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := ID(key)
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("key %d repeats an earlier key", i+1)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	return k, nil
}

// Parse reads DATA_ENCRYPTION_KEY: base64 (standard or URL alphabet, padded
// or not) of 32 bytes, or "file:PATH" naming a file that holds that text.
// Several keys may be given separated by commas or newlines: the first
// seals, the others only open (for changing the key). Errors never echo the
// value.
func Parse(setting string) (*Keyring, error) {
	text := strings.TrimSpace(setting)
	if path, ok := strings.CutPrefix(text, "file:"); ok {
		if path == "" {
			return nil, errors.New("file: needs a path")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		text = strings.TrimSpace(string(data))
	}
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, errors.New("empty key")
	}
	keys := make([][]byte, 0, len(fields))
	for i, f := range fields {
		key, err := decodeKey(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	return New(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (make one with: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64 (make one with: openssl rand -base64 32)")
}

// KeyID is the ID of the key that seals.
func (k *Keyring) KeyID() string { return k.ids[0] }

// Seal encrypts plain, bound to ad.
func (k *Keyring) Seal(plain, ad []byte) (string, error) {
	aead := k.aeads[k.ids[0]]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plain, ad)
	return prefix + k.ids[0] + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// IsSealed reports whether s is in the sealed format (whatever the key).
func IsSealed(s string) bool { return strings.HasPrefix(s, prefix) }

// SealedWith returns the key ID a sealed value names, "" if s is not sealed.
func SealedWith(s string) string {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// Open decrypts a value made by Seal with the same ad.
func (k *Keyring) Open(sealed string, ad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, errors.New("not a sealed value")
	}
	id, body, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errors.New("malformed sealed value")
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s; DATA_ENCRYPTION_KEY holds %s)", ErrUnknownKey, id, strings.Join(k.ids, ", "))
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("malformed sealed value")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("sealed value does not open with key %s: altered, or bound to another record", id)
	}
	return plain, nil
}
