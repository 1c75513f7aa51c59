package app

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
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

// healthRole tells whether role serves HEALTH_ADDR: the API alone has /healthz on HTTP_ADDR;
// all serves it too, since the API's /healthz says nothing of the relay's
// and worker's loops in the same process.
func healthRole(role string) bool { return role == "relay" || role == "worker" || role == "all" }

// serveHealth serves the liveness of the role's loops on HEALTH_ADDR
// (GET /healthz) until ctx ends.
func (b *base) serveHealth(ctx context.Context) error {
	return b.serveSide(ctx, "HEALTH_ADDR", b.cfg.HealthAddr, "liveness check", b.health)
}

// heartbeat registers a heartbeat named name and returns its Beat, or nil
// when HEALTH_ADDR is off.
func (b *base) heartbeat(name string) func() {
	if b.health == nil {
		return nil
	}
	return b.health.Heartbeat(name).Beat
}

// beatWhileRouting beats every workerBeatEvery while the router runs and
// no attempt at a message has run longer than maxAttempt: the worker's
// process still schedules, its router has not stopped, and its handlers
// return. Before the router runs (subscribing), once it closed, or while a
// handler hangs, it stays silent, and the heartbeat turns stale after
// healthStaleAfter.
func beatWhileRouting(ctx context.Context, router *message.Router, inFlight *attempts, beat func(), d time.Duration) {
	every(ctx, d, func() {
		if router.IsRunning() && !router.IsClosed() && inFlight.oldest() <= maxAttempt {
			beat()
		}
	})
}
