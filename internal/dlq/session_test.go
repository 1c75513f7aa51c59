package dlq

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// The safety argument rests on this: letters taken and neither
// acknowledged nor returned (the process died, the context ended, the
// connection dropped) are back in the queue, in their order.
func TestLettersTakenComeBackWhenTheSessionDies(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		testenv.Publish(t, url, messaging.DeadLetterTopic,
			amqp.Publishing{Headers: amqp.Table{"_watermill_message_uuid": id}, DeliveryMode: amqp.Persistent})
	}
	c := New(url)
	testenv.WaitFor(t, 10*time.Second, "3 dead letters", func() bool {
		n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		return err == nil && n == 3
	})

	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, ok, err := s.next(); !ok || err != nil {
			t.Fatalf("take a letter: got %v, %v; want one", ok, err)
		}
	}
	cancel() // closes the connection under the session, as a crash would
	testenv.WaitFor(t, 10*time.Second, "the connection to close", s.conn.IsClosed)
	if _, _, err := s.next(); err == nil {
		t.Errorf("take a letter after the context ended: got no error, want one")
	}

	l, err := c.List(t.Context(), All(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range l.Letters {
		got = append(got, x.ID)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after the session died: got %v, want %v", got, want)
	}
}

// TestPurgeAllLeavesALetterThatArrivedAfterItBegan: purging every letter
// deletes the letters present when the purge began, as a requeue takes
// them. One that arrives meanwhile (a RecordViews command nobody has seen,
// holding views the API already accepted) stays: queue.purge deleted it
// too. The late letter is published, and confirmed, between the start of
// the session and the purge, so this does not depend on timing.
func TestPurgeAllLeavesALetterThatArrivedAfterItBegan(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	letter := func(id string) amqp.Publishing {
		return amqp.Publishing{Headers: amqp.Table{"_watermill_message_uuid": id}, DeliveryMode: amqp.Persistent}
	}
	testenv.Publish(t, url, messaging.DeadLetterTopic, letter("a"), letter("b"), letter("c"))
	testenv.WaitFor(t, 10*time.Second, "3 dead letters", func() bool {
		n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		return err == nil && n == 3
	})
	c := New(url)
	s, err := c.begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.end()
	if s.depth != 3 {
		t.Fatalf("session began with %d letters, want 3", s.depth)
	}
	// Confirmed: in the queue before the purge takes anything.
	testenv.Publish(t, url, messaging.DeadLetterTopic, letter("late"))

	res, err := s.purge(All())
	if err != nil {
		t.Fatal(err)
	}
	s.end()
	if res.Purged != 3 || len(res.NotFound) != 0 {
		t.Errorf("purge all: got %+v, want the 3 letters present when it began", res)
	}
	testenv.WaitFor(t, 10*time.Second, "1 dead letter", func() bool {
		n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		return err == nil && n == 1
	})
	l, err := c.List(t.Context(), All(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Letters) != 1 || l.Letters[0].ID != "late" {
		t.Errorf("after the purge: got %+v, want the late letter alone", l.Letters)
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short", []byte(`{"a":1}`), `{"a":1}`},
		{"exactly the limit", []byte(strings.Repeat("x", 200)), strings.Repeat("x", 200)},
		{"cut", []byte(strings.Repeat("x", 250)), strings.Repeat("x", 200)},
		{"character across the limit", []byte(strings.Repeat("x", 199) + "é"), strings.Repeat("x", 199)},
		{"binary", []byte{0xff, 'a', 0xfe}, "\uFFFDa\uFFFD"},
	} {
		if got := preview(tc.in); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestOneSessionAtATime: a session holds the letters it took, so a
// requeue of every letter while another session (the dashboard's listing)
// held some would miss them and say it was done. Sessions take turns,
// across connections: the requeue waits, then requeues every letter.
func TestOneSessionAtATime(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		testenv.Publish(t, url, messaging.DeadLetterTopic, amqp.Publishing{DeliveryMode: amqp.Persistent,
			Headers: amqp.Table{"_watermill_message_uuid": id, "topic_poisoned": messaging.CommandTopic("RecordViews")}})
	}
	testenv.WaitFor(t, 10*time.Second, "3 dead letters", func() bool {
		n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		return err == nil && n == 3
	})
	c := New(url)
	listing, err := c.begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d, ok, err := listing.next()
		if !ok || err != nil {
			t.Fatalf("take a letter: %v, %v", ok, err)
		}
		listing.hold(d)
	}
	done := make(chan RequeueResult, 1)
	go func() {
		res, err := New(url).Requeue(t.Context(), All())
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		t.Fatalf("the requeue ran while another session held 2 of the 3 letters: %+v", res)
	case <-time.After(500 * time.Millisecond):
	}
	listing.end()
	select {
	case res := <-done:
		if res.Requeued != 3 {
			t.Errorf("requeued %d, want all 3", res.Requeued)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the requeue did not run once the other session ended")
	}
}

// A letter's time that JSON cannot hold is left out, so that the listing
// (the API's, `dlq list --json`) still encodes: one hand-published letter
// with milliseconds in the AMQP timestamp's seconds had made it fail.
func TestDeadLetteredAtFitsJSON(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		d    amqp.Delivery
		want *time.Time
	}{
		{"none", amqp.Delivery{}, nil},
		{"the AMQP timestamp", amqp.Delivery{Timestamp: now}, &now},
		{"RabbitMQ's header", amqp.Delivery{Headers: amqp.Table{"timestamp_in_ms": now.UnixMilli()}}, &now},
		{"milliseconds as seconds", amqp.Delivery{Timestamp: time.Unix(now.UnixMilli(), 0)}, nil},
		{"milliseconds as seconds in the header", amqp.Delivery{Headers: amqp.Table{"timestamp_in_ms": now.UnixMilli() * 1000}}, nil},
	} {
		got := deadLetteredAt(c.d)
		if (got == nil) != (c.want == nil) || got != nil && !got.Equal(*c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		if _, err := json.Marshal(Letter{DeadLetteredAt: got}); err != nil {
			t.Errorf("%s: the letter does not encode: %v", c.name, err)
		}
	}
}

// TestSessionEndsWhenRabbitMQStopsAnswering: a session's end closes its
// connection promptly, even when the broker answers nothing: one that
// stopped answering altogether within closeWait; one that blocked the
// connection (a resource alarm: it stops reading the connection, so no
// close-ok comes, but keeps sending heartbeats) at once. A plain Close
// waited for ever, and the CLI needed a second Ctrl-C.
func TestSessionEndsWhenRabbitMQStopsAnswering(t *testing.T) {
	t.Parallel()
	for _, blocked := range []string{"", "low on disk"} {
		t.Run("blocked="+blocked, func(t *testing.T) {
			t.Parallel()
			url := testenv.BrokerURL(t)
			if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
				t.Fatal(err)
			}
			testenv.Publish(t, url, messaging.DeadLetterTopic,
				amqp.Publishing{Headers: amqp.Table{"_watermill_message_uuid": "a"}, DeliveryMode: amqp.Persistent})
			sb := testenv.NewStallingBroker(t, url)
			s, err := New(sb.URL).begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			d, ok, err := s.next()
			if !ok || err != nil {
				t.Fatalf("take a letter: %v, %v", ok, err)
			}
			s.hold(d)
			sb.Stall(blocked)
			if blocked != "" {
				testenv.WaitFor(t, 5*time.Second, "the block seen", func() bool { return isClosed(s.blocks.Blocked()) })
			}
			testenv.EndsWithin(t, closeWait+2*time.Second, "the session's end, the broker silent,", func() error {
				s.end()
				return nil
			})
			if blocked != "" && !s.conn.IsClosed() {
				t.Error("the blocked session's connection is open after its end: want it dropped")
			}
			// The broker returns the letter once the connection is gone.
			testenv.WaitFor(t, 10*time.Second, "the letter back in dead-letters", func() bool {
				n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
				return err == nil && n == 1
			})
		})
	}
}
