package messaging_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// A queue deleted under the worker (by hand, or a broker that lost its
// definitions) cancels its consumers. watermill-amqp then read zero
// deliveries from their closed channels, and each became a message of no
// name that went to the dead letters: an empty letter per subscription.
// Now the subscriptions just come back, and the dead letters stay empty.
func TestADeletedQueueLeavesNoEmptyDeadLetters(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	const subscriptions = 2
	router, err := messaging.NewWorker(messaging.WorkerConfig{
		AMQPURL: url,
		Batched: []messaging.BatchedHandler{messaging.BatchedCommand("RecordViews", subscriptions, func(context.Context, *struct{}) error { return nil })},
		Logger:  watermill.NopLogger{},
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-router.Running()
	queue := messaging.CommandTopic("RecordViews")
	consumers := func() int {
		q, err := messaging.InspectQueue(testenv.Channel(t, url), queue)
		if err != nil {
			return -1 // not there (yet)
		}
		return q.Consumers
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("in 30 s, not %s", what)
			}
		}
	}
	waitFor("every subscription consuming", func() bool { return consumers() == subscriptions })
	if _, err := testenv.Channel(t, url).QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	// The subscriptions declare their queue again when they reconnect; a
	// letter made of a zero delivery is published before that.
	waitFor("the subscriptions back on a new queue", func() bool { return consumers() == subscriptions })
	if letters := testenv.Drain(t, url, messaging.DeadLetterTopic); len(letters) != 0 {
		t.Errorf("%d dead letters after the queue was deleted, want none; the first: %q, headers %v", len(letters), letters[0].Body, letters[0].Headers)
	}
}
