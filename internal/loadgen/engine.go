package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Op sends request number seq and returns the HTTP status of the answer
// (0 with an error when none came).
type Op func(ctx context.Context, seq int64) (status int, err error)

// NewOp makes the Op of one worker and the func that ends it (done). A
// worker calls its Op one request at a time from one goroutine, so the Op
// may own a connection without locks or a pool.
type NewOp func() (op Op, done func())

// Config bounds and paces one run.
type Config struct {
	// Connections is how many requests may be in flight: one keep-alive
	// connection each.
	Connections int
	// Duration stops the run after this long; Requests after this many
	// requests. At least one must be set; the first reached ends the run.
	Duration time.Duration
	Requests int64
	// Rate, if set, sends this many requests a second in total whatever
	// the answers' latency (open loop); otherwise each connection sends
	// its next request as soon as the previous one is answered.
	Rate float64
	// Expect is the status that counts as success.
	Expect int
	// OnProgress, if set, is called about every ProgressEvery (default
	// 250ms) while the run goes, and once at its end.
	OnProgress    func(Progress)
	ProgressEvery time.Duration
}

// Progress is a run's state while it goes.
type Progress struct {
	Elapsed   time.Duration
	Done      int64
	Succeeded int64
	// Duration and Requests are the run's bounds, for progress bars.
	Duration time.Duration
	Requests int64
}

// Result is what one run measured.
type Result struct {
	Elapsed   time.Duration
	Requests  int64
	Succeeded int64
	Latency   *Histogram
	Errors    map[string]int64
	// CPU is the CPU time this process used during the run.
	CPU time.Duration
}

// Summary fills the measured part of a scenario's summary.
func (r Result) Summary(s Summary) Summary {
	s.Seconds = r.Elapsed.Seconds()
	s.Requests, s.Succeeded = r.Requests, r.Succeeded
	if sec := r.Elapsed.Seconds(); sec > 0 {
		s.RequestsPerSecond = float64(r.Requests) / sec
		s.SucceededPerSecond = float64(r.Succeeded) / sec
	}
	if r.Latency != nil { // nil when the run never started
		s.Latency = r.Latency.Summary()
	}
	s.Errors = r.Errors
	s.LoadCPUSeconds = r.CPU.Seconds()
	return s
}

// run is the shared state of one Run.
type run struct {
	cfg       Config
	start     time.Time
	next      atomic.Int64 // the next request's sequence number
	done      atomic.Int64
	succeeded atomic.Int64
	hist      *Histogram
	mu        sync.Mutex
	errs      map[string]int64
}

// Run sends requests with op, shared by every worker, until the duration
// or count bound of cfg is reached or ctx ends. Requests in flight at the
// bound are awaited, not cancelled: a cancelled POST would count as an
// error the server never made.
func Run(ctx context.Context, cfg Config, op Op) (Result, error) {
	return RunWorkers(ctx, cfg, func() (Op, func()) { return op, func() {} })
}

// RunWorkers is Run with an Op of its own for each of the cfg.Connections
// workers, made by newOp, each ended when its worker is.
func RunWorkers(ctx context.Context, cfg Config, newOp NewOp) (Result, error) {
	if cfg.Connections <= 0 {
		return Result{}, errors.New("connections must be at least 1")
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return Result{}, errors.New("set a duration or a number of requests")
	}
	if cfg.Rate < 0 {
		return Result{}, errors.New("rate must not be negative")
	}
	r := &run{cfg: cfg, hist: NewHistogram(), errs: map[string]int64{}}
	cpu0 := processCPU()
	r.start = time.Now()
	stopProgress := r.reportProgress()
	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		due := make(chan dueRequest, cfg.Connections)
		for range cfg.Connections {
			op, done := newOp()
			wg.Go(func() { defer done(); r.openLoopWorker(ctx, op, due) })
		}
		r.dispatch(ctx, due)
		close(due)
	} else {
		for range cfg.Connections {
			op, done := newOp()
			wg.Go(func() { defer done(); r.closedLoopWorker(ctx, op) })
		}
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	stopProgress()
	res := Result{Elapsed: elapsed, Requests: r.done.Load(), Succeeded: r.succeeded.Load(),
		Latency: r.hist, Errors: r.errs, CPU: processCPU() - cpu0}
	return res, ctx.Err()
}

// claim reserves the next sequence number, or reports that a bound was
// reached. A fixed-rate run bounds its duration by due times instead
// (dispatch), so requests that fell behind are still sent.
func (r *run) claim(ctx context.Context) (int64, bool) {
	overtime := r.cfg.Rate == 0 && r.cfg.Duration > 0 && time.Since(r.start) >= r.cfg.Duration
	if ctx.Err() != nil || overtime {
		return 0, false
	}
	seq := r.next.Add(1) - 1
	if r.cfg.Requests > 0 && seq >= r.cfg.Requests {
		return 0, false
	}
	return seq, true
}

func (r *run) closedLoopWorker(ctx context.Context, op Op) {
	for {
		seq, ok := r.claim(ctx)
		if !ok {
			return
		}
		r.do(ctx, op, seq, time.Now())
	}
}

// dueRequest is a request of a fixed-rate run and when it is due.
type dueRequest struct {
	seq int64
	at  time.Time
}

// dispatch hands out requests at the configured rate until a bound is
// reached. When every connection is busy it blocks, and the late requests
// keep their due time, so the wait shows in their latency.
func (r *run) dispatch(ctx context.Context, due chan<- dueRequest) {
	interval := float64(time.Second) / r.cfg.Rate
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		seq, ok := r.claim(ctx)
		if !ok {
			return
		}
		offset := time.Duration(float64(seq) * interval)
		if r.cfg.Duration > 0 && offset >= r.cfg.Duration {
			return
		}
		at := r.start.Add(offset)
		if wait := time.Until(at); wait > 0 {
			// Timers are coarse (tens of microseconds or more); requests
			// that became due meanwhile go out back to back, which keeps
			// the average rate.
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case due <- dueRequest{seq, at}:
		case <-ctx.Done():
			return
		}
	}
}

func (r *run) openLoopWorker(ctx context.Context, op Op, due <-chan dueRequest) {
	for d := range due {
		if ctx.Err() != nil {
			continue // interrupted: what is left in the queue was never sent
		}
		r.do(ctx, op, d.seq, d.at)
	}
}

// do runs one request and records its outcome, timed from start. A
// request cut short by the run's own end (Ctrl-C) has no outcome: counted
// as an error with its latency, it would blame the server for the
// interruption.
func (r *run) do(ctx context.Context, op Op, seq int64, start time.Time) {
	status, err := op(ctx, seq)
	if err != nil && ctx.Err() != nil {
		return
	}
	r.hist.Record(time.Since(start))
	r.done.Add(1)
	if err == nil && status == r.cfg.Expect {
		r.succeeded.Add(1)
		return
	}
	key := strconv.Itoa(status)
	if err != nil {
		key = "transport: " + errorKind(err)
	}
	r.mu.Lock()
	r.errs[key]++
	r.mu.Unlock()
}

// reportProgress calls OnProgress periodically; the returned func stops
// it after a last call.
func (r *run) reportProgress() func() {
	if r.cfg.OnProgress == nil {
		return func() {}
	}
	every := r.cfg.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.cfg.OnProgress(r.progress())
			case <-stop:
				r.cfg.OnProgress(r.progress())
				return
			}
		}
	}()
	return func() { close(stop); <-stopped }
}

func (r *run) progress() Progress {
	return Progress{Elapsed: time.Since(r.start), Done: r.done.Load(), Succeeded: r.succeeded.Load(),
		Duration: r.cfg.Duration, Requests: r.cfg.Requests}
}

// errorKind names a transport error briefly enough to count by.
func errorKind(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "out of local ports"
	case errors.Is(err, errMalformed):
		return "malformed response"
	default:
		return "other"
	}
}

// NewHTTPClient returns a client that keeps exactly connections
// keep-alive connections to one server: every idle connection is kept
// (the default keeps 2 per host, so a load generator would otherwise
// open and close connections all the time and measure TCP handshakes),
// and no more are opened, so the connection count is what was asked for.
func NewHTTPClient(connections int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // a load test measures the server, never a proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        connections,
		MaxIdleConnsPerHost: connections,
		MaxConnsPerHost:     connections,
		IdleConnTimeout:     90 * time.Second,
		// The API does not compress; asking would only add work here.
		DisableCompression: true,
		ReadBufferSize:     readBufferSize,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// send does req and reads the answer to its end, so the connection is
// reused, and returns its status.
func send(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}
