package app

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/movietrend/trend/internal/messaging"
)

// stallAfter is how long a queue may hold messages ready while one of the
// worker's subscriptions to it receives none, and holds none, before the
// worker calls it stalled: far above the pauses of a working
// subscription, which takes a message as soon as its last one is settled.
const stallAfter = 2 * time.Minute

// stallCheckEvery is the pace of the check (a passive declare per queue).
const stallCheckEvery = 10 * time.Second

// stallWarnAfter is how many checks in a row may fail before the worker
// warns that it cannot tell (RabbitMQ away, which the subscriptions wait
// out and say themselves; a queue deleted under it).
const stallWarnAfter = 6

// checked is what one stall check found, and when.
type checked struct {
	at      time.Time
	stalled []string
}

// watchStalls checks the worker's queues for stalls every stallCheckEvery
// until ctx ends, logs each stalled queue, and returns what the last check
// found. The check runs apart from the heartbeat, so that a RabbitMQ slow
// to answer it does not silence the heartbeat; a check that fails finds
// nothing stalled, and a result older than three checks counts for
// nothing.
func (b *base) watchStalls(ctx context.Context, deliveries *messaging.Deliveries) func() []string {
	var last atomic.Pointer[checked]
	s := messaging.NewStalls(b.cfg.AMQPURL, deliveries, stallAfter)
	go func() {
		defer s.Close()
		failed := 0
		every(ctx, stallCheckEvery, func() {
			stalled, err := s.Check()
			if err == nil {
				failed = 0
			} else if failed++; failed%stallWarnAfter == 0 {
				b.log.Warn("worker: cannot check its queues for stalls", "error", err, "failed_checks", failed)
			} else {
				b.log.Debug("worker: stall check failed", "error", err)
			}
			for _, q := range stalled {
				idle, _ := deliveries.Idle(q)
				b.log.Error("worker: queue holds messages but a subscription of the worker receives none", "queue", q,
					"idle_since", idle.UTC().Format(time.RFC3339), "stalled_after", stallAfter.String())
			}
			last.Store(&checked{at: time.Now(), stalled: stalled})
		})
	}()
	return func() []string {
		if c := last.Load(); c != nil && time.Since(c.at) <= 3*stallCheckEvery {
			return c.stalled
		}
		return nil
	}
}
