package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSetupRegistersAndWaitsUntilListed(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.listDelay = 300 * time.Millisecond })
	a := NewAPI(f.URL, 4)
	if _, err := a.Register(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := a.Setup(context.Background(), ids(1, 50), SetupOptions{Connections: 8, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Registered != 49 || res.Already != 1 {
		t.Errorf("registered %d, already %d; want 49 and 1", res.Registered, res.Already)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("Setup returned before the movies were listed")
	}
	if got := len(f.visible()); got != 50 {
		t.Errorf("%d movies listed after Setup, want 50", got)
	}
}

func TestSetupNamesMoviesThatNeverAppear(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.maxKnown = 10 })
	a := NewAPI(f.URL, 4)
	_, err := a.Setup(context.Background(), ids(9, 4), SetupOptions{Connections: 2, Timeout: 500 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "[11 12]") {
		t.Fatalf("got %v, want a timeout naming movies 11 and 12", err)
	}
}

func TestMoviesPagesThroughTheListing(t *testing.T) {
	f := newFakeAPI(t, nil)
	a := NewAPI(f.URL, 16)
	if _, err := a.Setup(context.Background(), ids(1, 1100), SetupOptions{Connections: 16, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	movies, err := a.Movies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(movies) != 1100 || movies[0].TMDBID != 1 || movies[1099].TMDBID != 1100 {
		t.Errorf("got %d movies, want 1..1100 over two pages", len(movies))
	}
	if n, err := a.Listed(context.Background()); err != nil || n != 1100 {
		t.Errorf("Listed: %d, %v", n, err)
	}
}

func TestViewsWaitUntilEveryAcceptedViewIsCounted(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.applyDelay = 300 * time.Millisecond })
	a := NewAPI(f.URL, 16)
	movies := ids(1, 20)
	if _, err := a.Setup(context.Background(), movies, SetupOptions{Connections: 4, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s, err := a.Views(context.Background(), Config{Connections: 16, Requests: 2000}, movies, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ap := s.Applied
	if ap == nil || !ap.Reached || !ap.Exact || ap.Accepted != 2000 || ap.Counted != 2000 {
		t.Fatalf("applied %+v, want 2000 of 2000, exact", ap)
	}
	// Views take 300ms to be applied: the last ones after the load ended.
	if ap.DrainSeconds < 0.2 || ap.DuringLoad >= 2000 {
		t.Errorf("drain %.2fs with %d counted during the load: the drain was not waited for", ap.DrainSeconds, ap.DuringLoad)
	}
	want := 2000 / (ap.LoadSeconds + ap.DrainSeconds)
	if ap.PerSecond < want*0.999 || ap.PerSecond > want*1.001 {
		t.Errorf("per second %.1f, want accepted over load plus drain (%.1f)", ap.PerSecond, want)
	}
	if !strings.Contains(ap.String(), "(exact)") {
		t.Errorf("String: %s", ap)
	}
}

func TestViewsReportADoubleCount(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.doubleEvery = 100 })
	a := NewAPI(f.URL, 4)
	if _, err := a.Setup(context.Background(), ids(1, 5), SetupOptions{Connections: 4, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s, err := a.Views(context.Background(), Config{Connections: 4, Requests: 500}, ids(1, 5), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ap := s.Applied; ap.Exact || ap.Counted != 505 || !strings.Contains(ap.String(), "NOT EXACT (+5)") {
		t.Errorf("applied %+v (%s): want 505 counted for 500 accepted, not exact", ap, ap)
	}
}

func TestFreshnessTimesProbeViewsExactly(t *testing.T) {
	const delay = 150 * time.Millisecond
	f := newFakeAPI(t, func(f *fakeAPI) { f.applyDelay = delay })
	a := NewAPI(f.URL, 8)
	movies := ids(1, 24)
	if _, err := a.Setup(context.Background(), movies, SetupOptions{Connections: 8, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	fo := FreshnessOptions{Probes: 4, PollInterval: 10 * time.Millisecond, Grace: 2 * time.Second}
	s, err := a.Freshness(context.Background(), Config{Connections: 8, Rate: 200, Duration: time.Second}, movies, fo)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 200 || s.Succeeded != 200 || s.Movies != 20 {
		t.Errorf("load: %d requests, %d succeeded over %d movies; want 200 over 20", s.Requests, s.Succeeded, s.Movies)
	}
	fr := s.Freshness
	if fr == nil || fr.Latency.Count < 8 || fr.Missing != 0 || fr.ProbeErrors != 0 {
		t.Fatalf("freshness %+v: want at least 8 samples, none missing", fr)
	}
	// Every probe view became visible exactly 150ms after it was accepted,
	// so no sample can be shorter; the measurement adds up to a poll
	// interval and a read, which depend on the machine and are not bounded
	// here (tests assert correctness, not speed).
	if fr.Latency.P50 < ms(delay) {
		t.Errorf("freshness p50 %.1fms, want at least the %v the fake takes to apply a view", fr.Latency.P50, delay)
	}
	if l := fr.Latency; l.P90 < l.P50 || l.P99 < l.P90 || l.Max < l.P99 || l.Mean < ms(delay) {
		t.Errorf("freshness summary inconsistent: %+v (every sample is at least %v)", l, delay)
	}
	if l := fr.PerView; l.Count != fr.Latency.Count || l.P50 < ms(delay) || l.P90 < l.P50 || l.P99 < l.P90 || l.Max < l.P99 {
		t.Errorf("per-view latency %+v: want the same %d samples, each at least %v", l, fr.Latency.Count, delay)
	}
	// The probe movies got their probe views only.
	for _, id := range movies[20:] {
		acc, _ := f.counts(id)
		if acc == 0 || acc > fr.Latency.Count {
			t.Errorf("probe movie %d got %d views (%d samples in all)", id, acc, fr.Latency.Count)
		}
	}
}

// A probe movie counting more than its probe views (a double count)
// is reported: the probe sees its count grow by more than the one view it
// has in flight.
func TestFreshnessReportsADoubleCount(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.applyDelay, f.doubleEvery = 50*time.Millisecond, 1 })
	a := NewAPI(f.URL, 8)
	movies := ids(1, 24)
	if _, err := a.Setup(context.Background(), movies, SetupOptions{Connections: 8, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	fo := FreshnessOptions{Probes: 4, PollInterval: 10 * time.Millisecond, Grace: 2 * time.Second}
	s, err := a.Freshness(context.Background(), Config{Connections: 8, Rate: 100, Duration: 500 * time.Millisecond}, movies, fo)
	if err != nil {
		t.Fatal(err)
	}
	if fr := s.Freshness; fr == nil || fr.Latency.Count == 0 || fr.Overcounted != fr.Latency.Count {
		t.Errorf("freshness %+v: every view counted twice, want each probe sample's extra view reported", fr)
	}
}

// TestAProbeStopsAtAFailedView: a probe view answered with an error may
// have been recorded all the same; the probe's next view would then be
// seen as soon as the first is counted, and timed short. The probe stops
// there instead, and the failure is reported.
func TestAProbeStopsAtAFailedView(t *testing.T) {
	const delay = 150 * time.Millisecond
	f := newFakeAPI(t, func(f *fakeAPI) { f.applyDelay, f.failCounted = delay, 7 })
	a := NewAPI(f.URL, 2)
	if _, err := a.Setup(context.Background(), []int64{7}, SetupOptions{Connections: 1, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	p := &prober{api: a, o: FreshnessOptions{PollInterval: 10 * time.Millisecond, Grace: time.Second}, hist: NewHistogram(), stop: make(chan struct{})}
	done := make(chan struct{})
	go func() { defer close(done); p.run(context.Background(), 7) }()
	time.Sleep(4 * delay)
	p.stopAt(time.Now())
	<-done
	if got := p.errors.Load(); got != 1 {
		t.Errorf("probe errors: got %d, want 1", got)
	}
	if l := p.hist.Summary(); l.Count != 0 {
		t.Errorf("%d probe views timed (p50 %.1fms) after the failed one, want none: the failed view was counted and would make the next look fast", l.Count, l.P50)
	}
}

func TestFreshnessNeedsARate(t *testing.T) {
	a := NewAPI("http://127.0.0.1:1", 1)
	if _, err := a.Freshness(context.Background(), Config{Connections: 1, Duration: time.Second}, ids(1, 40), FreshnessOptions{}); err == nil {
		t.Error("want an error without a rate")
	}
}

func TestReads(t *testing.T) {
	f := newFakeAPI(t, nil)
	a := NewAPI(f.URL, 4)
	if _, err := a.Setup(context.Background(), ids(1, 80), SetupOptions{Connections: 4, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for _, gzip := range []bool{true, false} {
		s, err := a.Reads(context.Background(), Config{Connections: 4, Requests: 300}, 50, gzip)
		if err != nil {
			t.Fatal(err)
		}
		if s.Succeeded != 300 || s.Scenario != "reads" {
			t.Errorf("%s: %d of 300 succeeded (%v)", s.Scenario, s.Succeeded, s.Errors)
		}
		if q, _ := f.listQuery.Load().(string); q != "limit=50" {
			t.Errorf("query %q, want limit=50", q)
		}
		want := ""
		if gzip {
			want = "gzip"
		}
		if got, _ := f.listGzip.Load().(string); got != want {
			t.Errorf("gzip %v: Accept-Encoding %q, want %q", gzip, got, want)
		}
	}
}

func TestSummaryOutput(t *testing.T) {
	s := Summary{Scenario: "views", Target: "http://x", Connections: 64, Seconds: 2, Requests: 30, Succeeded: 28,
		RequestsPerSecond: 15, SucceededPerSecond: 14, Latency: Latency{Count: 30, P50: 1.5, P90: 3, P99: 20, Max: 150},
		Errors:  map[string]int64{"503": 1, "transport: timeout": 1},
		Applied: &Applied{Accepted: 28, Counted: 28, Exact: true, Reached: true, PerSecond: 7}}
	var buf bytes.Buffer
	if err := s.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"views against http://x, 64 connections", "p99 20.00ms", "max 150ms", "503: 1, transport: timeout: 1", "28 of 28 accepted views counted (exact)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, buf.String())
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	lat, _ := back["latency"].(map[string]any)
	if lat["p99_ms"] != 20.0 || back["succeeded_per_second"] != 14.0 || back["freshness"] != nil {
		t.Errorf("JSON: %s", b)
	}
}

func TestIngestCountsTheViewsOfEachBatch(t *testing.T) {
	f := newFakeAPI(t, func(f *fakeAPI) { f.applyDelay = 100 * time.Millisecond })
	a := NewAPI(f.URL, 4)
	movies := ids(1, 7)
	if _, err := a.Setup(context.Background(), movies, SetupOptions{Connections: 4, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s, err := a.Ingest(context.Background(), Config{Connections: 4, Requests: 50}, movies, 30, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Scenario != "ingest" || s.Succeeded != 50 || s.ViewsPerRequest != 30 {
		t.Fatalf("summary %+v, want 50 requests of 30 views", s)
	}
	if ap := s.Applied; ap == nil || !ap.Exact || ap.Accepted != 1500 || ap.Counted != 1500 {
		t.Fatalf("applied %+v, want 1500 views of 1500, exact", s.Applied)
	}
	// Round robin inside each batch: every movie got its share.
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range movies {
		if got := f.movies[id].accepted; got < 1500/7-30 || got > 1500/7+30 {
			t.Errorf("movie %d got %d views of 1500 over 7 movies", id, got)
		}
	}
	if _, err := a.Ingest(context.Background(), Config{Connections: 1, Requests: 1}, movies, 1001, 0); err == nil {
		t.Error("a batch of 1001: got nil error")
	}
}
