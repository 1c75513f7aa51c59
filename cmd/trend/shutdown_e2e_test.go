package main_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// TestWorkerStoppedBySIGTERMDeadLettersNothing stops a second worker with
// SIGTERM (what `docker compose stop` and a rolling update send) again
// and again while views stream in. The messages it holds when it stops
// must go back to their queues, not to the dead letters: every view is
// counted, once, and the dead-letter queue stays empty.
func TestWorkerStoppedBySIGTERMDeadLettersNothing(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	ids := []int64{27205, 157336}
	for _, id := range ids {
		s.register(id)
		s.waitActive(id)
	}
	var logs bytes.Buffer
	handled := func() int {
		logMu.Lock()
		defer logMu.Unlock()
		return strings.Count(logs.String(), `"message handled"`)
	}
	stop := s.streamViews(16, ids...)
	for round := range 4 {
		before := handled()
		worker := s.startWorker(&logs)
		// Let it take messages from the queues under load (it must have
		// handled some, or its SIGTERM would test nothing), then stop it
		// the way an orchestrator does.
		testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("round %d: the second worker to handle messages", round), func() bool {
			return handled() > before
		})
		switch err, inTime := worker.terminate(); {
		case !inTime:
			t.Fatalf("round %d: the worker did not stop within 30 s of SIGTERM", round)
		case err != nil:
			t.Errorf("round %d: the worker exited with %v after SIGTERM, want a clean exit", round, err)
		}
	}
	sent := stop()
	for k, id := range ids {
		s.waitViews(id, sent[k])
	}
	n, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d messages in the dead letters after the workers' SIGTERMs, want 0", n)
	}
	if t.Failed() {
		logMu.Lock()
		t.Logf("second worker's logs:\n%s", tail(logs.String(), 40))
		logMu.Unlock()
	}
	t.Logf("views sent: %d and %d", sent[0], sent[1])
}
