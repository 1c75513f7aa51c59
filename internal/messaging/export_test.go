package messaging

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Moved is when one of queue's subscriptions last handed out a message or
// saw one settled (zero if not watched); held is how many they hold now.
// Only tests need it, to see a delivery settled: the stall rule reads
// Idle.
func (d *Deliveries) Moved(queue string) (at time.Time, held int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[queue]
	if q == nil {
		return time.Time{}, 0
	}
	latest := q.watched.UnixNano()
	for s := range q.subs {
		latest = max(latest, s.moved.Load())
		held += s.held.Load()
	}
	return time.Unix(0, latest), held
}

// NewDeadLetterPublisher is the worker's publisher of dead letters.
func NewDeadLetterPublisher(url string) message.Publisher { return newDeadLetterPublisher(url) }

// BeforeConfirms has the relay call f once a round has published its
// batch and before it waits for the confirms.
func (r *BatchRelay) BeforeConfirms(f func()) { r.beforeConfirms = f }
