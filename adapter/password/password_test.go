package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// cheapParams keep tests fast; benchmarks use DefaultParams.
func cheapParams() Params {
	return Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func newHasher(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, maxConcurrent)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestDefaultParamsAreOWASP(t *testing.T) {
	want := Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got := DefaultParams(); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	if err := DefaultParams().validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheapParams(), 0)
	cases := map[string]string{
		"ascii":               "correct horse battery staple",
		"unicode":             "pässwörd ✓ 日本語 🔑",
		"128 ascii chars":     strings.Repeat("abcdefgh", 16),
		"128 four-byte chars": strings.Repeat("🔑", 128),
		"spaces only":         "        ",
	}
	for name, pw := range cases {
		t.Run(name, func(t *testing.T) {
			enc, err := h.Hash(ctx, pw)
			if err != nil {
				t.Fatal(err)
			}
			match, rehash, err := h.Verify(ctx, pw, enc)
			if err != nil || !match || rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, false, nil", match, rehash, err)
			}
			again, err := h.Hash(ctx, pw)
			if err != nil {
				t.Fatal(err)
			}
			if again == enc {
				t.Fatal("two hashes of one password are equal: salt not random")
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheapParams(), 0)
	long := strings.Repeat("abcdefgh", 16)
	cases := []struct{ stored, tried string }{
		{"correct horse", "correct horsE"},
		{"correct horse", ""},
		{"pässwörd", "passwörd"},       // NFC vs ASCII lookalike
		{"pa\u0308sswörd", "pässwörd"}, // NFD vs NFC: bytes differ, no normalization here
		{long, long[:127] + "X"},       // differs only in the last of 128 chars
		{long + "tail", long},          // a prefix is not the password: no truncation
		{strings.Repeat("🔑", 128), strings.Repeat("🔑", 127)},
	}
	for _, tc := range cases {
		enc, err := h.Hash(ctx, tc.stored)
		if err != nil {
			t.Fatal(err)
		}
		match, rehash, err := h.Verify(ctx, tc.tried, enc)
		if err != nil || match || rehash {
			t.Fatalf("Verify(%q) against %q = %v, %v, %v; want false, false, nil", tc.tried, tc.stored, match, rehash, err)
		}
	}
}

func TestEncodingFormat(t *testing.T) {
	h := newHasher(t, cheapParams(), 0)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt and 32-byte hash in unpadded standard base64.
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("PHC string %q does not match %s", enc, re)
	}
	if got := encode(DefaultParams(), make([]byte, 16), make([]byte, 32)); !strings.HasPrefix(got, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default params encode as %q", got)
	}
}

// TestReferenceVectors verifies hashes made by the argon2 reference
// implementation's command-line tool (argon2 20171227, e.g.
// `echo -n PASSWORD | argon2 SALT -id -t 1 -k 64 -p 1 -l 32 -e`).
func TestReferenceVectors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		password, encoded string
		params            Params
	}{
		{"correct horse battery staple",
			"$argon2id$v=19$m=64,t=1,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$s8MkXTpePuBAluHXfKpdrQITwzbHnR9pBr4eXn1dtkk",
			cheapParams()},
		{"password",
			"$argon2id$v=19$m=256,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$PktHOdUehWq28Um+wbRvxfK/vwYGGR71",
			Params{MemoryKiB: 256, Iterations: 3, Parallelism: 4, SaltLength: 16, KeyLength: 24}},
		{"pässwörd ✓ 日本",
			"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$OaUIaa7UCYa0xSyH4woV3v9XfvRkMpizbbQSm5iSeQU",
			DefaultParams()},
	}
	for _, tc := range cases {
		t.Run(tc.encoded[:30], func(t *testing.T) {
			h := newHasher(t, tc.params, 1)
			match, rehash, err := h.Verify(ctx, tc.password, tc.encoded)
			if err != nil || !match || rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, false, nil", match, rehash, err)
			}
			if match, _, _ := h.Verify(ctx, tc.password+"x", tc.encoded); match {
				t.Fatal("wrong password matched")
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, cheapParams(), 0)
	enc, err := old.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	change := map[string]func(*Params){
		"memory":      func(p *Params) { p.MemoryKiB = 128 },
		"iterations":  func(p *Params) { p.Iterations = 2 },
		"parallelism": func(p *Params) { p.Parallelism = 2 },
		"salt length": func(p *Params) { p.SaltLength = 32 },
		"key length":  func(p *Params) { p.KeyLength = 64 },
	}
	for name, f := range change {
		t.Run(name, func(t *testing.T) {
			p := cheapParams()
			f(&p)
			h := newHasher(t, p, 0)
			match, rehash, err := h.Verify(ctx, "pw", enc)
			if err != nil || !match || !rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, true, nil", match, rehash, err)
			}
			// A wrong password never asks for a rehash: the caller would
			// otherwise store a hash of the wrong password.
			match, rehash, err = h.Verify(ctx, "wrong", enc)
			if err != nil || match || rehash {
				t.Fatalf("wrong password: Verify = %v, %v, %v; want false, false, nil", match, rehash, err)
			}
			// After the rehash, the new hasher is content.
			fresh, err := h.Hash(ctx, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if match, rehash, err := h.Verify(ctx, "pw", fresh); err != nil || !match || rehash {
				t.Fatalf("after rehash: Verify = %v, %v, %v", match, rehash, err)
			}
		})
	}
}

func TestMalformedHashes(t *testing.T) {
	h := newHasher(t, cheapParams(), 0)
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "s8MkXTpePuBAluHXfKpdrQITwzbHnR9pBr4eXn1dtkk"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, _, err := h.Verify(context.Background(), "pw", good); err != nil {
		t.Fatalf("control case: %v", err)
	}
	cases := map[string]string{
		"empty":                  "",
		"bcrypt":                 "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":                "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2d":                "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"no leading dollar":      "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"upper-case id":          "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"version 16":             "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"version missing":        "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"version garbage":        "$argon2id$v=x$m=64,t=1,p=1$" + salt + "$" + key,
		"missing hash":           "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"missing salt and hash":  "$argon2id$v=19$m=64,t=1,p=1",
		"empty hash":             "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"empty salt":             "$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"extra field":            good + "$extra",
		"trailing dollar":        good + "$",
		"params reordered":       "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"param missing":          "$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"param extra":            "$argon2id$v=19$m=64,t=1,p=1,keyid=x$" + salt + "$" + key,
		"param empty":            "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key,
		"param negative":         "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"param plus sign":        "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"param leading zero":     "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"param hex":              "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key,
		"param overflows uint32": "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"memory over 1 GiB":      "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key,
		"memory 4 GiB":           "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"memory below 8*p":       "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key,
		"zero iterations":        "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"iterations over 100":    "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key,
		"zero parallelism":       "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"parallelism over 64":    "$argon2id$v=19$m=1024,t=1,p=65$" + salt + "$" + key,
		"parallelism over 255":   "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key,
		"salt bad base64":        "$argon2id$v=19$m=64,t=1,p=1$c2Fsd!NhbHRzYWx0c2FsdA$" + key,
		"salt padded":            "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"salt url alphabet":      "$argon2id$v=19$m=64,t=1,p=1$c2Fsd_NhbHRzYWx0c2Fsd-$" + key,
		"salt too short":         "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"salt over 1 KiB":        "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 1400) + "$" + key,
		"hash bad base64":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$s8MkXTpePuBAluHXfKpd*QITwzbHnR9pBr4eXn1dtkk",
		"hash trailing bits":     "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "l",
		"hash too short":         "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$s8MkXTpePuBA",
		"hash over 1 KiB":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1400),
		"line break in hash":     "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$s8MkXTpePuBAluHXfKpdrQITw\nzbHnR9pBr4eXn1dtkk",
		"huge string":            good + strings.Repeat("A", 1<<20),
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), "pw", enc)
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v, %v; want ErrMalformedHash", match, rehash, err)
			}
			if match || rehash {
				t.Fatalf("match=%v rehash=%v alongside an error", match, rehash)
			}
		})
	}
}

func TestNewHasherValidates(t *testing.T) {
	bad := map[string]func(*Params){
		"zero memory":          func(p *Params) { p.MemoryKiB = 0 },
		"memory below 8*p":     func(p *Params) { p.MemoryKiB, p.Parallelism = 31, 4 },
		"memory over 1 GiB":    func(p *Params) { p.MemoryKiB = 1<<20 + 1 },
		"zero iterations":      func(p *Params) { p.Iterations = 0 },
		"iterations over 100":  func(p *Params) { p.Iterations = 101 },
		"zero parallelism":     func(p *Params) { p.Parallelism = 0 },
		"parallelism over 64":  func(p *Params) { p.Parallelism, p.MemoryKiB = 65, 1024 },
		"salt shorter than 8":  func(p *Params) { p.SaltLength = 7 },
		"salt over 1 KiB":      func(p *Params) { p.SaltLength = 1025 },
		"key shorter than 16":  func(p *Params) { p.KeyLength = 15 },
		"key longer than 1024": func(p *Params) { p.KeyLength = 1025 },
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			p := cheapParams()
			f(&p)
			if h, err := NewHasher(p, 1); err == nil {
				t.Fatalf("NewHasher(%+v) succeeded: %v", p, h)
			}
		})
	}
	h := newHasher(t, cheapParams(), 0)
	if cap(h.sem) < 1 {
		t.Fatalf("maxConcurrent 0 gave a semaphore of %d", cap(h.sem))
	}
	if h := newHasher(t, cheapParams(), 3); cap(h.sem) != 3 {
		t.Fatalf("maxConcurrent 3 gave a semaphore of %d", cap(h.sem))
	}
}

func TestConcurrencyCap(t *testing.T) {
	h := newHasher(t, cheapParams(), 1)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}

	h.sem <- struct{}{} // hold the only slot, as a long hash would

	// A deadline that a cheap hash meets easily expires while waiting
	// behind the held slot: the hash did not run.
	deadline, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(deadline, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash behind a held slot: %v, want DeadlineExceeded", err)
	}

	// A request abandoned while queued returns at once with its error.
	ctx, cancelNow := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	dummyDone := make(chan struct{})
	go func() { _, err := h.Hash(ctx, "pw"); errc <- err }()
	go func() { _, _, err := h.Verify(ctx, "pw", enc); errc <- err }()
	go func() { h.VerifyDummy(ctx, "pw"); close(dummyDone) }()
	cancelNow()
	for range 2 {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("queued call after cancel: %v, want context.Canceled", err)
		}
	}
	<-dummyDone

	// A queued caller with patience gets the slot once it is released.
	done := make(chan error, 1)
	go func() {
		match, _, err := h.Verify(context.Background(), "pw", enc)
		if err == nil && !match {
			err = errors.New("no match")
		}
		done <- err
	}()
	<-h.sem
	if err := <-done; err != nil {
		t.Fatalf("Verify after release: %v", err)
	}

	// Many callers over a cap of 2 all finish and leave no slot taken.
	h2 := newHasher(t, cheapParams(), 2)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h2.Hash(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(h2.sem); n != 0 {
		t.Fatalf("%d slots still taken", n)
	}
}

func TestCancelledContextBeforeStart(t *testing.T) {
	// A free slot does not tempt a cancelled request into hashing.
	h := newHasher(t, cheapParams(), 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Hash with a cancelled context: %v", err)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, cheapParams(), 1)
	d, err := h.decode(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	if d.params != h.params {
		t.Fatalf("dummy params %+v, want the hasher's %+v", d.params, h.params)
	}
	for _, pw := range []string{"", "pw", strings.Repeat("x", 128)} {
		if match, _, err := h.Verify(context.Background(), pw, h.dummy); err != nil || match {
			t.Fatalf("dummy matched %q: %v, %v", pw, match, err)
		}
		h.VerifyDummy(context.Background(), pw)
	}
	if other := newHasher(t, cheapParams(), 1); other.dummy == h.dummy {
		t.Fatal("dummy hashes are not random per hasher")
	}
	if len(h.sem) != 0 {
		t.Fatal("VerifyDummy left a slot taken")
	}
}

// FuzzVerify feeds arbitrary stored hashes to Verify, which must answer
// with a result or an error and never panic. The hasher's limits are
// lowered so inputs that parse stay cheap to hash.
func FuzzVerify(f *testing.F) {
	for _, seed := range []string{
		"",
		"$argon2id$v=19$m=64,t=1,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$s8MkXTpePuBAluHXfKpdrQITwzbHnR9pBr4eXn1dtkk",
		"$argon2id$v=19$m=256,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$PktHOdUehWq28Um+wbRvxfK/vwYGGR71",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=16,t=1,p=2$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$$$$$",
		"$argon2id$v=19$m=64,t=1,p=1$$$",
		"$2b$10$abcdefghijklmnopqrstuu",
	} {
		f.Add(seed)
	}
	h := newHasher(f, cheapParams(), 2)
	h.maxMemoryKiB, h.maxIterations = 1024, 2
	f.Fuzz(func(t *testing.T, encoded string) {
		match, rehash, err := h.Verify(context.Background(), "pw", encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v is not ErrMalformedHash", err)
			}
			if match || rehash {
				t.Fatal("result alongside an error")
			}
			return
		}
		if rehash && !match {
			t.Fatal("rehash without a match")
		}
	})
}
