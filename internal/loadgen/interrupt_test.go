package loadgen

import (
	"context"
	"testing"
	"time"
)

// TestInterruptedRequestsAreNotErrors: requests cut short by the run's own
// cancellation (Ctrl-C), and those still queued in a fixed-rate run, are
// neither errors nor latencies; only what the server answered is.
func TestInterruptedRequestsAreNotErrors(t *testing.T) {
	for _, rate := range []float64{0, 5000} {
		ctx, cancel := context.WithCancel(context.Background())
		op := func(ctx context.Context, seq int64) (int, error) {
			if seq == 200 {
				cancel()
			}
			if seq >= 200 {
				<-ctx.Done() // in flight when the run is interrupted
				return 0, ctx.Err()
			}
			return 202, nil
		}
		res, err := Run(ctx, Config{Connections: 8, Duration: time.Hour, Rate: rate, Expect: 202}, op)
		if err == nil {
			t.Errorf("rate %v: err nil, want the run's cancellation", rate)
		}
		if len(res.Errors) != 0 || res.Requests != res.Succeeded || res.Latency.Count() != res.Requests {
			t.Errorf("rate %v: %d requests, %d succeeded, %d latencies, errors %v; want only the answered requests, no errors",
				rate, res.Requests, res.Succeeded, res.Latency.Count(), res.Errors)
		}
		// Closed loop, every request before the 200th was sent and answered;
		// at a fixed rate, those still queued behind busy connections when
		// the 200th cancelled the run were never sent.
		if want := int64(200); rate == 0 && res.Succeeded != want || rate > 0 && (res.Succeeded == 0 || res.Succeeded > want) {
			t.Errorf("rate %v: %d succeeded, want 200 closed loop, 1 to 200 at a fixed rate", rate, res.Succeeded)
		}
	}
}
