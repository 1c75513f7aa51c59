// Package app builds the roles of the one binary (api, relay, worker, all,
// migrate, tmdb-fake) from the configuration. Shared infrastructure (the
// database pool, the broker topology, the TMDB client) is built here once
// and handed to each role; cmd/trend only parses arguments and calls Run.
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
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/handlers"
	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/liveness"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/projections/trend"
)

// Topology is every exchange and queue of the product.
var Topology = messaging.Topology{
	Commands:    []string{"RegisterMovie", recordViews, "RefreshMovie"},
	EventGroups: eventGroups,
	// Batches of views alone, most of them, reach only these queues.
	ViewGroups: groupsActingOn(events.TypeViewRecorded),
}

// recordViews is the command the worker consumes through a
// messaging.BatchedHandler, the hot one: the relay bundles its messages.
const recordViews = "RecordViews"

var eventGroups = []string{trend.HandlerName, handlers.EnrichmentName}

// groupEventTypes lists, for each event group that acts on some event
// types only, those types; the other groups act on every type. It decides
// which batches a group decodes (messaging.WorkerConfig.EventTypes) and
// whether its queue receives the batches of views alone.
var groupEventTypes = map[string][]string{handlers.EnrichmentName: handlers.EnrichmentEventTypes}

// groupsActingOn lists the event groups that act on events of type typ.
func groupsActingOn(typ string) []string {
	var gs []string
	for _, g := range eventGroups {
		if types, ok := groupEventTypes[g]; !ok || slices.Contains(types, typ) {
			gs = append(gs, g)
		}
	}
	return gs
}

// NewLogger logs JSON, or text on a terminal.
func NewLogger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(os.Stderr) {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// watermillLogger keeps Watermill's per-handler chatter at debug level.
func watermillLogger(log *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
}

// Options are what the command line adds to the configuration.
type Options struct {
	// NoMigrate skips applying migrations on start.
	NoMigrate bool
	// Handlers selects the worker's handlers: "commands", the event group
	// names; empty means all.
	Handlers []string
	// StartupTimeout bounds the wait for PostgreSQL at start (RabbitMQ is
	// waited for as long as it takes: declareTopology).
	StartupTimeout time.Duration
}

// base is what every role shares.
type base struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	wlog    watermill.LoggerAdapter
	pool    *pgxpool.Pool
	metrics *metrics.Metrics
	// health is the relay's and worker's liveness (HEALTH_ADDR); nil when off.
	health *liveness.Monitor
}

func newBase(ctx context.Context, cfg config.Config, opts Options, log *slog.Logger) (*base, error) {
	if opts.StartupTimeout == 0 {
		opts.StartupTimeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, opts.StartupTimeout)
	defer cancel()
	pool, err := postgres.Connect(cctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	if !opts.NoMigrate {
		if err := postgres.Migrate(ctx, pool, log); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return &base{cfg: cfg, opts: opts, log: log, wlog: watermillLogger(log), pool: pool, metrics: metrics.New()}, nil
}

func (b *base) close() { b.pool.Close() }

// declareTopology waits for RabbitMQ and declares every exchange and
// queue. It waits as long as it takes (until ctx ends), saying so every
// minute: giving up would end the process, and in `trend all` the API with
// it, which is to keep accepting while RabbitMQ is down.
func (b *base) declareTopology(ctx context.Context) error {
	delay := 250 * time.Millisecond
	var warned time.Time
	for start := time.Now(); ; {
		err := Topology.Declare(ctx, b.cfg.AMQPURL)
		if err == nil {
			if !warned.IsZero() {
				b.log.Info("RabbitMQ is reachable", "waited", time.Since(start).Round(time.Second).String())
			}
			return nil
		}
		if time.Since(warned) >= topologyWarnEvery {
			warned = time.Now()
			level, msg := slog.LevelWarn, "RabbitMQ is not reachable yet, retrying"
			if messaging.LoginRefused(err) {
				// Not the network: no wait mends it but a change of
				// AMQP_URL or of the broker's users. Still waited out, as
				// in `trend all` the API goes on accepting meanwhile.
				level, msg = slog.LevelError, "RabbitMQ refused the login: check AMQP_URL's user, password and virtual host; retrying"
			}
			b.log.Log(ctx, level, msg, "url", config.Redacted(b.cfg.AMQPURL),
				"waited", time.Since(start).Round(time.Second).String(), "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err() // asked to stop while waiting
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// topologyWarnEvery is how often declareTopology says it is still waiting.
var topologyWarnEvery = time.Minute

// pgCheck tells whether PostgreSQL answers. Anyone may call /readyz: the
// answer says what failed, not pgx's error, which names the database, its
// user and its address.
func pgCheck(pool *pgxpool.Pool) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			if postgres.Refused(err) {
				return errors.New("PostgreSQL refused the connection: " + postgres.RefusedAdvice)
			}
			return errors.New("PostgreSQL is unreachable")
		}
		return nil
	}
}

// amqpCheck tells whether RabbitMQ accepts a connection.
func amqpCheck(url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		// The check's deadline bounds the AMQP handshake too: a broker that
		// accepts the connection and never answers held /readyz for ever.
		conn, err := messaging.Dial(ctx, url, "trend readiness check", messaging.DialTimeout)
		if err != nil {
			return errors.New(messaging.DialFailure(err))
		}
		// Bounded too: Close waits for the broker's answer, and a broker
		// that stalls after the handshake held it until the heartbeat
		// gave up (about 30 s).
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(messaging.DialTimeout)
		}
		if err := conn.CloseDeadline(deadline); err != nil {
			return errors.New("RabbitMQ accepted the connection but did not close it in time")
		}
		return nil
	}
}

// httpServer is an *http.Server, or one with a fast lane in front.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// shutdownGrace is how long requests in flight get to finish at a stop.
var shutdownGrace = 10 * time.Second

// serveHTTP runs srv until ctx ends, then shuts it down gracefully. A
// shutdown that had to cut requests short is an error, so the process
// exits non-zero: those clients got no answer and must retry.
func serveHTTP(ctx context.Context, srv httpServer, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return errors.Join(fmt.Errorf("HTTP server on %s did not stop within %v: requests still in flight were cut: %w",
			ln.Addr(), shutdownGrace, err), srv.Close())
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
