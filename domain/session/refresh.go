package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// refreshTokenBytes is the entropy of a refresh token: 256 bits.
const refreshTokenBytes = 32

// RefreshTokenLength is the length of a refresh token's text form
// (unpadded base64url of 32 bytes).
const RefreshTokenLength = 43

// RefreshToken is one member of a session's token family, as stored: only
// the SHA-256 of the secret is kept, never the secret.
type RefreshToken struct {
	// Hash is the SHA-256 of the token's text form.
	Hash      [32]byte
	SessionID string
	// Generation counts rotations within the session, from 1.
	Generation int64
	CreatedAt  time.Time
	// RotatedAt is zero until the token is exchanged for its successor.
	RotatedAt time.Time
	// SuccessorSealed is the successor token encrypted under a key derived
	// from this token (see SealSuccessor). Only a holder of this token can
	// open it, so the store never holds a usable secret.
	SuccessorSealed []byte
}

// NewRefreshSecret returns a new random refresh token and its hash.
func NewRefreshSecret() (string, [32]byte) {
	var b [refreshTokenBytes]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	return raw, sha256.Sum256([]byte(raw))
}

// HashRefreshToken checks the shape of a presented token and returns its
// hash. Anything that could not have been issued is ErrRefreshInvalid, so
// garbage never reaches the store.
func HashRefreshToken(raw string) ([32]byte, error) {
	if len(raw) != RefreshTokenLength {
		return [32]byte{}, ErrRefreshInvalid
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return [32]byte{}, ErrRefreshInvalid
		}
	}
	return sha256.Sum256([]byte(raw)), nil
}

// sealKey derives the key that seals a token's successor. The label keeps it
// distinct from the stored hash (which is the plain SHA-256), so the stored
// hash cannot open the seal.
func sealKey(raw string) []byte {
	k := sha256.Sum256([]byte("gatehouse refresh successor v1\x00" + raw))
	return k[:]
}

// SealSuccessor encrypts next under a key derived from current (AES-256-GCM,
// with binding as associated data, which ties the seal to the row it is
// stored in: callers pass current's hash). Kept with current's row, it lets a
// racing request that presents current within the grace interval receive the
// very same successor, without the store ever holding a usable token.
func SealSuccessor(current, next, binding string) []byte {
	block, _ := aes.NewCipher(sealKey(current)) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(next), []byte(binding))
}

// OpenSuccessor decrypts a sealed successor with the token it was sealed
// under and the same binding.
func OpenSuccessor(current string, sealed []byte, binding string) (string, error) {
	block, _ := aes.NewCipher(sealKey(current))
	aead, _ := cipher.NewGCM(block)
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed successor too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(binding))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
