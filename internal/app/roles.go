package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/movietrend/trend/handlers"
	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/fastlane"
	"github.com/movietrend/trend/internal/groupcommit"
	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/internal/liveness"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/internal/replay"
	"github.com/movietrend/trend/internal/tmdb"
	"github.com/movietrend/trend/internal/tmdbfake"
	"github.com/movietrend/trend/internal/web"
	"github.com/movietrend/trend/projections/trend"
)

// Roles lists the roles Run knows.
var Roles = []string{"migrate", "api", "relay", "worker", "all"}

// HandlerGroups are the names --handlers accepts.
var HandlerGroups = []string{"commands", trend.HandlerName, handlers.EnrichmentName}

// Run runs one role until ctx ends, its options checked by CheckFlags
// first. A stop asked for while starting (a signal while waiting for
// PostgreSQL or RabbitMQ) is a clean exit, but for migrate: its work is
// the start, and whatever runs after it (compose's other roles, a script's
// next command) must not take an interrupted migration for a done one.
func Run(ctx context.Context, role string, cfg config.Config, opts Options, log *slog.Logger) error {
	err := run(ctx, role, cfg, opts, log)
	if stoppedBy(ctx, err) {
		if role == "migrate" {
			return errors.New("migrate: stopped before the database was up to date")
		}
		err = nil
	}
	if err == nil {
		log.Info("stopped", "role", role)
	}
	return err
}

// CheckFlags refuses options that no run of role can use, before the
// configuration is read or anything connects (a replay of an unknown
// projection used to migrate the database first). ro is for the replay
// role, lo for load (nil otherwise).
func CheckFlags(role string, opts Options, ro ReplayOptions, lo *LoadOptions) error {
	for _, h := range opts.Handlers {
		if !slices.Contains(HandlerGroups, h) {
			return fmt.Errorf("%s: unknown handler group %q (known: %s)", role, h, strings.Join(HandlerGroups, ", "))
		}
	}
	switch {
	case role == "migrate" && opts.NoMigrate:
		return errors.New("migrate with --no-migrate does nothing")
	case role == "replay" && !slices.Contains(ProjectionNames(), ro.Projection):
		return fmt.Errorf("replay: unknown projection %q (known: %s)", ro.Projection, strings.Join(ProjectionNames(), ", "))
	case role == "replay" && ro.Check && ro.Keep:
		return fmt.Errorf("replay: --keep with --check: %w", replay.ErrKeepWithCheck)
	case lo != nil:
		return lo.validate()
	}
	return nil
}

func run(ctx context.Context, role string, cfg config.Config, opts Options, log *slog.Logger) error {
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("unknown role %q", role)
	}
	b, err := newBase(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	defer b.close()
	if role == "migrate" {
		log.Info("database is up to date")
		return nil
	}
	eg, ctx := errgroup.WithContext(ctx)
	g := parts{eg, ctx}
	if cfg.PprofAddr != "" {
		g.Go(func() error { return b.servePprof(ctx) })
	}
	if (cfg.HealthAddr != "" || cfg.HealthExitAfter > 0) && healthRole(role) {
		b.health = liveness.New(healthStaleAfter, time.Now)
		if cfg.HealthAddr != "" {
			g.Go(func() error { return b.serveHealth(ctx) })
		}
		if cfg.HealthExitAfter > 0 {
			g.Go(func() error { return exitWhenStale(ctx, b.health, cfg.HealthExitAfter, healthCheckEvery, log) })
		}
	}
	if role == "api" || role == "all" {
		g.Go(func() error { return b.runAPI(ctx) })
	}
	if role == "relay" || role == "worker" || role == "all" {
		// In the group, so that the API's own failure (a port taken)
		// is what gets reported, not the cancelled wait for RabbitMQ.
		g.Go(func() error {
			if err := b.declareTopology(ctx); err != nil {
				return err
			}
			if role == "relay" || role == "all" {
				g.Go(func() error { return b.runRelay(ctx) })
			}
			if role == "worker" || role == "all" {
				g.Go(func() error { return b.runWorker(ctx) })
			}
			return nil
		})
	}
	return g.Wait()
}

// lacksMigrations says what to do about a database behind this build's
// migrations, for the commands that change nothing (status, replay --check).
const lacksMigrations = "the database lacks migrations of this build: apply them first (trend migrate), or use the build the database runs"

// stoppedBy tells whether err is only ctx's stop: a cancellation, after
// ctx was cancelled.
func stoppedBy(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)
}

// parts is the group of a role's parts. A part that ends with the
// cancellation of a stop (the wait for RabbitMQ, a worker starting) ends
// without an error: a group keeps its first error only, and the
// cancellation, which comes at once, hid a failure that came later, such
// as the API's drain cutting requests in flight, so the process exited 0.
type parts struct {
	*errgroup.Group
	ctx context.Context
}

func (p parts) Go(f func() error) {
	p.Group.Go(func() error {
		if err := f(); !stoppedBy(p.ctx, err) {
			return err
		}
		return nil
	})
}

func (b *base) runAPI(ctx context.Context) error {
	ln, err := net.Listen("tcp", b.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", b.cfg.HTTPAddr, err)
	}
	if t := b.cfg.AdminToken; t != "" && len(t) < minAdminToken {
		// Said, not refused: a deployment that works must not stop at an
		// upgrade. The admin API is not rate-limited.
		b.log.Warn("ADMIN_TOKEN is short: it can be guessed by trying (openssl rand -hex 32 makes a good one)", "length", len(t), "minimum", minAdminToken)
	}
	in := intake.New(b.pool, b.log, intake.Config{Interval: b.cfg.IntakeInterval})
	defer in.Close() // after the server stopped: no request is waiting on it
	// The API's background work outlives the signal (ctx) until the server
	// has stopped: requests answered during the shutdown still read the
	// projection's head. Live streams end at the signal (Draining).
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	view := b.pipelineView()
	handler := httpapi.New(hctx, httpapi.Deps{
		Draining:      ctx.Done(),
		Commands:      in,
		Queries:       trend.NewReader(b.pool),
		Registrations: registrations{b},
		Trends:        trend.NewRanker(b.pool, b.trendParams()),
		Replays:       replays{b: b, r: replay.New(b.pool, b.log)},
		DeadLetters:   dlq.New(b.cfg.AMQPURL),
		AdminToken:    b.cfg.AdminToken,
		Metrics:       b.metrics,
		RateLimit:     b.cfg.RateLimit,
		RateBurst:     b.cfg.RateBurst,
		CORSOrigins:   b.cfg.CORSAllowedOrigins,
		Checks: []httpapi.Check{
			{Name: "postgres", Run: pgCheck(b.pool)},
			{Name: "rabbitmq", Run: amqpCheck(b.cfg.AMQPURL)},
		},
		Pipeline:              view,
		Dashboard:             web.Handler(),
		RabbitMQManagementURL: b.cfg.RabbitMQManagementURL,
		StreamMaxClients:      b.cfg.StreamMaxClients,
		Logger:                b.log,
	})
	b.watchPipeline(view)
	if !web.Built() {
		b.log.Warn("the dashboard is not built into this binary: run `make dashboard`, then rebuild; the API works without it")
	}
	srv := newAPIServer(handler, b.log)
	b.log.Info("API listening", "addr", ln.Addr().String(), "fast_lane", b.cfg.FastLane)
	if !b.cfg.FastLane {
		return serveHTTP(ctx, srv, ln)
	}
	// Single views, one a request, are the API's load, and list reads
	// its most frequent read; other requests, and connections that carry
	// them, go to srv as before.
	lane := fastlane.New(srv, fastlane.Route{Method: http.MethodPost, Path: "/api/movies/view"},
		fastlane.Route{Method: http.MethodGet, Path: "/api/movies", Query: true})
	b.metrics.WatchFastLane(lane.Stats)
	return serveHTTP(ctx, lane, ln)
}

// minAdminToken is the shortest ADMIN_TOKEN the API takes without a
// warning.
const minAdminToken = 32

// apiIdleTimeout is how long the API keeps an idle keep-alive connection:
// without one (and with no ReadTimeout, its fallback) net/http and the
// fast lane would hold idle connections for ever.
const apiIdleTimeout = 120 * time.Second

// newAPIServer is the API's http.Server; the fast lane reads its timeouts
// too. No WriteTimeout (nor ReadTimeout): it would cut the live stream.
func newAPIServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       apiIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (b *base) trendParams() trend.Params {
	return trend.Params{DayHalfLife: b.cfg.TrendHalfLife, WeekHalfLife: b.cfg.TrendWeekHalfLife, MinVotes: b.cfg.TrendMinVotes}
}

type registrations struct{ b *base }

func (r registrations) Get(ctx context.Context, id int64) (registry.Registration, error) {
	return registry.Get(ctx, r.b.pool, id)
}

func (b *base) runRelay(ctx context.Context) error {
	// Run returns when ctx ends, after the batch in hand was confirmed and
	// acknowledged, or left in the outbox to be sent again.
	r := messaging.NewBatchRelay(b.pool, b.cfg.AMQPURL, b.log)
	r.Retention = b.cfg.OutboxRetention
	r.OnForwarded = b.metrics.Relayed
	r.BundleTopics = []string{messaging.CommandTopic(recordViews)}
	r.OnRound = b.heartbeat("relay")
	r.Declare = Topology.DeclareOn
	return r.Run(ctx)
}

func (b *base) wants(group string) bool {
	return len(b.opts.Handlers) == 0 || slices.Contains(b.opts.Handlers, group)
}

// appliedLogEvery is the pace of the worker's "views applied" log line.
const appliedLogEvery = 30 * time.Second

// logApplied logs, every d while views come, how many the trend projection
// applied: the line an operator reads the worker's log for (the Python
// system's workers printed every view), one every d instead of thousands
// a second.
func (b *base) logApplied(ctx context.Context, take func() int64, d time.Duration) {
	every(ctx, d, func() {
		if n := take(); n > 0 {
			b.log.Info("views applied to the trend projection", "views", n, "seconds", d.Seconds())
		}
	})
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (b *base) runWorker(ctx context.Context) error {
	store, err := eventlog.NewStore(b.pool, b.wlog)
	if err != nil {
		return err
	}
	wc := messaging.WorkerConfig{
		AMQPURL:     b.cfg.AMQPURL,
		EventGroups: map[string][]cqrs.GroupEventHandler{},
		EventTypes:  groupEventTypes, // the same lists decide the views exchange's bindings
		Logger:      b.wlog, Log: b.log, Metrics: b.metrics,
		Healthy: b.pool.Ping,
	}
	if b.wants("commands") {
		reg, err := handlers.NewRegisterMovieHandler(store)
		if err != nil {
			return err
		}
		views, err := handlers.NewRecordViewsHandler(store, b.log)
		if err != nil {
			return err
		}
		refresh, err := handlers.NewRefreshMovieHandler(store, b.log)
		if err != nil {
			return err
		}
		wc.CommandHandlers = []cqrs.CommandHandler{
			cqrs.NewCommandHandler("RegisterMovie", reg.Handle),
			cqrs.NewCommandHandler("RefreshMovie", refresh.Handle),
		}
		batch := newGroupCommit(views.HandleAll, views.Handle, b.cfg.WorkerConsumers, 0, b.pool.Ping)
		defer batch.Close()
		wc.Batched = append(wc.Batched, messaging.BatchedCommand(recordViews, b.cfg.WorkerConsumers, batch.Do))
	}
	if b.wants(trend.HandlerName) {
		h, err := trend.NewHandler(store, b.trendParams())
		if err != nil {
			return err
		}
		batch := newGroupCommit(h.HandleBatches, h.HandleBatch, b.cfg.WorkerConsumers, b.cfg.ProjectionInterval, b.pool.Ping)
		defer batch.Close()
		wc.Batched = append(wc.Batched, messaging.BatchedEventGroup(trend.HandlerName, b.cfg.WorkerConsumers, batch.Do))
		go b.logApplied(ctx, h.TakeApplied, appliedLogEvery)
	}
	if b.wants(handlers.EnrichmentName) {
		client, err := b.tmdbClient(ctx)
		if err != nil {
			return err
		}
		h, err := handlers.NewEnrichment(store, b.pool, client, time.Now, b.log)
		if err != nil {
			return err
		}
		wc.EventGroups[handlers.EnrichmentName] = []cqrs.GroupEventHandler{cqrs.NewGroupEventHandler(h.HandleBatch)}
	}
	inFlight := newAttempts(time.Now)
	wc.Attempt = inFlight.middleware
	deliveries := messaging.NewDeliveries(time.Now)
	wc.Deliveries = deliveries
	router, err := messaging.NewWorker(wc)
	if err != nil {
		return err
	}
	b.log.Info("worker handling messages", "handlers", b.opts.Handlers)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return router.Run(ctx) })
	stalled := b.watchStalls(ctx, deliveries)
	if beat := b.heartbeat("worker"); beat != nil {
		go beatWhileRouting(ctx, router.Router, inFlight, stalled, beat, workerBeatEvery)
	}
	if b.wants(handlers.EnrichmentName) {
		r, err := intake.NewRefresher(b.pool, b.log, intake.RefresherConfig{MaxAge: b.cfg.TMDBRefreshAge,
			OnRound: b.heartbeat("refresher")})
		if err != nil {
			return err
		}
		g.Go(func() error { return r.Run(ctx) })
	}
	return g.Wait()
}

// commitBound bounds each of the worker's commits, shared or alone.
var commitBound = 30 * time.Second

// newGroupCommit shares one transaction among the messages a worker's
// subscriptions hold at once (all), falling back to one transaction per
// message (each) when the shared one fails, so that a bad message fails
// alone and is retried or dead-lettered on its own. At most consumers
// messages can be in flight (one per subscription), so that many are a
// full batch; spacing lets batches gather between commits (see
// groupcommit.Config.Spacing).
func newGroupCommit[T any](all func(context.Context, []T) error, each func(context.Context, T) error, consumers int, spacing time.Duration, healthy func(context.Context) error) *groupcommit.Batcher[T] {
	// The commit is shared, so no one message's context may cancel it.
	bounded := func(fn func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), commitBound)
		defer cancel()
		err := fn(ctx)
		// The bound's own timeout only: a message's error that comes
		// back just after it is still the message's.
		if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%s): %w", messaging.ErrSlowCommit, commitBound, err)
		}
		return err
	}
	return groupcommit.New(groupcommit.Config{MaxBatch: consumers, Spacing: spacing}, groupcommit.AllOrEachUnless(
		func(items []T) error { return bounded(func(ctx context.Context) error { return all(ctx, items) }) },
		func(item T) error { return bounded(func(ctx context.Context) error { return each(ctx, item) }) },
		databaseDown(healthy), func(err error) bool { return errors.Is(err, messaging.ErrSlowCommit) }))
}

// databaseDown tells whether a shared commit's error is the database's
// and the database does not answer a ping now, or a lock wait that timed
// out (the batch's messages all wait on the same writer lock): then every
// message of the batch fails with it, rather than each retried alone, up
// to 30 s each (a network partition, a writer whose machine died). A
// message-caused error, or one the database answers after, still gets the
// commits one by one.
func databaseDown(healthy func(context.Context) error) func(error) bool {
	return func(err error) bool {
		if messaging.LockTimeout(err) {
			return true
		}
		if !messaging.Unavailable(err) && !errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return healthy(ctx) != nil
	}
}

// tmdbClient talks to TMDB, or, when no key or token is configured and
// TMDB_BASE_URL was left at TMDB itself, to a built-in stand-in serving
// the bundled catalog (and says so), so that a local run works offline.
func (b *base) tmdbClient(ctx context.Context) (*tmdb.Client, error) {
	base := b.cfg.TMDBBaseURL
	standIn := !b.cfg.HasTMDBCredentials() && base == config.DefaultTMDBBaseURL
	if err := recordTMDBSource(ctx, b.pool, standIn); err != nil {
		return nil, err
	}
	if standIn {
		url, err := StartTMDBFake(ctx, "127.0.0.1:0", b.log)
		if err != nil {
			return nil, err
		}
		base = url
		b.log.Warn("no TMDB_API_KEY or TMDB_READ_TOKEN set: using the built-in TMDB stand-in (trend tmdb-fake) with its bundled catalog of 924 movies", "tmdb_base_url", base)
	}
	return tmdb.New(tmdb.Config{BaseURL: base, APIKey: b.cfg.TMDBAPIKey, ReadToken: b.cfg.TMDBReadToken, RateLimit: b.cfg.TMDBRateLimit, Logger: b.log,
		HTTPClient: &http.Client{Transport: b.metrics.TMDBTransport(nil)}, OnCircuitChange: b.metrics.TMDBCircuit})
}

// pipelineView is the API's collector for GET /api/pipeline: one snapshot
// serves every dashboard's polls for a second.
func (b *base) pipelineView() *pipeline.Collector {
	c := pipeline.NewCollector(b.pool, b.cfg.AMQPURL, Topology)
	c.MaxAge = time.Second
	return c
}

// errStandInAfterTMDB refuses the built-in stand-in on a database TMDB
// fed (see recordTMDBSource).
var errStandInAfterTMDB = errors.New("no TMDB_API_KEY or TMDB_READ_TOKEN is set, but this database holds facts from TMDB itself: " +
	"the built-in stand-in would answer 404 for every movie outside its 924 and remove them. " +
	"Set TMDB_API_KEY or TMDB_READ_TOKEN (is .env there?), or, to use a stand-in anyway, point TMDB_BASE_URL at a `trend tmdb-fake`")

// recordTMDBSource records where this database's TMDB facts come from, and
// refuses the built-in stand-in (standIn) where TMDB itself was used: a
// worker that lost its key would otherwise fall back to it silently. The
// stand-in then TMDB (a key added) is fine. An explicit TMDB_BASE_URL,
// a stand-in or not, counts as TMDB: the operator chose it.
func recordTMDBSource(ctx context.Context, pool *pgxpool.Pool, standIn bool) error {
	var catalog []int64
	if standIn {
		c, err := tmdbfake.DefaultCatalog()
		if err != nil {
			return err
		}
		catalog = c.IDs()
	}
	refused := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if standIn {
			// A database from before the record (migration 00013) has
			// none: a movie with facts the stand-in does not have came
			// from TMDB (or a TMDB_BASE_URL of the operator's choice).
			if _, err := tx.Exec(ctx, `INSERT INTO tmdb_source (stand_in)
				SELECT false WHERE NOT EXISTS (SELECT 1 FROM tmdb_source)
				  AND EXISTS (SELECT 1 FROM movies WHERE status = 'active' AND tmdb_id <> ALL($1::bigint[]))
				ON CONFLICT (one) DO NOTHING`, catalog); err != nil {
				return err
			}
		}
		// Two statements: the second sees a row another worker inserted
		// while this one's insert waited for it, and locks it.
		tag, err := tx.Exec(ctx, `INSERT INTO tmdb_source (stand_in) VALUES ($1) ON CONFLICT (one) DO NOTHING`, standIn)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var recorded bool
		if err := tx.QueryRow(ctx, `SELECT stand_in FROM tmdb_source FOR UPDATE`).Scan(&recorded); err != nil {
			return err
		}
		switch {
		case standIn && !recorded:
			refused = true
		case !standIn && recorded:
			_, err = tx.Exec(ctx, `UPDATE tmdb_source SET stand_in = false, updated_at = now()`)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record the TMDB source: %w", err)
	}
	if refused {
		return errStandInAfterTMDB
	}
	return nil
}

// StartTMDBFake serves the TMDB stand-in with the bundled catalog on addr
// until ctx ends and returns its base URL.
func StartTMDBFake(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	catalog, err := tmdbfake.DefaultCatalog()
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen for the TMDB stand-in on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: tmdbfake.NewHandler(catalog, tmdbfake.Options{}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := serveHTTP(ctx, srv, ln); err != nil {
			log.Warn("the TMDB stand-in stopped", "error", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/3", nil
}

// RunTMDBFake is the tmdb-fake role: the stand-in on addr, with the
// bundled catalog or the CSV file at catalogPath. When apiKey or
// readToken is set, a request must carry apiKey as the api_key parameter
// or readToken as a Bearer token (as TMDB's v3 key and v4 read access
// token); with neither, any request is served.
func RunTMDBFake(ctx context.Context, addr, catalogPath, apiKey, readToken string, log *slog.Logger) error {
	catalog, err := tmdbfake.DefaultCatalog()
	if catalogPath != "" {
		var f *os.File
		if f, err = os.Open(catalogPath); err != nil {
			return err
		}
		catalog, err = tmdbfake.LoadCatalog(f)
		f.Close()
	}
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("TMDB stand-in serving", "base_url", "http://"+ln.Addr().String()+"/3", "movies", catalog.Len(), "key_required", apiKey != "" || readToken != "")
	if _, ok := catalog.Movie(tmdb.DefaultControlID); !ok {
		log.Warn("the catalog lacks the control movie the service asks for before it believes a 404: no movie will ever be removed as unknown",
			"control_id", tmdb.DefaultControlID)
	}
	srv := &http.Server{Handler: tmdbfake.NewHandler(catalog, tmdbfake.Options{APIKey: apiKey, ReadToken: readToken, Logger: log}), ReadHeaderTimeout: 5 * time.Second}
	return serveHTTP(ctx, srv, ln)
}
