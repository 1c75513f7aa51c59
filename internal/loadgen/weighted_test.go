package loadgen

import (
	"testing"
	"time"
)

// A probe sends its next view only once the last is visible, so a slow
// spell yields few samples: 98 s at 0.45 s a view and 2 s at 1.3 s give
// 218 fast samples and 2 slow ones. Counted as they come, the p99 is the
// fast spell's; weighted by the time each stood for, it is the slow one's,
// as for views sent at any moment.
func TestPerViewLatencyWeighsSamplesByTheirTime(t *testing.T) {
	fast, slow := 450*time.Millisecond, 1300*time.Millisecond
	h := NewHistogram()
	var samples []weighted
	for range 218 {
		h.Record(fast)
		samples = append(samples, weighted{latency: fast, weight: fast})
	}
	for range 2 {
		h.Record(slow)
		samples = append(samples, weighted{latency: slow, weight: slow})
	}
	if p99 := h.Summary().P99; p99 > 451 {
		t.Fatalf("unweighted p99 %.0f ms: the example should show the bias (want the fast 450)", p99)
	}
	got := weightedLatency(samples)
	if got.P99 != 1300 || got.P50 != 450 || got.Max != 1300 || got.Count != 220 {
		t.Errorf("per view: %+v, want p50 450, p99 1300, max 1300 ms, 220 samples", got)
	}
	if (weightedLatency(nil) != Latency{}) {
		t.Error("no samples: want the zero Latency")
	}
}
