package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistBucketsCoverEveryValue(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, math.MaxInt64}
	for range 10000 {
		values = append(values, r.Uint64N(math.MaxInt64))
		values = append(values, r.Uint64N(1<<uint(r.IntN(62)+1)))
	}
	for _, v := range values {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		lo, hi := histBounds(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if v >= 64 && float64(hi-lo+1)/float64(lo) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/%d of its lower bound", i, lo, hi, histSub)
		}
	}
	// Consecutive buckets tile the line without gaps or overlaps.
	for i := 1; i < histBuckets; i++ {
		_, prevHi := histBounds(i - 1)
		lo, _ := histBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistogramQuantilesMatchExactWithinBucketError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h Histogram
	var exact []float64
	for range 50000 {
		// Log-normal-ish latencies from 50 µs to a few hundred ms.
		d := time.Duration(math.Exp(r.NormFloat64()*1.2+math.Log(2e6))) + 50*time.Microsecond
		h.Record(d)
		exact = append(exact, float64(d))
	}
	slices.Sort(exact)
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		got := float64(h.Quantile(q))
		want := percentile(exact, q*100)
		if rel := math.Abs(got-want) / want; rel > 1.0/histSub {
			t.Errorf("q%.3f = %v, exact %v: relative error %.4f > 1/%d", q, time.Duration(got), time.Duration(want), rel, histSub)
		}
	}
	if h.Count() != 50000 {
		t.Errorf("Count = %d", h.Count())
	}
	if got, want := h.Min(), time.Duration(exact[0]); got != want {
		t.Errorf("Min = %v, want %v", got, want)
	}
	if got, want := h.Max(), time.Duration(exact[len(exact)-1]); got != want {
		t.Errorf("Max = %v, want %v", got, want)
	}
}

func TestHistogramSmallAndEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram is not all zeros")
	}
	h.Record(-5) // counts as zero
	h.Record(10 * time.Millisecond)
	h.Record(20 * time.Millisecond)
	h.Record(30 * time.Millisecond)
	if got := h.Quantile(0); got != 0 {
		t.Errorf("q0 = %v, want the (clamped) minimum 0", got)
	}
	if got := h.Quantile(1); got != 30*time.Millisecond {
		t.Errorf("q1 = %v, want the exact max 30ms", got)
	}
	if got := h.Quantile(0.5); math.Abs(float64(got-10*time.Millisecond)) > float64(10*time.Millisecond)/histSub {
		t.Errorf("q0.5 = %v, want ~10ms (nearest rank 2 of 4)", got)
	}
	if got := h.Mean(); got != 15*time.Millisecond {
		t.Errorf("Mean = %v, want 15ms", got)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var empty Histogram
	a.Merge(&empty)
	a.Merge(&b)
	if a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() || a.Mean() != all.Mean() {
		t.Fatalf("merged %d/%v/%v/%v, want %d/%v/%v/%v", a.Count(), a.Min(), a.Max(), a.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, direct %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	var c Histogram
	c.Merge(&b) // into empty: min must come from b, not from the zero value
	if c.Min() != b.Min() {
		t.Errorf("Min after merge into empty = %v, want %v", c.Min(), b.Min())
	}
}

func TestPercentileAndMedian(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		p, want float64
	}{{0, 1}, {10, 1}, {50, 5}, {51, 6}, {99, 10}, {100, 10}, {-1, 1}, {200, 10}}
	for _, c := range cases {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 || median(nil) != 0 {
		t.Error("empty input should give 0")
	}
	if got := median([]float64{1, 2, 10}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{1, 2, 4, 10}); got != 3 {
		t.Errorf("median even = %v", got)
	}
}
