package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, like HdrHistogram: values below 2^subBits
// nanoseconds have a bucket each; above that, every power of two is split
// into 2^(subBits-1) equal buckets. A quantile is reported as the top of
// its bucket, so it is never below the true value and at most 1/512
// (0.2%) above it: 25 ms reads as at most 25.05 ms.
const (
	subBits  = 10
	subCount = 1 << subBits // exact buckets below 2^subBits ns
	subHalf  = subCount / 2 // buckets per power of two above
	maxBits  = 42           // values up to 2^42 ns (73 minutes)
	nBuckets = subCount + (maxBits-subBits)*subHalf
)

// Histogram records latencies. It is safe for concurrent use and needs no
// lock: the rates a load generator records (tens of thousands a second)
// are far below where atomic adds on shared counters contend.
type Histogram struct {
	counts [nBuckets]atomic.Int64
	n      atomic.Int64
	sum    atomic.Int64
	max    atomic.Int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

// bucketOf maps a value in nanoseconds to its bucket.
func bucketOf(v int64) int {
	if v < subCount {
		return int(max(v, 0))
	}
	if v >= 1<<maxBits {
		return nBuckets - 1
	}
	shift := bits.Len64(uint64(v)) - subBits // >= 1
	sub := int(v >> shift)                   // in [subHalf, subCount)
	return subCount + (shift-1)*subHalf + sub - subHalf
}

// bucketTop is the highest value bucket i holds.
func bucketTop(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i-subCount)/subHalf + 1
	sub := int64((i-subCount)%subHalf + subHalf)
	return (sub+1)<<shift - 1
}

// Record adds one value.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean is the average recorded value.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value at quantile q (0.99 for p99): the smallest
// recorded value such that a fraction q of all values are at or below it,
// rounded up to its bucket's top (never above the maximum).
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketTop(i), h.max.Load()))
		}
	}
	return h.Max()
}

// Summary is the histogram's count, mean, p50, p90, p99 and max.
func (h *Histogram) Summary() Latency {
	return Latency{
		Count: h.Count(),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		Max:   ms(h.Max()),
	}
}

// ms is d in milliseconds, the unit every summary uses.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
