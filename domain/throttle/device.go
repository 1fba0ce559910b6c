package throttle

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
)

// A known device is a browser (or any client keeping cookies) that signed
// in to an account before: OWASP's "device cookie" defence against
// account lockout. Its proof is a value the service issued at a successful
// sign-in, bound to the account and to its credential version, and MACed
// under a server key, so it cannot be forged, moved to another account, or
// kept past a password change or reset (which move the version: a cookie an
// intruder collected before the owner took the account back dies then).
// It grants nothing by itself: it only lets its holder's password attempts
// be counted apart (per device) instead of in the account-wide back-off
// that anyone can drive up.

// DeviceLifetime is how long a device proof is honoured after issue.
const DeviceLifetime = 365 * 24 * time.Hour

// DeviceKeyBytes is the size of the device MAC key.
const DeviceKeyBytes = 32

const (
	deviceFormat = 1
	deviceMAC    = 16
	// format | user ID | credential version | issued at | nonce | MAC
	deviceBytes = 1 + 16 + 8 + 8 + 16 + deviceMAC
	deviceLabel = "gatehouse known device v1\x00"
)

// DeviceProofLength is the length of an issued proof (unpadded base64url).
var DeviceProofLength = base64.RawURLEncoding.EncodedLen(deviceBytes)

// ErrDeviceKey means a device key of the wrong size.
var ErrDeviceKey = errors.New("device key must be 32 bytes")

// Device is what a valid proof says.
type Device struct {
	UserID            string
	CredentialVersion int64
	IssuedAt          time.Time
	// ID names this proof (its random part), for the per-device count.
	ID string
}

// DeviceCodec issues and opens device proofs under one key.
type DeviceCodec struct{ key []byte }

// NewDeviceCodec returns a codec under key (DeviceKeyBytes bytes).
func NewDeviceCodec(key []byte) (*DeviceCodec, error) {
	if len(key) != DeviceKeyBytes {
		return nil, ErrDeviceKey
	}
	return &DeviceCodec{key: append([]byte(nil), key...)}, nil
}

func (c *DeviceCodec) mac(body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(deviceLabel))
	m.Write(body)
	return m.Sum(nil)[:deviceMAC]
}

// Issue returns a new proof that the holder signed in to account userID at
// credential version version, at now; "" if userID is not an ID.
func (c *DeviceCodec) Issue(userID string, version int64, now time.Time) string {
	uid, ok := id.Bytes(userID)
	if !ok {
		return ""
	}
	b := make([]byte, 0, deviceBytes)
	b = append(b, deviceFormat)
	b = append(b, uid[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(version))
	b = binary.BigEndian.AppendUint64(b, uint64(now.Unix()))
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand never fails on supported platforms
	b = append(b, nonce[:]...)
	b = append(b, c.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Open checks raw and returns what it proves; false for anything not issued
// under this key (compared in constant time), malformed, or older than
// DeviceLifetime at now.
func (c *DeviceCodec) Open(raw string, now time.Time) (Device, bool) {
	if c == nil || len(raw) != DeviceProofLength {
		return Device{}, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	if err != nil || len(b) != deviceBytes || b[0] != deviceFormat {
		return Device{}, false
	}
	body, sum := b[:deviceBytes-deviceMAC], b[deviceBytes-deviceMAC:]
	if !hmac.Equal(sum, c.mac(body)) {
		return Device{}, false
	}
	var uid [16]byte
	copy(uid[:], body[1:17])
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[25:33])), 0).UTC()
	if now.Sub(issued) > DeviceLifetime || issued.After(now.Add(time.Minute)) {
		return Device{}, false
	}
	return Device{
		UserID:            id.FromBytes(uid),
		CredentialVersion: int64(binary.BigEndian.Uint64(body[17:25])),
		IssuedAt:          issued,
		ID:                hex.EncodeToString(body[33:49]),
	}, true
}
