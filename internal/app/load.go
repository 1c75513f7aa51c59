package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/movietrend/trend/internal/loadgen"
	"github.com/movietrend/trend/internal/tmdbfake"
)

// LoadOptions are the flags of `trend load`.
type LoadOptions struct {
	Target      string
	Scenario    string
	Connections int
	Duration    time.Duration
	Requests    int64
	Rate        float64
	Movies      int
	Catalog     string
	Setup       bool
	WaitActive  bool
	// SetupTimeout bounds the setup (default 2 minutes, plus the time
	// TMDB needs with --wait-active).
	SetupTimeout time.Duration
	WaitApplied  time.Duration
	Limit        int
	Gzip         bool
	Batch        int
	Probes       int
	Poll         time.Duration
	Grace        time.Duration
	JSON         bool
	CPUProfile   string
	// Out is where the summary goes (default: standard output).
	Out io.Writer
}

// Scenarios are what --scenario accepts; setup only registers the movies
// and waits until they are listed.
var Scenarios = []string{"views", "ingest", "reads", "freshness", "setup"}

// LoadFlags registers the flags of `trend load` on fs.
func LoadFlags(fs *flag.FlagSet) *LoadOptions {
	o := &LoadOptions{}
	fs.StringVar(&o.Target, "target", "http://127.0.0.1:8000", "the API's base URL")
	fs.StringVar(&o.Scenario, "scenario", "views", "views (POST /api/movies/view), ingest (POST /api/views, --batch views a request), reads (GET /api/movies?limit=50), freshness (views at --rate, timed until visible) or setup (only register --movies)")
	fs.IntVar(&o.Connections, "connections", 64, "keep-alive connections, each with one request in flight")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "how long to send (0: until --requests are sent)")
	fs.Int64Var(&o.Requests, "requests", 0, "stop after this many requests (0: no count bound)")
	fs.Float64Var(&o.Rate, "rate", 0, "send this many requests a second in total (0: as fast as answers come; freshness default 5000)")
	fs.IntVar(&o.Movies, "movies", 500, "movies the views are spread over; for reads, movies that must be listed first")
	fs.StringVar(&o.Catalog, "catalog", "", "a catalog CSV `file` the movie ids come from, as trend tmdb-fake --catalog serves it (default: the bundled 924 movies)")
	fs.BoolVar(&o.Setup, "setup", true, "register the movies through the API first and wait until the projection lists them")
	fs.BoolVar(&o.WaitActive, "wait-active", false, "with --setup, also wait until TMDB's facts arrived (TMDB is asked about 40 times a second)")
	fs.DurationVar(&o.SetupTimeout, "setup-timeout", 0, "give up the setup after this long (default 2m, plus 1s per 40 movies with --wait-active)")
	fs.DurationVar(&o.WaitApplied, "wait-applied", 0, "views, ingest: afterwards, wait up to this long until the projection counted every accepted view, and report views/s end to end")
	fs.IntVar(&o.Limit, "limit", 50, "reads: the limit of GET /api/movies")
	fs.BoolVar(&o.Gzip, "gzip", true, "reads: send Accept-Encoding: gzip, as browsers do (bodies are discarded, not decompressed)")
	fs.IntVar(&o.Batch, "batch", 100, fmt.Sprintf("ingest: views per request (1 to %d)", loadgen.MaxIngestBatch))
	fs.IntVar(&o.Probes, "probes", 16, "freshness: movies that carry timed probe views")
	fs.DurationVar(&o.Poll, "poll", 25*time.Millisecond, "freshness: how often a probe reads its movie")
	fs.DurationVar(&o.Grace, "grace", 10*time.Second, "freshness: how long after the load a probe view may take to become visible before it counts as missing")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file")
	return o
}

// RunLoad is `trend load`: set up the movies, run one scenario with a
// progress bar (on a terminal; log lines otherwise), print the summary.
// Errors of single requests do not fail it; they are in the summary. It
// fails when nothing succeeded.
func RunLoad(ctx context.Context, o *LoadOptions, log *slog.Logger) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if err := o.validate(); err != nil {
		return err
	}
	ids, err := o.movieIDs()
	if err != nil {
		return err
	}
	// The profile's file is made before the setup, which a path it cannot
	// write would have done for nothing; the profile covers the load only.
	// The setup scenario has no load to profile: its file is left as it was.
	var profile *os.File
	if o.CPUProfile != "" && o.Scenario != "setup" {
		if profile, err = os.Create(o.CPUProfile); err != nil {
			return err
		}
	}
	api := loadgen.NewAPI(o.Target, o.Connections)
	var setup *loadgen.SetupResult
	if (o.Setup || o.Scenario == "setup") && len(ids) > 0 {
		if setup, err = runSetup(ctx, api, ids, o, log); err != nil {
			return err
		}
	}
	if o.Scenario == "setup" {
		return o.print(loadgen.Summary{Scenario: o.Scenario, Target: api.Target(), Movies: len(ids), Setup: setup})
	}
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	progress := newLoadProgress(o, log)
	sum, err := o.runScenario(ctx, api, ids, progress.update)
	progress.finish()
	stopProfile()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", o.Scenario, err)
	}
	sum.Setup = setup
	if werr := o.print(sum); werr != nil {
		return werr
	}
	if err != nil {
		// Interrupted: what was measured so far is printed, which is what
		// an interrupt asks for.
		return nil
	}
	if sum.Requests > 0 && sum.Succeeded == 0 {
		return fmt.Errorf("no request succeeded (%d sent)", sum.Requests)
	}
	return nil
}

func (o *LoadOptions) validate() error {
	var errs []error
	// Else every request failed as "transport: other", for the whole run.
	if u, err := url.Parse(o.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--target %q: want the API's http(s) URL, such as http://localhost:8000", o.Target))
	}
	switch o.Scenario {
	case "views", "reads":
	case "ingest":
		if o.Batch < 1 || o.Batch > loadgen.MaxIngestBatch {
			errs = append(errs, fmt.Errorf("--batch must be from 1 to %d", loadgen.MaxIngestBatch))
		}
	case "setup":
		if o.Movies <= 0 {
			errs = append(errs, errors.New("setup needs --movies, a positive number"))
		}
		return errors.Join(errs...)
	case "freshness":
		if o.Rate == 0 {
			o.Rate = 5000
		}
	default:
		errs = append(errs, fmt.Errorf("--scenario %q: want one of %v", o.Scenario, Scenarios))
	}
	if o.Connections < 1 {
		errs = append(errs, errors.New("--connections must be at least 1"))
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		errs = append(errs, errors.New("set --duration or --requests"))
	}
	if o.Rate < 0 || o.Movies < 0 || o.Limit < 1 || o.Limit > maxListLimit {
		errs = append(errs, fmt.Errorf("--rate and --movies must not be negative, --limit must be from 1 to %d (the API's most)", maxListLimit))
	}
	if math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		// NaN ran unthrottled and past --duration, Inf never ended.
		errs = append(errs, fmt.Errorf("--rate %v: want a number of requests a second", o.Rate))
	}
	switch {
	case o.Scenario != "reads" && o.Movies < 1:
		errs = append(errs, fmt.Errorf("%s needs --movies, a positive number", o.Scenario))
	case o.Scenario == "freshness" && (o.Probes < 1 || o.Probes >= o.Movies):
		errs = append(errs, fmt.Errorf("--probes %d: freshness needs at least one probe movie and fewer than --movies (%d)", o.Probes, o.Movies))
	}
	return errors.Join(errs...)
}

// maxListLimit is the most movies GET /api/movies lists at once: a
// larger --limit had every read answered 422.
const maxListLimit = 1000

// movieIDs are the first --movies ids of the catalog: ids the TMDB
// service knows, so no movie of the load is removed for being unknown.
func (o *LoadOptions) movieIDs() ([]int64, error) {
	if o.Movies == 0 {
		return nil, nil
	}
	catalog, err := tmdbfake.DefaultCatalog()
	if o.Catalog != "" {
		var f *os.File
		if f, err = os.Open(o.Catalog); err != nil {
			return nil, err
		}
		defer f.Close()
		catalog, err = tmdbfake.LoadCatalog(f)
	}
	if err != nil {
		return nil, err
	}
	if catalog.Len() < o.Movies {
		return nil, fmt.Errorf("--movies %d: the catalog has only %d movies (give a larger one with --catalog, served by `trend tmdb-fake --catalog`)", o.Movies, catalog.Len())
	}
	return catalog.IDs()[:o.Movies], nil
}

func runSetup(ctx context.Context, api *loadgen.API, ids []int64, o *LoadOptions, log *slog.Logger) (*loadgen.SetupResult, error) {
	log.Info("registering movies and waiting until they are listed", "movies", len(ids), "wait_active", o.WaitActive)
	timeout := o.SetupTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
		if o.WaitActive {
			// TMDB is asked about 40 times a second.
			timeout += time.Duration(len(ids)/40) * time.Second
		}
	}
	res, err := api.Setup(ctx, ids, loadgen.SetupOptions{Connections: o.Connections, WaitActive: o.WaitActive, Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	log.Info("movies ready", "registered", res.Registered, "already_registered", res.Already, "took", time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond).String())
	return &res, nil
}

func (o *LoadOptions) runScenario(ctx context.Context, api *loadgen.API, ids []int64, onProgress func(loadgen.Progress)) (loadgen.Summary, error) {
	cfg := loadgen.Config{Connections: o.Connections, Duration: o.Duration, Requests: o.Requests, Rate: o.Rate, OnProgress: onProgress}
	switch o.Scenario {
	case "reads":
		return api.Reads(ctx, cfg, o.Limit, o.Gzip)
	case "freshness":
		return api.Freshness(ctx, cfg, ids, loadgen.FreshnessOptions{Probes: o.Probes, PollInterval: o.Poll, Grace: o.Grace})
	case "ingest":
		return api.Ingest(ctx, cfg, ids, o.Batch, o.WaitApplied)
	default:
		if len(ids) == 0 {
			return loadgen.Summary{}, errors.New("views need --movies")
		}
		return api.Views(ctx, cfg, ids, o.WaitApplied)
	}
}

func (o *LoadOptions) print(s loadgen.Summary) error {
	s.StampProcessCPU()
	if o.JSON {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return s.WriteText(o.Out)
}

// startCPUProfile profiles into f (nothing when f is nil); stop ends it
// and closes f.
func startCPUProfile(f *os.File) (stop func(), err error) {
	if f == nil {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// loadProgress shows a run's progress: a bar on a terminal, a log line
// every few seconds otherwise (so a CI log stays readable).
type loadProgress struct {
	o        *LoadOptions
	log      *slog.Logger
	bar      *progressbar.ProgressBar
	last     loadgen.Progress
	lastLine time.Time
	finished bool
}

// barSteps is the bar's resolution: it shows the fraction of the run's
// bound (time or count) that has passed.
const barSteps = 1000

func newLoadProgress(o *LoadOptions, log *slog.Logger) *loadProgress {
	p := &loadProgress{o: o, log: log, lastLine: time.Now()}
	if isTerminal(os.Stderr) {
		p.bar = progressbar.NewOptions64(barSteps, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(o.Scenario), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth())
	}
	return p
}

func (p *loadProgress) update(pr loadgen.Progress) {
	if p.finished {
		return
	}
	rate := float64(pr.Done-p.last.Done) / max((pr.Elapsed-p.last.Elapsed).Seconds(), 1e-9)
	errs := pr.Done - pr.Succeeded
	if fraction(pr) >= 1 {
		defer p.loadDone()
	}
	if p.bar != nil {
		p.last = pr
		p.bar.Describe(fmt.Sprintf("%s: %d sent, %.0f req/s, %d errors", p.o.Scenario, pr.Done, rate, errs))
		_ = p.bar.Set64(int64(barSteps * fraction(pr)))
		return
	}
	if time.Since(p.lastLine) >= 2*time.Second {
		p.last, p.lastLine = pr, time.Now()
		p.log.Info("load progress", "scenario", p.o.Scenario, "sent", pr.Done, "requests_per_second", int(rate),
			"errors", errs, "elapsed", pr.Elapsed.Round(time.Second).String())
	}
}

// fraction is how much of the run's bound has passed (the nearer one
// when both a duration and a count are set).
func fraction(pr loadgen.Progress) float64 {
	var f float64
	if pr.Duration > 0 {
		f = pr.Elapsed.Seconds() / pr.Duration.Seconds()
	}
	if pr.Requests > 0 {
		f = max(f, float64(pr.Done)/float64(pr.Requests))
	}
	return min(f, 1)
}

// loadDone closes the bar when the load is over and says what the
// scenario still waits for, which can take longer than the load.
func (p *loadProgress) loadDone() {
	p.finish()
	switch {
	case p.o.Scenario == "views" && p.o.WaitApplied > 0:
		p.log.Info("load done; waiting until the projection counted every accepted view", "at_most", p.o.WaitApplied.String())
	case p.o.Scenario == "freshness":
		p.log.Info("load done; waiting for the last probe views to become visible", "at_most", p.o.Grace.String())
	}
}

func (p *loadProgress) finish() {
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
}
