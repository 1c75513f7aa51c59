package messaging_test

import (
	"fmt"
	"slices"
	"testing"

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
