package loadgen

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverValuesWithinPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := rng.Int64N(1 << maxBits)
		i := bucketOf(v)
		top := bucketTop(i)
		if top < v {
			t.Fatalf("value %d: bucket %d tops at %d, below the value", v, i, top)
		}
		if v >= subCount && float64(top-v) > float64(v)/subHalf {
			t.Fatalf("value %d: bucket top %d is more than 1/%d above", v, top, subHalf)
		}
	}
	for i := range nBuckets {
		if got := bucketOf(bucketTop(i)); got != i {
			t.Fatalf("bucketOf(bucketTop(%d)) = %d", i, got)
		}
	}
	if got := bucketOf(1 << 50); got != nBuckets-1 {
		t.Errorf("a value beyond the range: bucket %d, want the last (%d)", got, nBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	// 1..10,000 microseconds, recorded concurrently.
	for w := range 4 {
		wg.Go(func() {
			for v := w + 1; v <= 10_000; v += 4 {
				h.Record(time.Duration(v) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 10_000 {
		t.Fatalf("count %d, want 10000", h.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.9, 9000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got-c.want) > float64(c.want)/subHalf {
			t.Errorf("quantile %v: got %v, want %v (at most 0.2%% above)", c.q, got, c.want)
		}
	}
	if h.Max() != 10*time.Millisecond {
		t.Errorf("max %v, want exactly 10ms", h.Max())
	}
	if want := 5000500 * time.Nanosecond; h.Mean() != want {
		t.Errorf("mean %v, want %v", h.Mean(), want)
	}
	s := h.Summary()
	if s.Count != 10_000 || s.Max != 10 || s.P50 < 5 || s.P50 > 5.02 {
		t.Errorf("summary %+v", s)
	}
}

func TestHistogramSmallValuesAreExactAndEmptyIsZero(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("an empty histogram must report zeros")
	}
	for _, v := range []time.Duration{100, 200, 300} {
		h.Record(v)
	}
	if got := h.Quantile(0.5); got != 200 {
		t.Errorf("median of 100ns, 200ns, 300ns: got %v", got)
	}
	// The top of a wide bucket is clamped to the largest value recorded.
	h2 := NewHistogram()
	h2.Record(123_456_789)
	if got := h2.Quantile(0.99); got != 123_456_789 {
		t.Errorf("single value: p99 %d, want it exactly", got)
	}
}
