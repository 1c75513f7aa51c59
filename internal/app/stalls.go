package app

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/movietrend/trend/internal/messaging"
)

// stallAfter is how long a queue may hold messages ready while none
// reaches the worker before the worker calls it stalled: far above the
// pauses of a busy worker, whose subscriptions take a message as soon as
// a handler is free.
const stallAfter = 2 * time.Minute

// stallCheckEvery is the pace of the check (a passive declare per queue).
const stallCheckEvery = 10 * time.Second

// watchStalls checks the worker's queues for stalls every stallCheckEvery
// until ctx ends, logs each stalled queue, and returns what the last check
// found. The check runs apart from the heartbeat, so that a RabbitMQ slow
// to answer it does not silence the heartbeat; a check that fails (the
// broker down, which the subscriptions wait out) finds nothing stalled.
func (b *base) watchStalls(ctx context.Context, deliveries *messaging.Deliveries) func() []string {
	var last atomic.Pointer[[]string]
	s := messaging.NewStalls(b.cfg.AMQPURL, deliveries, stallAfter)
	go func() {
		defer s.Close()
		every(ctx, stallCheckEvery, func() {
			stalled, err := s.Check()
			if err != nil {
				b.log.Debug("worker: stall check failed", "error", err)
			}
			for _, q := range stalled {
				b.log.Error("worker: queue holds messages but none reached the worker", "queue", q,
					"last_delivery", deliveries.Last(q).UTC().Format(time.RFC3339), "stalled_after", stallAfter.String())
			}
			last.Store(&stalled)
		})
	}()
	return func() []string {
		if p := last.Load(); p != nil {
			return *p
		}
		return nil
	}
}
