package password

import (
	"context"
	"testing"
)

// The benchmarks run at the real cost, DefaultParams, one hash at a time.

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, DefaultParams(), 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newHasher(b, DefaultParams(), 1)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if match, _, err := h.Verify(ctx, "correct horse battery staple", enc); err != nil || !match {
			b.Fatal(match, err)
		}
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	h := newHasher(b, DefaultParams(), 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.VerifyDummy(ctx, "correct horse battery staple")
	}
}
