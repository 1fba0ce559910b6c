package fakes

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

var (
	_ authn.PasswordHasher   = (*Hasher)(nil)
	_ account.PasswordHasher = (*Hasher)(nil)
)

// Hasher is a cheap, transparent password hasher: Hash returns
// "hash:v<version>:" + plain. Verify reports needsRehash when the encoded
// version differs from the current one, or when forced with SetNeedsRehash.
type Hasher struct {
	mu          sync.Mutex
	version     int
	forceRehash bool
	calls       HasherCalls
}

// HasherCalls counts the calls of each method.
type HasherCalls struct {
	Hash, Verify, VerifyDummy int
}

// NewHasher returns a hasher at version 1.
func NewHasher() *Hasher { return &Hasher{version: 1} }

// SetVersion changes the parameters new hashes are made with; hashes of other
// versions then need a rehash.
func (h *Hasher) SetVersion(v int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version = v
}

// SetNeedsRehash makes Verify report needsRehash for every matching hash.
func (h *Hasher) SetNeedsRehash(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forceRehash = on
}

// Calls returns the call counters.
func (h *Hasher) Calls() HasherCalls {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// Encoded returns what Hash(plain) returns at version v.
func Encoded(v int, plain string) string {
	return "hash:v" + strconv.Itoa(v) + ":" + plain
}

// Hash implements the port.
func (h *Hasher) Hash(_ context.Context, plain string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.Hash++
	return Encoded(h.version, plain), nil
}

// ErrMalformedHash is Verify's error for a stored value Hash never made.
var ErrMalformedHash = errors.New("fakes: malformed password hash")

// Verify implements the port.
func (h *Hasher) Verify(_ context.Context, plain, encoded string) (bool, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.Verify++
	rest, ok := strings.CutPrefix(encoded, "hash:v")
	if !ok {
		return false, false, ErrMalformedHash
	}
	vs, pw, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil {
		return false, false, ErrMalformedHash
	}
	if pw != plain {
		return false, false, nil
	}
	return true, v != h.version || h.forceRehash, nil
}

// VerifyDummy implements the port; it only counts.
func (h *Hasher) VerifyDummy(_ context.Context, _ string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.VerifyDummy++
}
