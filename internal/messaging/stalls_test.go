package messaging_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// silentSubscriber hands out what a test puts on its channel: a
// subscription that RabbitMQ does not serve unless the test says so.
type silentSubscriber struct{ ch chan *message.Message }

func (s silentSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return s.ch, nil
}
func (silentSubscriber) Close() error { return nil }

// A queue whose messages wait while none reaches its subscription is
// stalled once that has lasted the threshold; a delivery, or an empty
// queue, starts the count over.
func TestStallsFindAQueueNoSubscriptionServes(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews", "RegisterMovie"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	busy, idle := messaging.CommandTopic("RecordViews"), messaging.CommandTopic("RegisterMovie")
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	d := messaging.NewDeliveries(clock)
	feed := make(chan *message.Message)
	sub := d.Watch(silentSubscriber{feed}, busy)
	d.Watch(silentSubscriber{make(chan *message.Message)}, idle)
	if got, want := d.Queues(), []string{busy, idle}; !slices.Equal(got, want) {
		t.Fatalf("watched queues %v, want %v", got, want)
	}
	testenv.Publish(t, url, busy, amqp.Publishing{Body: []byte("waiting")})

	s := messaging.NewStalls(url, d, time.Minute)
	defer s.Close()
	check := func(want ...string) {
		t.Helper()
		got, err := s.Check()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("stalled %v, want %v", got, want)
		}
	}
	check() // first seen waiting
	advance(59 * time.Second)
	check()
	advance(time.Second)
	check(busy) // a minute waiting, nothing delivered

	// A delivery (the router takes a message) ends the stall, and while
	// the worker holds the message (a handler at work) the queue is busy,
	// not stalled, however long that takes.
	out, err := sub.Subscribe(t.Context(), busy)
	if err != nil {
		t.Fatal(err)
	}
	go func() { feed <- message.NewMessage(watermill.NewUUID(), nil) }()
	held := <-out
	check()
	advance(time.Hour)
	check()
	held.Ack()
	waitSettled(t, d, busy)
	check() // settled just now
	advance(time.Minute)
	check(busy)

	// Once the queue is found empty, its messages must wait a whole
	// minute again.
	testenv.Drain(t, url, busy)
	check()
	testenv.Publish(t, url, busy, amqp.Publishing{Body: []byte("waiting")})
	advance(time.Hour)
	check()
	advance(time.Minute)
	check(busy)
	close(feed)
}

// waitSettled waits until queue's subscriptions hold no message.
func waitSettled(t *testing.T, d *messaging.Deliveries, queue string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, held := d.Moved(queue); held == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: a message acked 30 s ago still counts as held", queue)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A check that cannot count a queue's messages says so, finds nothing
// stalled, and starts every count over.
func TestStallsStartOverWhenUnseen(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	d := messaging.NewDeliveries(clock)
	queue := messaging.CommandTopic("RecordViews")
	d.Watch(silentSubscriber{make(chan *message.Message)}, queue)
	testenv.Publish(t, url, queue, amqp.Publishing{Body: []byte("waiting")})
	s := messaging.NewStalls(url, d, time.Minute)
	defer s.Close()
	if _, err := s.Check(); err != nil {
		t.Fatal(err)
	}
	// A queue that is not there fails the check, as RabbitMQ away would.
	d.Watch(silentSubscriber{make(chan *message.Message)}, "no-such-queue")
	advance(time.Hour)
	if got, err := s.Check(); err == nil || got != nil {
		t.Fatalf("a missing queue: stalled %v, error %v; want an error and nothing stalled", got, err)
	}
	if _, err := testenv.Channel(t, url).QueueDeclare("no-such-queue", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// Seen again: the count starts now, on a channel opened again.
	if got, err := s.Check(); err != nil || got != nil {
		t.Fatalf("first check after a failed one: stalled %v, error %v; want none", got, err)
	}
	advance(time.Minute)
	if got, err := s.Check(); err != nil || !slices.Equal(got, []string{queue}) {
		t.Fatalf("a minute later: stalled %v, error %v; want %s", got, err, queue)
	}
}

// The worker records the deliveries of every queue it consumes: its
// batched handlers', its commands' and its event groups'.
func TestWorkerRecordsEachQueuesDeliveries(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	topo := messaging.Topology{Commands: []string{"RecordViews", "RegisterMovie"}, EventGroups: []string{"enrichment"}}
	if err := topo.Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	type RegisterMovie struct{}
	d := messaging.NewDeliveries(time.Now)
	router, err := messaging.NewWorker(messaging.WorkerConfig{
		AMQPURL: url,
		Batched: []messaging.BatchedHandler{messaging.BatchedCommand("RecordViews", 2, func(context.Context, *struct{}) error { return nil })},
		CommandHandlers: []cqrs.CommandHandler{cqrs.NewCommandHandler("RegisterMovie",
			func(context.Context, *RegisterMovie) error { return nil })},
		EventGroups: map[string][]cqrs.GroupEventHandler{"enrichment": {cqrs.NewGroupEventHandler(
			func(context.Context, *RegisterMovie) error { return nil })}},
		Logger:     watermill.NopLogger{},
		Log:        slog.New(slog.DiscardHandler),
		Deliveries: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{messaging.CommandTopic("RecordViews"), messaging.CommandTopic("RegisterMovie"), messaging.EventQueue("enrichment")}
	if got := d.Queues(); !slices.Equal(got, want) {
		t.Errorf("watched queues %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-router.Running()
	// Not messages their handlers take (they refuse them): deliveries all
	// the same. Each goes straight to its queue (the default exchange).
	ch := testenv.Channel(t, url)
	for _, queue := range want {
		before, _ := d.Moved(queue)
		if err := ch.PublishWithContext(t.Context(), "", queue, true, false, amqp.Publishing{Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for moved, held := d.Moved(queue); !moved.After(before) || held != 0; moved, held = d.Moved(queue) {
			if time.Now().After(deadline) {
				t.Fatalf("a message published to %s: in 30 s, no delivery recorded and settled (moved %v, held %d)", queue, moved, held)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// feedSubscriber gives each subscription a channel of its own, which the
// test feeds.
type feedSubscriber struct{ feeds chan chan *message.Message }

func (s feedSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	ch := make(chan *message.Message)
	s.feeds <- ch
	return ch, nil
}
func (feedSubscriber) Close() error { return nil }

// One silent subscription among several on a queue is a stall, though
// the others keep serving the queue.
func TestStallsSeeOneSilentSubscriptionAmongSeveral(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	queue := messaging.CommandTopic("RecordViews")
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	d := messaging.NewDeliveries(clock)
	fs := feedSubscriber{feeds: make(chan chan *message.Message, 2)}
	sub := d.Watch(fs, queue)
	served, err := sub.Subscribe(t.Context(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(t.Context(), queue); err != nil { // the silent one
		t.Fatal(err)
	}
	feed := <-fs.feeds
	defer close(feed)
	defer close(<-fs.feeds)
	testenv.Publish(t, url, queue, amqp.Publishing{Body: []byte("waiting")})
	s := messaging.NewStalls(url, d, time.Minute)
	defer s.Close()
	if got, err := s.Check(); err != nil || got != nil {
		t.Fatalf("first check: stalled %v, error %v; want none", got, err)
	}
	advance(time.Minute)
	// The served subscription takes a message and settles it.
	go func() { feed <- message.NewMessage(watermill.NewUUID(), nil) }()
	(<-served).Ack()
	waitSettled(t, d, queue)
	if got, err := s.Check(); err != nil || !slices.Equal(got, []string{queue}) {
		t.Errorf("a minute on, one subscription served and one silent: stalled %v, error %v; want %s", got, err, queue)
	}
}
