package app

import (
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// maxAttempt is the longest one attempt at a message may take before the
// worker's liveness check calls the worker stuck. Well above the slowest
// legitimate attempt: a shared commit is bounded at 30 s (newGroupCommit),
// and a TMDB fetch at five requests of 10 s with waits of up to 60 s
// between them (internal/tmdb), about 6 minutes.
const maxAttempt = 10 * time.Minute

// attempts tracks the handler attempts a worker has in progress, so that
// its liveness check sees a handler that never returns: the router keeps
// running then, and so would the heartbeat.
type attempts struct {
	now     func() time.Time
	mu      sync.Mutex
	next    uint64
	started map[uint64]time.Time
}

func newAttempts(now func() time.Time) *attempts {
	return &attempts{now: now, started: map[uint64]time.Time{}}
}

// middleware records each attempt while it runs (inside the retries, so
// one attempt, not a message's whole series, is timed).
func (a *attempts) middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		a.mu.Lock()
		id := a.next
		a.next++
		a.started[id] = a.now()
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			delete(a.started, id)
			a.mu.Unlock()
		}()
		return h(msg)
	}
}

// oldest is how long the oldest attempt in progress has run (0: none).
func (a *attempts) oldest() time.Duration {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var d time.Duration
	for _, t := range a.started {
		d = max(d, now.Sub(t))
	}
	return d
}
