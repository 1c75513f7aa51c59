package messaging

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Deliveries records, for each subscription a worker has to a queue, when
// it last moved (handed the worker a message, or saw one settled) and how
// many messages it holds. A subscription can stop receiving while its
// handlers sit idle (a consumer RabbitMQ no longer serves, one not made
// again after a reconnect): no handler hangs and the router runs, so only
// this record, beside the queue's count of waiting messages, shows it (see
// Stalls). It is kept per subscription: the others on the same queue may
// go on serving it.
type Deliveries struct {
	now    func() time.Time
	mu     sync.Mutex
	queues map[string]*queueState
}

type queueState struct {
	watched time.Time // before its first subscription
	subs    map[*subscription]bool
}

type subscription struct {
	moved atomic.Int64 // unix nanoseconds
	held  atomic.Int64 // messages handed out, not yet acked or nacked
}

// NewDeliveries returns an empty record on the clock now.
func NewDeliveries(now func() time.Time) *Deliveries {
	if now == nil {
		now = time.Now
	}
	return &Deliveries{now: now, queues: map[string]*queueState{}}
}

// Watch returns sub with every message it hands out recorded against
// queue, per subscription. The queue and each subscription count as
// moving when they start, so that they get time to receive.
func (d *Deliveries) Watch(sub message.Subscriber, queue string) message.Subscriber {
	d.mu.Lock()
	if d.queues[queue] == nil {
		d.queues[queue] = &queueState{watched: d.now(), subs: map[*subscription]bool{}}
	}
	d.mu.Unlock()
	return watchedSubscriber{Subscriber: sub, d: d, queue: queue}
}

// Queues lists the queues watched, in name order.
func (d *Deliveries) Queues() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var qs []string
	for q := range d.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return qs
}

// Idle is since when the longest idle of queue's subscriptions that hold
// no message has not moved (the queue's watch, before any subscription);
// ok is false when each of them holds a message.
func (d *Deliveries) Idle(queue string) (since time.Time, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[queue]
	if q == nil {
		return time.Time{}, false
	}
	if len(q.subs) == 0 {
		return q.watched, true
	}
	for s := range q.subs {
		if s.held.Load() > 0 {
			continue
		}
		if at := time.Unix(0, s.moved.Load()); !ok || at.Before(since) {
			since, ok = at, true
		}
	}
	return since, ok
}

// start records a new subscription to queue; end forgets it.
func (d *Deliveries) start(queue string) (s *subscription, end func()) {
	s = new(subscription)
	s.moved.Store(d.now().UnixNano())
	d.mu.Lock()
	d.queues[queue].subs[s] = true
	d.mu.Unlock()
	return s, func() {
		d.mu.Lock()
		delete(d.queues[queue].subs, s)
		d.mu.Unlock()
	}
}

type watchedSubscriber struct {
	message.Subscriber
	d     *Deliveries
	queue string
}

// Subscribe records each message as the router takes it and as it is
// settled: one hop through a goroutine per message, and a message is a
// bundle of many views. It takes the next message once the last one is
// acked or nacked, as watermill-amqp's subscriptions do anyway.
func (w watchedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := w.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	s, end := w.d.start(w.queue)
	now := w.d.now
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		defer end()
		for msg := range in {
			s.held.Add(1)
			s.moved.Store(now().UnixNano())
			select {
			case out <- msg:
			case <-ctx.Done():
				// The router stopped before it took the message: give it
				// back (the subscription waits for its ack or nack).
				msg.Nack()
				s.held.Add(-1)
				return
			}
			select {
			case <-msg.Acked():
			case <-msg.Nacked():
			case <-ctx.Done():
			}
			// The moved stamp before no longer held: a check between the two would
			// see an idle subscription of long ago.
			s.moved.Store(now().UnixNano())
			s.held.Add(-1)
		}
	}()
	return out, nil
}

// Stalls finds the queues a worker consumes that hold messages ready for
// delivery while one of the worker's subscriptions to them has received
// none for a while, and holds none: a subscription that stopped
// receiving. It asks RabbitMQ (a passive declare of each
// queue, on a connection of its own) for the count of ready messages.
type Stalls struct {
	url        string
	deliveries *Deliveries
	after      time.Duration
	now        func() time.Time
	// Timeout bounds one check: amqp091-go's calls take no context, and
	// a broker that stops answering would hold the check for good. The
	// connection is closed then, and made again next time.
	Timeout time.Duration

	conn       *amqp.Connection
	ch         *amqp.Channel
	readySince map[string]time.Time
}

// NewStalls watches the queues of deliveries: a queue is stalled once it
// has had messages ready at every check for after, while one of its
// subscriptions has neither moved in that time nor holds a message.
func NewStalls(amqpURL string, deliveries *Deliveries, after time.Duration) *Stalls {
	return &Stalls{url: amqpURL, deliveries: deliveries, after: after, now: deliveries.now, Timeout: 5 * time.Second,
		readySince: map[string]time.Time{}}
}

// Check returns the stalled queues. A queue's ready messages must be seen
// at each check for the whole of after: one check that finds the queue
// empty, or fails, starts it over. Not safe for concurrent use.
func (s *Stalls) Check() ([]string, error) {
	if err := s.connect(); err != nil {
		clear(s.readySince)
		return nil, err
	}
	conn := s.conn
	bound := time.AfterFunc(s.Timeout, func() { conn.Close() })
	defer bound.Stop()
	var stalled []string
	for _, q := range s.deliveries.Queues() {
		ready, err := s.ready(q)
		if err != nil {
			// Unseen, the queues start over: after an outage, a backlog
			// that no subscription could take is no stall yet.
			clear(s.readySince)
			return nil, err
		}
		now := s.now()
		if ready == 0 {
			delete(s.readySince, q)
			continue
		}
		since, ok := s.readySince[q]
		if !ok {
			s.readySince[q] = now
			continue
		}
		// A subscription that holds a message is busy, however long: the
		// worker's hung-attempt check judges that. One that holds none
		// while messages wait has stopped receiving: RabbitMQ hands each
		// consumer with room some of them.
		idle, ok := s.deliveries.Idle(q)
		if ok && now.Sub(since) >= s.after && now.Sub(idle) >= s.after {
			stalled = append(stalled, q)
		}
	}
	return stalled, nil
}

// connect opens the connection and channel if they are not open.
func (s *Stalls) connect() error {
	if s.ch != nil && !s.ch.IsClosed() {
		return nil
	}
	if s.conn == nil || s.conn.IsClosed() {
		conn, err := Dial(context.Background(), s.url, "trend worker stall check", s.Timeout)
		if err != nil {
			return fmt.Errorf("connect to RabbitMQ: %w", err)
		}
		s.conn = conn
	}
	ch, err := s.conn.Channel()
	if err != nil {
		s.conn.Close()
		return fmt.Errorf("open a channel: %w", err)
	}
	s.ch = ch
	return nil
}

// ready is how many messages queue holds ready for delivery.
func (s *Stalls) ready(queue string) (int, error) {
	// Passive: RabbitMQ only says whether the queue exists, and its counts
	// (a missing queue closes the channel, opened again next time).
	q, err := InspectQueue(s.ch, queue)
	if err != nil {
		return 0, fmt.Errorf("count the messages of %s: %w", queue, err)
	}
	return q.Messages, nil
}

// Close ends the connection to RabbitMQ.
func (s *Stalls) Close() {
	if s.conn != nil {
		s.conn.Close()
	}
}
