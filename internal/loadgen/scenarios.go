package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// viewOp posts views round-robin over ids, each request rendered once so
// the load generator spends its CPU on requests, not on formatting.
func (a *API) viewOp(ids []int64) NewOp {
	bodies := make([][]byte, len(ids))
	for i, id := range ids {
		bodies[i] = idBody(id)
	}
	return a.loadOp(http.MethodPost, "/api/movies/view", bodies)
}

// Views posts views of ids (POST /api/movies/view, 202 expected). With
// applyTimeout > 0 it then waits, up to that long, until the projection
// has counted every accepted view, and reports how fast views were
// applied end to end and whether the count is exact.
func (a *API) Views(ctx context.Context, cfg Config, ids []int64, applyTimeout time.Duration) (Summary, error) {
	if len(ids) == 0 {
		return Summary{}, errors.New("views: no movies")
	}
	return a.views(ctx, "views", cfg, ids, a.viewOp(ids), 1, applyTimeout)
}

// MaxIngestBatch is the most views POST /api/views takes at once
// (httpapi.MaxBatchViews).
const MaxIngestBatch = 1000

// Ingest posts batches of batch views (POST /api/views, as ingest
// clients and edge collectors do), round-robin over ids, and reports like
// Views, counting each 202 as batch views.
func (a *API) Ingest(ctx context.Context, cfg Config, ids []int64, batch int, applyTimeout time.Duration) (Summary, error) {
	if len(ids) == 0 {
		return Summary{}, errors.New("ingest: no movies")
	}
	if batch < 1 || batch > MaxIngestBatch {
		return Summary{}, fmt.Errorf("ingest: a batch of %d views; the API takes 1 to %d", batch, MaxIngestBatch)
	}
	// Bodies rendered once, as for views: one per starting movie.
	bodies := make([][]byte, len(ids))
	for i := range ids {
		var b strings.Builder
		b.WriteString(`{"views":[`)
		for k := range batch {
			if k > 0 {
				b.WriteByte(',')
			}
			b.Write(idBody(ids[(i+k)%len(ids)]))
		}
		b.WriteString(`]}`)
		bodies[i] = []byte(b.String())
	}
	return a.views(ctx, "ingest", cfg, ids, a.loadOp(http.MethodPost, "/api/views", bodies), batch, applyTimeout)
}

// views runs the ops of newOp, each success standing for perRequest
// views, and with applyTimeout > 0 waits for the projection to count them.
func (a *API) views(ctx context.Context, scenario string, cfg Config, ids []int64, newOp NewOp, perRequest int, applyTimeout time.Duration) (Summary, error) {
	cfg.Expect = http.StatusAccepted
	var before int64
	if applyTimeout > 0 {
		var err error
		if before, err = a.TotalViews(ctx); err != nil {
			return Summary{}, fmt.Errorf("count views before the load: %w", err)
		}
	}
	res, err := RunWorkers(ctx, cfg, newOp)
	s := res.Summary(a.summary(scenario, cfg, len(ids)))
	s.ViewsPerRequest = perRequest
	if err != nil || applyTimeout <= 0 {
		return s, err
	}
	s.Applied, err = a.awaitApplied(ctx, before, res, int64(perRequest), applyTimeout)
	return s, err
}

func (a *API) summary(scenario string, cfg Config, movies int) Summary {
	return Summary{Scenario: scenario, Target: a.base, Connections: cfg.Connections, Movies: movies, TargetRate: cfg.Rate}
}

// Applied is how the projection caught up with a views load.
type Applied struct {
	// Accepted is the number of 202s; Counted what the projection's total
	// grew by (read once more a second after it first reached Accepted,
	// so a late double count would show).
	Accepted int64 `json:"accepted"`
	Counted  int64 `json:"counted"`
	// Unknown is the requests whose outcome the client never learned
	// (transport errors): each may or may not have been committed.
	Unknown int64 `json:"unknown"`
	// Exact: Counted == Accepted (or within Unknown above it).
	Exact bool `json:"exact"`
	// Reached: the count reached Accepted within the timeout.
	Reached bool `json:"reached"`
	// DuringLoad is what had been counted when the load ended.
	DuringLoad int64 `json:"counted_during_load"`
	// LoadSeconds is the load's duration; DrainSeconds the time from its
	// end until the projection had counted every accepted view.
	LoadSeconds  float64 `json:"load_seconds"`
	DrainSeconds float64 `json:"drain_seconds"`
	// PerSecond is Accepted over LoadSeconds+DrainSeconds: views applied
	// to the projection per second, end to end.
	PerSecond float64 `json:"per_second"`
	// DuringLoadPerSecond is DuringLoad over LoadSeconds.
	DuringLoadPerSecond float64 `json:"during_load_per_second"`
}

func (ap *Applied) String() string {
	verdict := "exact"
	switch {
	case !ap.Reached:
		verdict = "NOT REACHED"
	case !ap.Exact:
		verdict = fmt.Sprintf("NOT EXACT (%+d)", ap.Counted-ap.Accepted)
	}
	return fmt.Sprintf("%d of %d accepted views counted (%s): %.0f views/s end to end (%.1fs load + %.1fs drain; %.0f/s while loading)",
		ap.Counted, ap.Accepted, verdict, ap.PerSecond, ap.LoadSeconds, ap.DrainSeconds, ap.DuringLoadPerSecond)
}

// appliedPoll is how often the projection's total is read while
// draining: a quarter second is precise enough for drains of many
// seconds, and rare enough not to slow the drain down (each read lists
// every movie: about 10 ms of the API's time for 1,000 movies).
const appliedPoll = 250 * time.Millisecond

func (a *API) awaitApplied(ctx context.Context, before int64, res Result, perRequest int64, timeout time.Duration) (*Applied, error) {
	loadEnd := time.Now()
	ap := &Applied{Accepted: res.Succeeded * perRequest, LoadSeconds: res.Elapsed.Seconds()}
	for k, n := range res.Errors {
		if strings.HasPrefix(k, "transport: ") {
			ap.Unknown += n * perRequest
		}
	}
	total, err := a.TotalViews(ctx)
	if err != nil {
		return nil, err
	}
	ap.DuringLoad = total - before
	ap.DuringLoadPerSecond = float64(ap.DuringLoad) / max(ap.LoadSeconds, 1e-9)
	deadline := loadEnd.Add(timeout)
	for total-before < ap.Accepted && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ap, ctx.Err()
		case <-time.After(appliedPoll):
		}
		if total, err = a.TotalViews(ctx); err != nil {
			return ap, err
		}
	}
	ap.DrainSeconds = time.Since(loadEnd).Seconds()
	ap.Reached = total-before >= ap.Accepted
	if ap.Reached {
		ap.PerSecond = float64(ap.Accepted) / (ap.LoadSeconds + ap.DrainSeconds)
		// Anything still in flight (a redelivery counted twice) lands now.
		select {
		case <-ctx.Done():
			return ap, ctx.Err()
		case <-time.After(time.Second):
		}
		if total, err = a.TotalViews(ctx); err != nil {
			return ap, err
		}
	}
	ap.Counted = total - before
	ap.Exact = ap.Counted >= ap.Accepted && ap.Counted <= ap.Accepted+ap.Unknown
	return ap, nil
}

// Reads lists the top movies (GET /api/movies?limit=50, 200 expected).
// With gzip it asks for gzipped pages (Accept-Encoding: gzip), as
// browsers do.
func (a *API) Reads(ctx context.Context, cfg Config, limit int, gzip bool) (Summary, error) {
	cfg.Expect = http.StatusOK
	var hdr []header
	if gzip {
		hdr = append(hdr, acceptGzip)
	}
	res, err := RunWorkers(ctx, cfg, a.loadOp(http.MethodGet, fmt.Sprintf("/api/movies?limit=%d", limit), nil, hdr...))
	return res.Summary(a.summary("reads", cfg, 0)), err
}

// FreshnessOptions tune the freshness probes.
type FreshnessOptions struct {
	// Probes is how many movies carry probe views (default 16); they are
	// taken from the end of the ids and get no other views.
	Probes int
	// PollInterval is how often a probe reads its movie (default 25ms).
	PollInterval time.Duration
	// Grace is how long after the load a probe view may take to appear
	// before it counts as missing (default 10s).
	Grace time.Duration
}

func (o *FreshnessOptions) defaults() {
	if o.Probes <= 0 {
		o.Probes = 16
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 25 * time.Millisecond
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
}

// Freshness is how long accepted views took to become visible.
type Freshness struct {
	Probes         int     `json:"probes"`
	PollIntervalMS float64 `json:"poll_interval_ms"`
	// Missing is probe views that were accepted but not visible within
	// the grace period after the load.
	Missing int64 `json:"missing"`
	// ProbeErrors is probe requests that failed (not counted in Latency).
	ProbeErrors int64 `json:"probe_errors"`
	// Overcounted is views the probe movies counted beyond their probe
	// views: a probe saw its movie's count grow by more than its one view
	// in flight. Each is a double count (or a failed view recorded after
	// all), and the sample it ended was timed short.
	Overcounted int64 `json:"overcounted"`
	// Latency is from the 202 of a probe view to the first read of its
	// movie that counts it: an upper bound, by up to one poll interval
	// and one read's latency.
	Latency Latency `json:"latency"`
	// PerView is the same samples, each weighted by the time its probe
	// spent on it (from sending the view to seeing it). A probe sends its
	// next view only once the last is visible, so a slow spell yields
	// fewer samples than a fast one of the same length, and Latency's
	// quantiles under-represent it; weighted, they estimate the latency of
	// a view sent at any moment of the load. Its Count is the samples'.
	PerView Latency `json:"latency_per_view"`
}

// Freshness sends views of ids at cfg.Rate (cfg.Rate must be set) and
// meanwhile measures, exactly, how long a view takes from its 202 to
// GET /api/movies/{id}: each probe movie has one view in flight at a
// time, so its count going from c to c+1 is that view and nothing else.
// Polling every movie of the load instead would cost as many reads as
// there are views.
func (a *API) Freshness(ctx context.Context, cfg Config, ids []int64, fo FreshnessOptions) (Summary, error) {
	fo.defaults()
	if cfg.Rate <= 0 {
		return Summary{}, errors.New("freshness needs a fixed rate")
	}
	if len(ids) < fo.Probes+1 {
		return Summary{}, fmt.Errorf("freshness needs more movies than its %d probes, got %d", fo.Probes, len(ids))
	}
	load, probes := ids[:len(ids)-fo.Probes], ids[len(ids)-fo.Probes:]
	cfg.Expect = http.StatusAccepted
	p := &prober{api: a, o: fo, hist: NewHistogram(), stop: make(chan struct{})}
	var wg sync.WaitGroup
	for _, id := range probes {
		wg.Go(func() { p.run(ctx, id) })
	}
	res, err := RunWorkers(ctx, cfg, a.viewOp(load))
	p.stopAt(time.Now())
	wg.Wait()
	s := res.Summary(a.summary("freshness", cfg, len(load)))
	s.Freshness = &Freshness{Probes: fo.Probes, PollIntervalMS: ms(fo.PollInterval),
		Missing: p.missing.Load(), ProbeErrors: p.errors.Load(), Overcounted: p.overcounted.Load(),
		Latency: p.hist.Summary(), PerView: weightedLatency(p.samples)}
	return s, err
}

// prober runs the probe movies of one freshness run.
type prober struct {
	api         *API
	o           FreshnessOptions
	hist        *Histogram
	missing     atomic.Int64
	errors      atomic.Int64
	overcounted atomic.Int64
	stop        chan struct{}
	stopped     atomic.Int64 // when the load ended, in Unix nanoseconds

	mu      sync.Mutex
	samples []weighted // for PerView
}

// weighted is a latency and the time it stands for.
type weighted struct{ latency, weight time.Duration }

// weightedLatency is the quantiles of samples, each counted in proportion
// to its weight.
func weightedLatency(samples []weighted) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	sorted := slices.SortedFunc(slices.Values(samples), func(a, b weighted) int { return cmp.Compare(a.latency, b.latency) })
	var total, sum float64
	for _, s := range sorted {
		total += float64(s.weight)
		sum += float64(s.latency) * float64(s.weight)
	}
	quantile := func(q float64) time.Duration {
		var cum float64
		for _, s := range sorted {
			if cum += float64(s.weight); cum >= q*total {
				return s.latency
			}
		}
		return sorted[len(sorted)-1].latency
	}
	return Latency{Count: int64(len(sorted)), Mean: ms(time.Duration(sum / total)),
		P50: ms(quantile(0.50)), P90: ms(quantile(0.90)), P99: ms(quantile(0.99)), Max: ms(sorted[len(sorted)-1].latency)}
}

func (p *prober) stopAt(t time.Time) {
	p.stopped.Store(t.UnixNano())
	close(p.stop)
}

// run sends one view of movie id at a time until the load ends, and
// times each until the movie's count includes it.
func (p *prober) run(ctx context.Context, id int64) {
	m, err := p.api.Movie(ctx, id)
	if err != nil {
		p.errors.Add(1)
		return
	}
	count := m.InternalViewsCount
	for {
		select {
		case <-p.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		sent := time.Now()
		status, err := p.api.View(ctx, id)
		if err != nil || status != http.StatusAccepted {
			// The view may have been recorded all the same (an answer lost
			// after the commit); the next probe view would then be seen
			// early, as soon as this one is counted. This probe stops.
			p.errors.Add(1)
			return
		}
		accepted := time.Now()
		seen, ok := p.await(ctx, id, count+1)
		if !ok {
			p.missing.Add(1)
			return
		}
		latency := time.Since(accepted)
		if seen > count+1 {
			p.overcounted.Add(seen - count - 1)
		}
		p.hist.Record(latency)
		p.mu.Lock()
		p.samples = append(p.samples, weighted{latency: latency, weight: time.Since(sent)})
		p.mu.Unlock()
		count = seen
	}
}

// await polls movie id until it counts want views; false once the grace
// period after the load has passed without it.
func (p *prober) await(ctx context.Context, id, want int64) (int64, bool) {
	for {
		p.sleep(ctx)
		if ctx.Err() != nil {
			return 0, false
		}
		if m, err := p.api.Movie(ctx, id); err == nil && m.InternalViewsCount >= want {
			return m.InternalViewsCount, true
		}
		if at := p.stopped.Load(); at != 0 && time.Since(time.Unix(0, at)) > p.o.Grace {
			return 0, false
		}
	}
}

func (p *prober) sleep(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(p.o.PollInterval):
	}
}
