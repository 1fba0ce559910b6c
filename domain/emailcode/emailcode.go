// Package emailcode holds the rules of passwordless sign-in by mail: a
// six-digit code and a 256-bit link token, mailed together, both single use
// and short-lived. One address has at most one pending code: a new one
// replaces the old. Neither secret is stored readable: the token as its
// SHA-256 (it is random, so that is enough), the code as an HMAC under a
// server key, since a plain hash of one of a million codes is undone at once
// by whoever reads the table.
package emailcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrCodeInvalid is a wrong, used, voided or expired code or link.
var ErrCodeInvalid = errors.New("email code invalid")

// Digits is the length of a code.
const Digits = 6

// MaxFailures is how many wrong codes void a pending code.
const MaxFailures = 5

// DefaultTTL is how long a code and its link live unless configured.
const DefaultTTL = 10 * time.Minute

// KeyBytes is the length of the key codes are sealed under.
const KeyBytes = 32

// Pending is the stored side of a mailed code and link.
type Pending struct {
	// ID names the record; it is mixed into the code's seal, so a seal
	// copied to another record does not verify there.
	ID string
	// Email is the normalized address the code was mailed to.
	Email string
	// UserID is the account the code signs in to; empty when the address
	// had no account and sign-up by code is allowed.
	UserID string
	// CredentialVersion is the account's when the code was mailed: a
	// password change or reset since (or a disable) voids it.
	CredentialVersion int64
	TokenHash         [32]byte
	CodeSeal          [32]byte
	// Failures counts wrong codes presented for the address.
	Failures  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Usable reports whether p may still be tried at now: unexpired and with
// fewer than MaxFailures wrong codes.
func (p Pending) Usable(now time.Time) bool {
	return now.Before(p.ExpiresAt) && p.Failures < MaxFailures
}

// Sealer seals codes under a server key.
type Sealer struct{ key []byte }

// NewSealer returns a Sealer under key (KeyBytes bytes).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeyBytes {
		return nil, fmt.Errorf("emailcode: key of %d bytes, want %d", len(key), KeyBytes)
	}
	return &Sealer{key: append([]byte(nil), key...)}, nil
}

// Seal returns the stored form of code for the record recordID.
func (s *Sealer) Seal(recordID, code string) [32]byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(recordID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Matches reports, in constant time, whether code is the one p was issued
// with. A code of the wrong shape never matches (and is sealed all the
// same, so it costs what a wrong code costs).
func (s *Sealer) Matches(p Pending, code string) bool {
	seal := s.Seal(p.ID, code)
	return hmac.Equal(seal[:], p.CodeSeal[:]) && WellFormed(code)
}

// NewCode returns a uniformly random code of Digits decimal digits.
func NewCode() string {
	const space = 1_000_000 // 10^Digits
	// Rejection sampling keeps every code equally likely.
	const limit = (1 << 32) / space * space
	var b [4]byte
	for {
		// crypto/rand.Read never fails (Go 1.24+): it aborts instead.
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%space)
		}
	}
}

// WellFormed reports whether code has the shape NewCode produces.
func WellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
