// Package id generates the random identifiers used for users, sessions and
// tokens: RFC 9562 version 4 UUIDs in their canonical text form.
package id

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a new random (version 4, variant 10) UUID such as
// "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10".
func New() string {
	var b [16]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return FromBytes(b)
}

// Valid reports whether s is a canonical lower-case UUID string.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Bytes returns the 16 bytes of a canonical UUID string; false if s is not
// one (see Valid).
func Bytes(s string) ([16]byte, bool) {
	var b [16]byte
	if !Valid(s) {
		return b, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if s[i] == '-' {
			i--
			continue
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		b[j] = hi<<4 | lo
		j++
	}
	return b, true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// FromBytes is the canonical string of 16 UUID bytes: the inverse of Bytes.
func FromBytes(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
