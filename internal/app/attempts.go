package app

import (
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// maxAttempt is the longest one attempt at a message may take before the
// worker's liveness check calls the worker stuck: a bound on hangs, far
// above slow work. A TMDB fetch is bounded at five requests of 10 s with
// waits of up to 60 s between them (internal/tmdb), under 5 minutes. Each
// shared commit is bounded at 30 s (newGroupCommit), but an attempt at a
// bundle of up to 100 messages may wait for many of them in turn behind
// the other subscriptions' (and, when a shared commit fails, for the
// one-by-one retries of up to WORKER_CONSUMERS messages): minutes only
// when PostgreSQL is very slow, where a restart would not help anyway.
const maxAttempt = 30 * time.Minute

// attempts tracks the handler attempts a worker has in progress, so that
// its liveness check sees a handler that never returns: the router keeps
// running then, and so would the heartbeat.
type attempts struct {
	now     func() time.Time
	mu      sync.Mutex
	started map[*message.Message]time.Time
}

func newAttempts(now func() time.Time) *attempts {
	return &attempts{now: now, started: map[*message.Message]time.Time{}}
}

// middleware records each attempt while it runs (inside the retries, so
// one attempt, not a message's whole series, is timed; a message's
// attempts follow one another, so it keys its own).
func (a *attempts) middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		a.mu.Lock()
		a.started[msg] = a.now()
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			delete(a.started, msg)
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
