package token

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain/auth"
)

func BenchmarkIssue(b *testing.B) {
	now := testNow()
	s := newStoreService(b, testConfig(), &memStore{}, now)
	c := sampleClaims(now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	now := testNow()
	s := newStoreService(b, testConfig(), &memStore{}, now)
	raw, err := s.Issue(sampleClaims(now))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRejectUnknownKID measures the cost of refusing a
// well-formed token before any cryptography, the cheap end of a flood.
func BenchmarkVerifyRejectUnknownKID(b *testing.B) {
	now := testNow()
	s := newStoreService(b, testConfig(), &memStore{}, now)
	other := newStoreService(b, testConfig(), &memStore{}, now)
	raw, err := other.Issue(sampleClaims(now))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(raw); err == nil {
			b.Fatal("accepted")
		}
	}
}

// FuzzVerify feeds arbitrary strings to Verify, which must refuse them
// with one of the two sentinels and never panic. The seeds include a
// valid token, so mutations explore near-valid inputs too.
func FuzzVerify(f *testing.F) {
	now := testNow()
	s := newStoreService(f, testConfig(), &memStore{}, now)
	good, err := s.Issue(sampleClaims(now))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good + "."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := s.Verify(raw)
		if err == nil {
			if raw != good {
				t.Fatalf("accepted a token we did not issue: %q", raw)
			}
			if c.Subject == "" || c.SessionID == "" {
				t.Fatalf("accepted with empty claims: %+v", c)
			}
			return
		}
		if !errors.Is(err, auth.ErrTokenInvalid) && !errors.Is(err, auth.ErrTokenExpired) {
			t.Fatalf("error %v is neither sentinel", err)
		}
	})
}
