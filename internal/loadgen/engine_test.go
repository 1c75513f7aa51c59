package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

func TestRunClosedLoopKeepsItsConnections(t *testing.T) {
	f := newFakeAPI(t, nil)
	a := NewAPI(f.URL, 8)
	if _, err := a.Setup(context.Background(), ids(1, 10), SetupOptions{Connections: 4}); err != nil {
		t.Fatal(err)
	}
	conns0 := f.conns.Load()
	s, err := a.Views(context.Background(), Config{Connections: 8, Requests: 2000}, ids(1, 10), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 2000 || s.Succeeded != 2000 || len(s.Errors) != 0 {
		t.Fatalf("requests %d, succeeded %d, errors %v; want 2000, 2000, none", s.Requests, s.Succeeded, s.Errors)
	}
	if got := f.views.Load(); got != 2000 {
		t.Errorf("the server got %d views, want 2000", got)
	}
	for _, id := range ids(1, 10) {
		if acc, _ := f.counts(id); acc != 200 {
			t.Errorf("movie %d got %d views, want 200 (round robin)", id, acc)
		}
	}
	if p := f.peak.Load(); p > 8 {
		t.Errorf("%d requests were in flight at once, want at most 8", p)
	}
	// Keep-alive: no more connections than asked for, however many requests.
	if n := f.conns.Load() - conns0; n > 8 {
		t.Errorf("the load opened %d connections, want at most 8", n)
	}
	if s.Latency.Count != 2000 || s.Latency.P50 <= 0 || s.Latency.Max < s.Latency.P99 || s.Latency.P99 < s.Latency.P50 {
		t.Errorf("latency summary inconsistent: %+v", s.Latency)
	}
	if s.RequestsPerSecond <= 0 || s.Seconds <= 0 {
		t.Errorf("rate %v over %vs", s.RequestsPerSecond, s.Seconds)
	}
}

func TestRunDurationBound(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	c := NewHTTPClient(4, time.Second)
	op := func(ctx context.Context, _ int64) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return send(c, req)
	}
	res, err := Run(context.Background(), Config{Connections: 4, Duration: 300 * time.Millisecond, Expect: 200}, op)
	if err != nil {
		t.Fatal(err)
	}
	// A worker stops only once the duration is over, so the run cannot end
	// sooner; how much later it ends, and how many requests fit in, depends
	// on the machine and is not asserted.
	if res.Elapsed < 300*time.Millisecond {
		t.Errorf("elapsed %v, want at least the 300ms duration", res.Elapsed)
	}
	if res.Requests == 0 || res.Succeeded != res.Requests || hits.Load() != res.Requests {
		t.Errorf("%d requests, %d succeeded, %d at the server; want some, all succeeded and all seen by the server",
			res.Requests, res.Succeeded, hits.Load())
	}
}

func TestRunFixedRate(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := NewHTTPClient(8, time.Second)
	op := func(ctx context.Context, _ int64) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return send(c, req)
	}
	var last Progress
	res, err := Run(context.Background(), Config{Connections: 8, Rate: 400, Duration: time.Second, Expect: 200,
		OnProgress: func(p Progress) { last = p }, ProgressEvery: 50 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	// 400 a second for one second is 400 requests, spread over the second.
	if res.Requests != 400 || hits.Load() != 400 {
		t.Errorf("%d requests (%d at the server), want exactly 400", res.Requests, hits.Load())
	}
	// The last of them is due 399/400 s after the start: the run cannot end
	// sooner (how much later is up to the machine and is not asserted).
	if res.Elapsed < 997*time.Millisecond {
		t.Errorf("400 requests at 400/s took %v, want at least 997.5ms (the last one's due time)", res.Elapsed)
	}
	if last.Done != 400 || last.Succeeded != 400 || last.Duration != time.Second {
		t.Errorf("last progress %+v, want 400 done", last)
	}
}

// A server slower than the rate makes requests wait for a connection;
// their latency must include the wait (no coordinated omission).
func TestRunFixedRateCountsQueueing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(40 * time.Millisecond) }))
	defer srv.Close()
	c := NewHTTPClient(1, 5*time.Second)
	op := func(ctx context.Context, _ int64) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return send(c, req)
	}
	// 20 requests due within 400ms, served at most 25 a second: the last
	// one is due at 380ms and answered after about 800ms.
	res, err := Run(context.Background(), Config{Connections: 1, Rate: 50, Duration: 400 * time.Millisecond, Expect: 200}, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20 {
		t.Fatalf("%d requests, want 20", res.Requests)
	}
	if mx := res.Latency.Max(); mx < 300*time.Millisecond {
		t.Errorf("max latency %v: the queueing behind a 40ms server was not counted", mx)
	}
	if p50 := res.Latency.Quantile(0.5); p50 < 100*time.Millisecond {
		t.Errorf("p50 %v, want the wait included (well above the 40ms service time)", p50)
	}
}

func TestErrorsAreCountedByStatus(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.failEvery = 4 })
	a := NewAPI(f.URL, 4)
	if _, err := a.Setup(context.Background(), ids(1, 3), SetupOptions{Connections: 2}); err != nil {
		t.Fatal(err)
	}
	// Movie 99 is not registered: 404.
	s, err := a.Views(context.Background(), Config{Connections: 4, Requests: 400}, []int64{1, 2, 3, 99}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors["503"] != 100 {
		t.Errorf("503s: got %d, want 100 (every 4th): %v", s.Errors["503"], s.Errors)
	}
	if s.Errors["404"] == 0 || s.Succeeded+s.Errors["404"]+s.Errors["503"] != 400 {
		t.Errorf("succeeded %d, errors %v: want the 400 split between 202, 404 and 503", s.Succeeded, s.Errors)
	}
	if s.ErrorCount() != 400-s.Succeeded {
		t.Errorf("ErrorCount %d", s.ErrorCount())
	}
}

func TestTransportErrorsAreNamed(t *testing.T) {
	addr := testenv.UnusedAddr(t) // nothing listens there
	a := NewAPI("http://"+addr, 2)
	s, err := a.Views(context.Background(), Config{Connections: 2, Requests: 10}, []int64{1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors["transport: connection refused"] != 10 || s.Succeeded != 0 {
		t.Errorf("errors %v, succeeded %d; want 10 refused", s.Errors, s.Succeeded)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	op := func(context.Context, int64) (int, error) { return 200, nil }
	for _, cfg := range []Config{{Connections: 0, Requests: 1}, {Connections: 1}, {Connections: 1, Requests: 1, Rate: -1}} {
		if _, err := Run(context.Background(), cfg, op); err == nil {
			t.Errorf("config %+v: want an error", cfg)
		}
	}
	// A scenario passes the error on, with an empty summary.
	s, err := NewAPI("http://127.0.0.1:1", 1).Views(context.Background(), Config{Connections: 1}, []int64{1}, 0)
	if err == nil || s.Requests != 0 {
		t.Errorf("views with no bound: %+v, %v; want an error", s, err)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	op := func(ctx context.Context, seq int64) (int, error) {
		if seq == 100 {
			cancel()
		}
		return 200, nil
	}
	res, err := Run(ctx, Config{Connections: 2, Duration: time.Hour, Expect: 200}, op)
	if err == nil || res.Requests < 100 || res.Requests > 110 {
		t.Errorf("after cancel: %d requests, err %v; want about 100 and context.Canceled", res.Requests, err)
	}
}

// Each worker gets an Op of its own, called by one goroutine at a time
// (as a connection it owns needs), and ended before the run returns.
func TestRunWorkersGivesEachWorkerItsOwnOp(t *testing.T) {
	for _, rate := range []float64{0, 2000} {
		var made, ended, calls atomic.Int64
		newOp := func() (Op, func()) {
			made.Add(1)
			var inUse atomic.Bool
			op := func(context.Context, int64) (int, error) {
				if !inUse.CompareAndSwap(false, true) {
					t.Error("an Op was called by two goroutines at once")
				}
				defer inUse.Store(false)
				calls.Add(1)
				time.Sleep(100 * time.Microsecond)
				return 200, nil
			}
			return op, func() { ended.Add(1) }
		}
		res, err := RunWorkers(context.Background(), Config{Connections: 4, Requests: 400, Rate: rate, Expect: 200}, newOp)
		if err != nil || res.Succeeded != 400 || calls.Load() != 400 {
			t.Errorf("rate %v: %d of 400 succeeded, %d calls, %v", rate, res.Succeeded, calls.Load(), err)
		}
		if made.Load() != 4 || ended.Load() != 4 {
			t.Errorf("rate %v: %d ops made and %d ended, want 4 and 4", rate, made.Load(), ended.Load())
		}
	}
}
