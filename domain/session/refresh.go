package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"

	"github.com/gatehouse/gatehouse/domain/id"
)

// A refresh token (format v1) is the unpadded base64url form of
//
//	version (1 byte, 1) | session ID (16) | generation (8, big-endian) |
//	random (32) | MAC (16)
//
// where MAC is HMAC-SHA-256 under a server-held key over everything before
// it, cut to 128 bits. The MAC lets the server recognise any token it ever
// issued, however old, without storing it: only the session's current
// token is stored (as its SHA-256), and a genuine token of an older
// generation is an ancestor, whose reuse revokes the session. A token
// nobody issued fails the MAC and can revoke nothing. The random part keeps
// the current token unguessable even to someone holding the key: matching
// the stored hash needs those 256 bits.
const (
	refreshVersion   = 1
	refreshRandom    = 32
	refreshMAC       = 16
	refreshBodyBytes = 1 + 16 + 8 + refreshRandom
	refreshBytes     = refreshBodyBytes + refreshMAC
)

// RefreshTokenLength is the length of a refresh token's text form.
var RefreshTokenLength = base64.RawURLEncoding.EncodedLen(refreshBytes)

// LegacyRefreshTokenLength is the length of a token issued before the
// authenticated format: 32 random bytes, unpadded base64url. Such tokens
// are recognised by the hashes kept from that time (see Presented.Legacy).
const LegacyRefreshTokenLength = 43

// RefreshKeyBytes is the size of the MAC key of refresh tokens.
const RefreshKeyBytes = 32

// macLabel separates this MAC from any other use of the key.
const macLabel = "gatehouse refresh token v1\x00"

// RefreshCodec issues and parses refresh tokens under one server key.
type RefreshCodec struct {
	key []byte
	// label separates the MACs of one family of tokens from another's
	// under the same key (macLabel, or clientMACLabel).
	label string
	// legacy accepts tokens of the format before the MAC.
	legacy bool
	// macs holds keyed HMAC states for reuse: every refresh checks one MAC
	// and makes another, and a fresh HMAC costs two hash states and the
	// key's pads.
	macs sync.Pool
}

// ErrRefreshKey means the refresh-token key has the wrong size.
var ErrRefreshKey = errors.New("refresh token key must be 32 bytes")

// NewRefreshCodec returns a codec under key (RefreshKeyBytes bytes).
func NewRefreshCodec(key []byte) (*RefreshCodec, error) {
	if len(key) != RefreshKeyBytes {
		return nil, ErrRefreshKey
	}
	return newCodec(key, macLabel, true), nil
}

// Subkey derives a 32-byte key for another MAC from the refresh-token key
// (HMAC-SHA-256 of the label), so a deployment keeps one server secret
// while no MAC made for one use is valid for another.
func (c *RefreshCodec) Subkey(label string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("gatehouse subkey\x00" + label))
	return m.Sum(nil)
}

func newCodec(key []byte, label string, legacy bool) *RefreshCodec {
	c := &RefreshCodec{key: append([]byte(nil), key...), label: label, legacy: legacy}
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c
}

// clientMACLabel is the MAC label of refresh tokens held by the OpenID
// provider's clients.
const clientMACLabel = "gatehouse client refresh token v1\x00"

// ForClients returns a codec under the same key for the refresh tokens of
// OpenID clients: same format and rules, another MAC label and no legacy
// tokens, so a client's token is refused by the app's refresh (and the
// app's by the token endpoint) before anything is looked up.
func (c *RefreshCodec) ForClients() *RefreshCodec { return newCodec(c.key, clientMACLabel, false) }

// NewRefreshKey returns a new random key for NewRefreshCodec.
func NewRefreshKey() []byte {
	k := make([]byte, RefreshKeyBytes)
	_, _ = rand.Read(k)
	return k
}

func (c *RefreshCodec) mac(body []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(c.label))
	m.Write(body)
	sum := m.Sum(make([]byte, 0, sha256.Size))[:refreshMAC]
	c.macs.Put(m)
	return sum
}

// Issue returns a new token of generation gen in session sessionID, and its
// hash (what the store keeps).
func (c *RefreshCodec) Issue(sessionID string, gen int64) (string, [32]byte, error) {
	sid, ok := id.Bytes(sessionID)
	if !ok || gen < 1 {
		return "", [32]byte{}, errors.New("session: refresh token for an invalid session id or generation")
	}
	var b [refreshBytes]byte
	b[0] = refreshVersion
	copy(b[1:17], sid[:])
	binary.BigEndian.PutUint64(b[17:25], uint64(gen))
	_, _ = rand.Read(b[25:refreshBodyBytes])
	copy(b[refreshBodyBytes:], c.mac(b[:refreshBodyBytes]))
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	return raw, sha256.Sum256([]byte(raw)), nil
}

// Presented is a refresh token a client presented, as far as it can be
// known without the store.
type Presented struct {
	// Hash is the SHA-256 of the token's text form.
	Hash [32]byte
	// SessionID and Generation name the token's place in its family. For a
	// legacy token they are empty until the store has looked the hash up.
	SessionID  string
	Generation int64
	// Legacy marks a token issued before the authenticated format: genuine
	// only if the store knows its hash.
	Legacy bool
}

// Parse checks a presented token: a token of the current format must carry
// a valid MAC, a legacy one must have the legacy shape. Anything else is
// ErrRefreshInvalid, so a token nobody issued never reaches the store.
func (c *RefreshCodec) Parse(raw string) (Presented, error) {
	switch len(raw) {
	case LegacyRefreshTokenLength:
		if !c.legacy {
			return Presented{}, ErrRefreshInvalid
		}
		h, err := HashRefreshToken(raw)
		return Presented{Hash: h, Legacy: true}, err
	case RefreshTokenLength:
	default:
		return Presented{}, ErrRefreshInvalid
	}
	var b [refreshBytes]byte
	// Strict decoding refuses non-canonical trailing bits, so one token has
	// exactly one text form (and one hash).
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(raw))
	if err != nil || n != refreshBytes || b[0] != refreshVersion {
		return Presented{}, ErrRefreshInvalid
	}
	if !hmac.Equal(b[refreshBodyBytes:], c.mac(b[:refreshBodyBytes])) {
		return Presented{}, ErrRefreshInvalid
	}
	gen := binary.BigEndian.Uint64(b[17:25])
	var sid [16]byte
	copy(sid[:], b[1:17])
	if gen < 1 || gen > 1<<62 {
		return Presented{}, ErrRefreshInvalid
	}
	return Presented{Hash: sha256.Sum256([]byte(raw)), SessionID: id.FromBytes(sid), Generation: int64(gen)}, nil
}

// HashRefreshToken checks the shape of a legacy token and returns its
// hash. Anything that could not have been issued is ErrRefreshInvalid, so
// garbage never reaches the store.
func HashRefreshToken(raw string) ([32]byte, error) {
	if len(raw) != LegacyRefreshTokenLength {
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

// NewLegacyRefreshSecret returns a token of the format issued before the
// authenticated one (32 random bytes) and its hash. Only tests of the
// migration path make new ones.
func NewLegacyRefreshSecret() (string, [32]byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	return raw, sha256.Sum256([]byte(raw))
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
// stored in: callers pass current's hash). Kept with the session, it lets a
// racing request that presents current within the grace interval receive
// the very same successor, without the store ever holding a usable token.
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
