package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: log-linear buckets. Values below 2*histSub nanoseconds
// get a bucket each; above that, every power of two is split into histSub
// equal sub-buckets, so a bucket's width is at most 1/histSub of its lower
// bound and a percentile read from it is off by at most ~3 %.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	// histBuckets covers every non-negative int64: the largest value has
	// bit length 63, so shift 63-histSubBits-1 and index shift*histSub+63.
	histBuckets = (64 - histSubBits) * histSub
)

// Histogram records latencies in fixed memory (about 15 KiB) whatever the
// number of samples. The zero value is empty and ready to use. It is not
// safe for concurrent use: each load worker keeps its own and they are
// merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

// histIndex is the bucket of v nanoseconds.
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return shift*histSub + int(v>>uint(shift))
}

// histBounds returns the smallest and largest value of bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	m := uint64(i%histSub + histSub)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one latency; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of recorded samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest sample (exact), 0 when empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest sample (exact), 0 when empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the arithmetic mean (exact), 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the nearest-rank q-quantile (q in [0, 1]): the value
// of the sample at rank ceil(q*n), read as the midpoint of its bucket and
// clamped to the exact min and max. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum < rank {
			continue
		}
		lo, hi := histBounds(i)
		v := time.Duration(lo + (hi-lo)/2)
		return min(max(v, h.min), h.max)
	}
	return h.max
}

// percentile is the nearest-rank p-th percentile (p in [0, 100]) of an
// ascending slice, exact; 0 for an empty slice. It serves small sample
// sets (RSS samples, per-round ratios) where a histogram is not needed.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	p = math.Max(0, math.Min(100, p))
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// median is the middle of an ascending slice (the mean of the two middle
// values for an even length); 0 for an empty slice.
func median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	default:
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}
}
