package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/movietrend/trend/internal/liveness"
)

// healthStaleAfter is how long a loop of the relay or the worker may go
// without a round before HEALTH_ADDR's /healthz says 503. Generous: a
// round is a batch of up to 500 messages and its confirms, or a prune of
// up to 100,000 rows, or a refresher tick, each seconds at worst; a loop
// silent for two minutes is stuck, not busy.
const healthStaleAfter = 2 * time.Minute

// workerBeatEvery is the pace of the worker's own heartbeat (well under
// healthStaleAfter, so that one late tick is no alarm).
const workerBeatEvery = 10 * time.Second

// healthCheckEvery is how often HEALTH_EXIT_AFTER's watch asks the
// heartbeats.
const healthCheckEvery = 10 * time.Second

// exitStopTimeout is how long a role ended for staleness may take to stop
// before the process exits at once (exitNow): what is stuck may not stop.
var (
	exitStopTimeout = 30 * time.Second
	exitNow         = os.Exit
)

// exitWhenStale returns an error, which ends the role (exit status 1),
// once a heartbeat of m has been stale for d, asking every check: a
// supervisor that restarts a process when it exits, not when it is
// unhealthy (Docker Compose), then restarts it. If the other parts of the
// process do not stop within exitStopTimeout, it exits at once.
func exitWhenStale(ctx context.Context, m *liveness.Monitor, d, check time.Duration, log *slog.Logger) error {
	watch, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	every(watch, check, func() {
		stale := m.StaleFor(d)
		if len(stale) == 0 {
			return
		}
		names := make([]string, len(stale))
		for i, s := range stale {
			names[i] = s.Name + " (last beat " + s.Since + " ago)"
		}
		exit, timeout := exitNow, exitStopTimeout
		time.AfterFunc(timeout, func() {
			log.Error("did not stop in time after the liveness check failed; exiting now", "timeout", timeout.String())
			exit(1)
		})
		stop(fmt.Errorf("liveness: stale for %v (HEALTH_EXIT_AFTER): %s; exiting so that the supervisor restarts the process",
			d, strings.Join(names, ", ")))
	})
	if ctx.Err() != nil {
		return nil // the role stopped
	}
	return context.Cause(watch)
}

// healthRole tells whether role serves HEALTH_ADDR: the API alone has /healthz on HTTP_ADDR;
// all serves it too, since the API's /healthz says nothing of the relay's
// and worker's loops in the same process.
func healthRole(role string) bool { return role == "relay" || role == "worker" || role == "all" }

// serveHealth serves the liveness of the role's loops on HEALTH_ADDR
// (GET /healthz) until ctx ends, and the process's metrics (GET
// /metrics): a relay or worker of its own has no other HTTP address, and
// its counters (messages handled, relayed, TMDB calls) are counted only in
// it.
func (b *base) serveHealth(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", b.metrics.Handler())
	mux.Handle("/", b.health) // /healthz, and its own 404s and 405s
	return b.serveSide(ctx, "HEALTH_ADDR", b.cfg.HealthAddr, "liveness check", mux)
}

// heartbeat registers a heartbeat named name and returns its Beat, or nil
// when HEALTH_ADDR is off.
func (b *base) heartbeat(name string) func() {
	if b.health == nil {
		return nil
	}
	return b.health.Heartbeat(name).Beat
}

// beatWhileRouting beats every workerBeatEvery while the worker works
// (workerLive): the worker's process still schedules, its router has not
// stopped, its handlers return, and its queues reach it. Otherwise it
// stays silent, and the heartbeat turns stale after healthStaleAfter.
func beatWhileRouting(ctx context.Context, router *message.Router, inFlight *attempts, stalled func() []string, beat func(), d time.Duration) {
	every(ctx, d, func() {
		if workerLive(router.IsRunning() && !router.IsClosed(), inFlight.oldest(), stalled()) {
			beat()
		}
	})
}

// workerLive tells whether a worker works: its router runs (not before it
// subscribed, not once it closed), no attempt at a message has run longer
// than maxAttempt (a hung handler), and no queue is stalled (messages wait
// in it while a subscription of the worker receives none and holds none:
// it stopped receiving).
func workerLive(routing bool, oldest time.Duration, stalled []string) bool {
	return routing && oldest <= maxAttempt && len(stalled) == 0
}
