package messaging_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// TestADeadLetterIsNotDroppedWhenItsQueueIsGone: the poison middleware
// acknowledges a message once its dead letter is published, so a letter
// RabbitMQ confirms but routes nowhere (the dead-letters queue deleted by
// hand, or its exchange too) would be the message lost. The publisher
// declares them again and the letter arrives.
func TestADeadLetterIsNotDroppedWhenItsQueueIsGone(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	pub := messaging.NewDeadLetterPublisher(url)
	t.Cleanup(func() { pub.Close() })
	admin := testenv.Channel(t, url)
	// send publishes one letter and checks that it, alone, is in the queue.
	send := func(id string) {
		t.Helper()
		if err := pub.Publish(messaging.DeadLetterTopic, message.NewMessage(id, []byte(`{}`))); err != nil {
			t.Fatalf("letter %s: %v", id, err)
		}
		var got []string
		for _, d := range testenv.Drain(t, url, messaging.DeadLetterTopic) {
			got = append(got, fmt.Sprint(d.Headers[wamqp.DefaultMessageUUIDHeaderKey]))
			if d.Timestamp.IsZero() {
				t.Errorf("letter %s has no timestamp", got[len(got)-1])
			}
		}
		if !slices.Equal(got, []string{id}) {
			t.Errorf("dead-letters queue holds %v, want [%s]", got, id)
		}
	}
	send("first") // the publisher is connected from here on
	if _, err := admin.QueueDelete(messaging.DeadLetterTopic, false, false, false); err != nil {
		t.Fatal(err)
	}
	send("after-the-queue-went")
	if _, err := admin.QueueDelete(messaging.DeadLetterTopic, false, false, false); err != nil {
		t.Fatal(err)
	}
	if err := admin.ExchangeDelete(messaging.DeadLetterTopic, false, false); err != nil {
		t.Fatal(err)
	}
	send("after-the-exchange-went")
}

// TestADeadLetterGivesUpOnASilentBroker: a broker under a resource alarm
// reads nothing from a publisher, yet sends heartbeats. A letter then
// failed its deadline waiting for the confirm, and closing the connection
// waited for a close-ok that never came; a letter larger than the sockets'
// buffers blocked in its write, which no context ends. Either held the
// publisher's lock, and every later dead letter, for ever.
func TestADeadLetterGivesUpOnASilentBroker(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		stopReading bool
		size        int
	}{
		{"no confirm", false, 2},
		{"nothing read", true, 32 << 20}, // more than the sockets hold
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := testenv.BrokerURL(t)
			if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
				t.Fatal(err)
			}
			sb := testenv.NewStallingBroker(t, url)
			if c.stopReading {
				sb.StopReading()
			}
			sb.StallAt(1, "") // the first letter's publish: nothing comes back
			pub := messaging.NewDeadLetterPublisher(sb.URL)
			t.Cleanup(func() { pub.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			msg := message.NewMessage("stalled", make([]byte, c.size))
			msg.SetContext(ctx)
			err := testenv.EndsWithin(t, 10*time.Second, "a dead letter's publish, the broker silent,", func() error {
				return pub.Publish(messaging.DeadLetterTopic, msg)
			})
			if err == nil {
				t.Fatal("published to a broker that answered nothing")
			}
			testenv.EndsWithin(t, 5*time.Second, "the publisher's close after it", func() error { return pub.Close() })
		})
	}
}

// A letter published after the publisher was closed (a handler the
// router's close timeout left running) fails, its message going back to
// its queue, instead of opening a connection no one would close.
func TestADeadLetterAfterCloseOpensNoConnection(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	pub := messaging.NewDeadLetterPublisher(url)
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(messaging.DeadLetterTopic, message.NewMessage("late", []byte(`{}`))); err == nil {
		t.Fatal("a letter after Close was published, want an error")
	}
	// Published, the letter would be there (the publisher declares the
	// queue on its connection).
	if n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic); err == nil && n > 0 {
		t.Errorf("%d letters in the queue after Close, want none", n)
	}
}
