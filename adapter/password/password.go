// Package password hashes and verifies passwords with argon2id (RFC 9106),
// stored as PHC strings in the format of the reference implementation:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in standard base64 without padding. Each hash costs
// MemoryKiB of memory, so a Hasher caps how many run at once.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned (wrapped) by Verify for a stored hash it
// cannot read: not argon2id, another version, broken syntax or base64, or
// parameters outside the accepted limits.
var ErrMalformedHash = errors.New("password: malformed hash")

// Limits on parameters, for our own Params and for stored hashes alike.
// The upper bounds keep a corrupted or hostile stored hash from making
// Verify allocate gigabytes or spin for minutes; they sit far above any
// sane setting (OWASP's is 19 MiB, t=2, p=1).
const (
	maxMemoryKiB   = 1 << 20 // 1 GiB
	maxIterations  = 100
	maxParallelism = 64
	minSaltLength  = 8 // RFC 9106 section 3.1
	maxSaltLength  = 1024
	minKeyLength   = 16 // RFC 9106 allows 4; fewer than 128 bits is no hash
	maxKeyLength   = 1024
	// maxEncodedLength bounds the PHC string before it is split, so the
	// parser never works on megabytes; the longest valid string is
	// well under 3 KiB.
	maxEncodedLength = 4096
)

// version is the argon2 version this package writes and reads (0x13).
const version = argon2.Version

// Params are the argon2id cost parameters and output sizes.
type Params struct {
	// MemoryKiB is the memory cost in KiB (argon2 "m").
	MemoryKiB uint32
	// Iterations is the time cost (argon2 "t").
	Iterations uint32
	// Parallelism is the number of lanes (argon2 "p").
	Parallelism uint8
	// SaltLength is the length of the random salt, in bytes.
	SaltLength uint32
	// KeyLength is the length of the derived hash, in bytes.
	KeyLength uint32
}

// DefaultParams returns OWASP's recommended argon2id setting: 19 MiB of
// memory, two iterations, one lane, a 16-byte salt and a 32-byte hash.
func DefaultParams() Params {
	return Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// validate checks p against argon2's own rules and our limits.
func (p Params) validate() error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return fmt.Errorf("parallelism %d outside [1, %d]", p.Parallelism, maxParallelism)
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB:
		// argon2 needs at least 8 KiB per lane.
		return fmt.Errorf("memory %d KiB outside [8*parallelism=%d, %d]", p.MemoryKiB, 8*uint32(p.Parallelism), maxMemoryKiB)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d outside [1, %d]", p.Iterations, maxIterations)
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("salt length %d outside [%d, %d]", p.SaltLength, minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("key length %d outside [%d, %d]", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}

// Hasher hashes and verifies passwords with fixed parameters. It is safe
// for concurrent use.
type Hasher struct {
	params Params
	// sem holds one token per hash in progress. Its capacity is the cap:
	// at 19 MiB a hash, a login flood must queue, not exhaust memory.
	sem chan struct{}
	// dummy is a PHC string with h's parameters, a random salt and a
	// random hash, which no password matches. VerifyDummy verifies
	// against it so an unknown email costs as much as a wrong password.
	dummy string
	// maxMemoryKiB and maxIterations bound stored hashes in Verify. They
	// are the package limits; tests lower them to keep fuzzing cheap.
	maxMemoryKiB  uint32
	maxIterations uint32
	// b64 decodes salt and hash: unpadded standard base64 that, like the
	// reference implementation, refuses non-zero trailing bits.
	b64 *base64.Encoding
}

// NewHasher returns a Hasher for p that runs at most maxConcurrent hashes
// at once; maxConcurrent <= 0 means runtime.GOMAXPROCS(0), one per CPU the
// scheduler uses, since argon2 with p=1 keeps one CPU busy.
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("password: params: %w", err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	// The dummy hash needs no argon2 run: random bytes are as good a
	// target as a real hash for a comparison that must fail anyway.
	salt := make([]byte, p.SaltLength)
	key := make([]byte, p.KeyLength)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password: random salt: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("password: random key: %w", err)
	}
	return &Hasher{
		params:        p,
		sem:           make(chan struct{}, maxConcurrent),
		dummy:         encode(p, salt, key),
		maxMemoryKiB:  maxMemoryKiB,
		maxIterations: maxIterations,
		b64:           base64.RawStdEncoding.Strict(),
	}, nil
}

// Hash derives a new PHC string from plain, with a fresh random salt. The
// password is hashed as its UTF-8 bytes, whole. It waits for a free slot
// and returns the context's error (wrapped) if ctx ends first.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: random salt: %w", err)
	}
	key, err := h.derive(ctx, plain, salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, h.params.KeyLength)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether plain matches encoded, comparing in constant
// time. needsRehash is true when plain matches but encoded was made with
// other parameters than h's, so the caller should store a new Hash; it is
// never true on a mismatch, because rehashing a wrong password would
// replace the user's password with it. A malformed encoded yields an error
// wrapping ErrMalformedHash; a context that ends while waiting for a slot
// yields its error, wrapped.
func (h *Hasher) Verify(ctx context.Context, plain, encoded string) (match bool, needsRehash bool, err error) {
	d, err := h.decode(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.derive(ctx, plain, d.salt, d.params.Iterations, d.params.MemoryKiB, d.params.Parallelism, uint32(len(d.key)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, d.key) != 1 {
		return false, false, nil
	}
	return true, d.params != h.params, nil
}

// VerifyDummy spends what a Verify of a wrong password costs, against a
// hash no password matches. Call it when the account does not exist, so
// response times do not tell which emails are registered.
func (h *Hasher) VerifyDummy(ctx context.Context, plain string) {
	_, _, _ = h.Verify(ctx, plain, h.dummy)
}

// derive runs argon2id within the concurrency cap.
func (h *Hasher) derive(ctx context.Context, plain string, salt []byte, t, m uint32, p uint8, keyLen uint32) ([]byte, error) {
	// Checked first because select picks at random among ready cases: a
	// cancelled request must not start a 19 MiB hash just because a slot
	// happened to be free.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(plain), salt, t, m, p, keyLen), nil
}

// encode writes the PHC string of the reference implementation.
func encode(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + base64.RawStdEncoding.EncodedLen(len(salt)) + base64.RawStdEncoding.EncodedLen(len(key)))
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.MemoryKiB), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Parallelism), 10))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(key))
	return b.String()
}

// decoded is a parsed PHC string.
type decoded struct {
	params Params
	salt   []byte
	key    []byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

// decode parses a PHC string strictly: "$argon2id$v=19$m=M,t=T,p=P$salt$hash"
// with the parameters in that order, decimal without sign or leading
// zeros, and every limit checked before anything is allocated for them.
func (h *Hasher) decode(encoded string) (decoded, error) {
	if len(encoded) > maxEncodedLength {
		return decoded{}, malformed("longer than %d bytes", maxEncodedLength)
	}
	// The base64 decoder skips CR and LF; refuse them here so a stored
	// hash has exactly one spelling.
	if strings.ContainsAny(encoded, "\r\n") {
		return decoded{}, malformed("contains a line break")
	}
	rest, ok := strings.CutPrefix(encoded, "$argon2id$")
	if !ok {
		return decoded{}, malformed("not an argon2id PHC string")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return decoded{}, malformed("want version, parameters, salt and hash")
	}
	v, ok := strings.CutPrefix(parts[0], "v=")
	if !ok || v != strconv.Itoa(version) {
		return decoded{}, malformed("unsupported version %q", parts[0])
	}

	var d decoded
	fields := strings.Split(parts[1], ",")
	if len(fields) != 3 {
		return decoded{}, malformed("want parameters m,t,p")
	}
	var vals [3]uint32
	for i, name := range [3]string{"m", "t", "p"} {
		num, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return decoded{}, malformed("parameter %d is not %s", i+1, name)
		}
		n, err := parseDecimal(num)
		if err != nil {
			return decoded{}, malformed("parameter %s: %v", name, err)
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if p < 1 || p > maxParallelism {
		return decoded{}, malformed("parallelism %d outside [1, %d]", p, maxParallelism)
	}
	if m < 8*p || m > h.maxMemoryKiB {
		return decoded{}, malformed("memory %d KiB outside [%d, %d]", m, 8*p, h.maxMemoryKiB)
	}
	if t < 1 || t > h.maxIterations {
		return decoded{}, malformed("iterations %d outside [1, %d]", t, h.maxIterations)
	}

	enc := h.b64
	// Check decoded lengths from the encoded ones before decoding.
	if n := enc.DecodedLen(len(parts[2])); n < minSaltLength || n > maxSaltLength {
		return decoded{}, malformed("salt of %d bytes outside [%d, %d]", n, minSaltLength, maxSaltLength)
	}
	if n := enc.DecodedLen(len(parts[3])); n < minKeyLength || n > maxKeyLength {
		return decoded{}, malformed("hash of %d bytes outside [%d, %d]", n, minKeyLength, maxKeyLength)
	}
	salt, err := enc.DecodeString(parts[2])
	if err != nil {
		return decoded{}, malformed("salt is not unpadded base64")
	}
	key, err := enc.DecodeString(parts[3])
	if err != nil {
		return decoded{}, malformed("hash is not unpadded base64")
	}
	d.params = Params{
		MemoryKiB:   m,
		Iterations:  t,
		Parallelism: uint8(p),
		SaltLength:  uint32(len(salt)),
		KeyLength:   uint32(len(key)),
	}
	d.salt, d.key = salt, key
	return d, nil
}

// parseDecimal reads a PHC decimal: ASCII digits, no sign, no leading
// zero, fitting in 32 bits.
func parseDecimal(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return uint32(n), nil
}
