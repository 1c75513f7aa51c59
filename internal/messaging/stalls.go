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

// Deliveries records when each queue a worker consumes last handed one of
// its subscriptions a message. A subscription can stop receiving while its
// handlers sit idle (a consumer RabbitMQ no longer serves, one not made
// again after a reconnect): no handler hangs and the router runs, so only
// this record, beside the queue's count of waiting messages, shows it (see
// Stalls).
type Deliveries struct {
	now  func() time.Time
	mu   sync.Mutex
	last map[string]*atomic.Int64 // queue → unix nanoseconds
}

// NewDeliveries returns an empty record on the clock now.
func NewDeliveries(now func() time.Time) *Deliveries {
	if now == nil {
		now = time.Now
	}
	return &Deliveries{now: now, last: map[string]*atomic.Int64{}}
}

// Watch returns sub with every message it hands out recorded against
// queue. The queue counts as served when it is watched, so that a
// subscription gets time to start.
func (d *Deliveries) Watch(sub message.Subscriber, queue string) message.Subscriber {
	d.mu.Lock()
	stamp := d.last[queue]
	if stamp == nil {
		stamp = new(atomic.Int64)
		d.last[queue] = stamp
	}
	d.mu.Unlock()
	stamp.Store(d.now().UnixNano())
	return watchedSubscriber{Subscriber: sub, stamp: stamp, now: d.now}
}

// Queues lists the queues watched, in name order.
func (d *Deliveries) Queues() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var qs []string
	for q := range d.last {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return qs
}

// Last is when queue last handed out a message (zero if not watched).
func (d *Deliveries) Last(queue string) time.Time {
	d.mu.Lock()
	stamp := d.last[queue]
	d.mu.Unlock()
	if stamp == nil {
		return time.Time{}
	}
	return time.Unix(0, stamp.Load())
}

type watchedSubscriber struct {
	message.Subscriber
	stamp *atomic.Int64
	now   func() time.Time
}

// Subscribe stamps each message as the router takes it: one hop through
// a goroutine per message, and a message is a bundle of many views.
func (s watchedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := s.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			s.stamp.Store(s.now().UnixNano())
			select {
			case out <- msg:
			case <-ctx.Done():
				// The router stopped: the subscriber nacks what it still
				// holds once it is closed.
				return
			}
		}
	}()
	return out, nil
}

// Stalls finds the queues a worker consumes that hold messages ready for
// delivery while none has reached the worker for a while: a subscription
// that stopped receiving. It asks RabbitMQ (a passive declare of each
// queue, on a connection of its own) for the count of ready messages.
type Stalls struct {
	url        string
	deliveries *Deliveries
	after      time.Duration
	now        func() time.Time

	conn       *amqp.Connection
	ch         *amqp.Channel
	readySince map[string]time.Time
}

// NewStalls watches the queues of deliveries: a queue is stalled once it
// has had messages ready at every check for after, and handed none out
// in that time.
func NewStalls(amqpURL string, deliveries *Deliveries, after time.Duration) *Stalls {
	return &Stalls{url: amqpURL, deliveries: deliveries, after: after, now: deliveries.now, readySince: map[string]time.Time{}}
}

// Check returns the stalled queues. A queue's ready messages must be seen
// at each check for the whole of after: one check that finds the queue
// empty, or fails, starts it over. Not safe for concurrent use.
func (s *Stalls) Check() ([]string, error) {
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
		if now.Sub(since) >= s.after && now.Sub(s.deliveries.Last(q)) >= s.after {
			stalled = append(stalled, q)
		}
	}
	return stalled, nil
}

// ready is how many messages queue holds ready for delivery.
func (s *Stalls) ready(queue string) (int, error) {
	if s.ch == nil || s.ch.IsClosed() {
		if s.conn == nil || s.conn.IsClosed() {
			conn, err := amqp.DialConfig(s.url, amqp.Config{Properties: amqp.Table{"connection_name": "trend worker stall check"}})
			if err != nil {
				return 0, fmt.Errorf("connect to RabbitMQ: %w", err)
			}
			s.conn = conn
		}
		ch, err := s.conn.Channel()
		if err != nil {
			s.conn.Close()
			return 0, fmt.Errorf("open a channel: %w", err)
		}
		s.ch = ch
	}
	// Passive: RabbitMQ only says whether the queue exists, and its counts
	// (a missing queue closes the channel, opened again next time).
	q, err := s.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
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
