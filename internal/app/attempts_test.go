package app

import (
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// The oldest attempt in progress is what the worker's liveness looks at:
// it ages with the clock while its handler runs, and is forgotten once
// the handler returns, however it returns.
func TestAttemptsTimeTheOldestInProgress(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a := newAttempts(clock)

	if got := a.oldest(); got != 0 {
		t.Fatalf("no attempt yet: oldest %v, want 0", got)
	}
	started, release := make(chan struct{}), make(chan struct{})
	blocked := a.middleware(func(*message.Message) ([]*message.Message, error) {
		close(started)
		<-release
		return nil, nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = blocked(message.NewMessage("hung", nil))
	}()
	<-started
	advance(time.Minute)
	// A second attempt, started later and panicking, is forgotten too.
	func() {
		defer func() { _ = recover() }()
		_, _ = a.middleware(func(*message.Message) ([]*message.Message, error) { panic("boom") })(message.NewMessage("panics", nil))
	}()
	advance(maxAttempt)
	if got, want := a.oldest(), time.Minute+maxAttempt; got != want {
		t.Errorf("a handler hung since %v ago: oldest %v, want %v", want, got, want)
	}
	if a.oldest() <= maxAttempt {
		t.Errorf("an attempt %v old counts as live (maxAttempt %v)", a.oldest(), maxAttempt)
	}
	close(release)
	<-done
	if got := a.oldest(); got != 0 {
		t.Errorf("after the handler returned: oldest %v, want 0", got)
	}
}

// The worker is live while its router runs, no attempt hangs and no
// queue is stalled.
func TestWorkerLive(t *testing.T) {
	stalled := []string{"commands.RecordViews"}
	for _, c := range []struct {
		name    string
		routing bool
		oldest  time.Duration
		stalled []string
		want    bool
	}{
		{"idle", true, 0, nil, true},
		{"busy", true, time.Minute, nil, true},
		{"router not running", false, 0, nil, false},
		{"hung attempt", true, maxAttempt + time.Second, nil, false},
		{"stalled queue", true, 0, stalled, false},
		{"stalled queue beside a long attempt", true, stallAfter, stalled, false},
	} {
		if got := workerLive(c.routing, c.oldest, c.stalled); got != c.want {
			t.Errorf("%s: live %v, want %v", c.name, got, c.want)
		}
	}
}
