package dlq_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// requeueThrough requeues every letter through the stalling broker sb,
// failing t unless it returns within d.
func requeueThrough(t *testing.T, ctx context.Context, sb *testenv.StallingBroker, wait, d time.Duration) (dlq.RequeueResult, error) {
	t.Helper()
	c := dlq.New(sb.URL)
	c.ConfirmTimeout = wait
	var res dlq.RequeueResult
	err := testenv.EndsWithin(t, d, "the requeue, its confirm held back,", func() error {
		var err error
		res, err = c.Requeue(ctx, dlq.All())
		return err
	})
	t.Logf("requeue: %+v, %v", res, err)
	return res, err
}

// afterTheStall checks what a requeue stopped at its second letter (b)
// left: a requeued, b and c in dead-letters in their order (the broker
// returned them when the requeue's connection went), and in RecordViews a
// and b's copy, published all the same (the broker read it; only its
// confirm was held back), as the error warns. With maybeB, b's copy may be
// missing: a requeue told connection.blocked drops its connection at once,
// which can cut b's frames before they reach the broker (a real broker
// under an alarm may or may not have read them: the error says "may").
func afterTheStall(t *testing.T, url string, maybeB bool) {
	t.Helper()
	waitDepth(t, url, messaging.DeadLetterTopic, 2)
	if got, want := remaining(t, dlq.New(url)), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("dead letters after the stopped requeue: got %v, want %v", got, want)
	}
	if !maybeB {
		waitDepth(t, url, messaging.CommandTopic("RecordViews"), 2)
		return
	}
	// b's copy, if the broker got it, is there within a few seconds.
	var got int
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = testenv.QueueDepth(url, messaging.CommandTopic("RecordViews")); err == nil && got == 2 {
			return
		}
	}
	if err != nil || got != 1 {
		t.Errorf("commands.RecordViews: got %d messages (error %v), want a's, and b's copy or not", got, err)
	}
}

// TestRequeueStopsWhenRabbitMQStopsConfirming: RabbitMQ under a resource
// alarm stops reading a publishing connection, and the confirm of a
// requeued copy never comes. The requeue waited for it for ever; it now
// stops at ConfirmTimeout, or at once when RabbitMQ says it blocks the
// connection (connection.blocked), says how many letters it requeued
// before, and leaves the letter it waited for in dead-letters, warning
// that its copy may be out too.
func TestRequeueStopsWhenRabbitMQStopsConfirming(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		blocked string        // the connection.blocked reason, if any
		wait    time.Duration // ConfirmTimeout
		want    error
		says    []string
	}{
		// 2 s: letter a's whole publish and confirm must fit in it too.
		{"no confirm", "", 2 * time.Second, dlq.ErrNotConfirmed,
			[]string{"dead letter b", "in time", "resource alarm", "may have been published", "twice"}},
		{"blocked", "low on memory", dlq.DefaultConfirmTimeout, dlq.ErrBlocked,
			[]string{"dead letter b", "RabbitMQ is blocking publishers: resource alarm", "low on memory", "may have been published"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := broker(t)
			deadLetter(t, url, command("a"), command("b"), command("c"))
			sb := testenv.NewStallingBroker(t, url)
			sb.StallAt(2, c.blocked) // b's publish: nothing comes back from then on

			res, err := requeueThrough(t, t.Context(), sb, c.wait, 10*time.Second)
			if !errors.Is(err, c.want) {
				t.Fatalf("requeue: got %v, want %v", err, c.want)
			}
			for _, want := range c.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("requeue error %q: want it to say %q", err, want)
				}
			}
			if res.Requeued != 1 {
				t.Errorf("requeued before the stop: got %d, want 1 (a)", res.Requeued)
			}
			afterTheStall(t, url, c.blocked != "")
		})
	}
}

// TestRequeueCancelledEndsAtOnceWhenRabbitMQStopsAnswering: Ctrl-C while a
// confirm is held back ends the requeue at once: the connection's close
// does not wait for a close-ok that a blocked broker does not send (it
// took a second Ctrl-C).
func TestRequeueCancelledEndsAtOnceWhenRabbitMQStopsAnswering(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url, command("a"), command("b"), command("c"))
	sb := testenv.NewStallingBroker(t, url)
	sb.StallAt(2, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-sb.Stalled()
		time.Sleep(100 * time.Millisecond) // waiting for the confirm
		cancel()
	}()

	res, err := requeueThrough(t, ctx, sb, time.Minute, 5*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("requeue: got %v, want context.Canceled", err)
	}
	if res.Requeued != 1 {
		t.Errorf("requeued before the stop: got %d, want 1 (a)", res.Requeued)
	}
	afterTheStall(t, url, false)
}
