package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// deadLetterTimeout bounds the publish of one dead letter, its confirm
// included: a letter that cannot be published fails its message, which
// goes back to its queue and is tried again.
const deadLetterTimeout = 30 * time.Second

// deadLetterPublisher publishes dead letters mandatory and confirmed,
// after declaring their exchange and queue on each new connection. The
// poison middleware acknowledges the original once Publish returns, so a
// letter RabbitMQ confirmed but dropped (the dead-letter queue deleted by
// hand, a broker that lost its definitions) would be a message lost:
// watermill-amqp's publisher declares the exchange once per process and
// does not publish mandatory. A letter that comes back is sent once more
// on a new connection, which declares the queue again.
//
// It connects at the first dead letter (most workers never send one) and
// keeps the connection for the next.
type deadLetterPublisher struct {
	url string
	mu  sync.Mutex
	// conn and ch are nil until the first letter and after a failure.
	conn *amqp.Connection
	ch   *MandatoryChannel
	// closed: Close was called. A handler the router's close timeout left
	// running would otherwise open a connection no one closes.
	closed bool
}

// errDeadLettersClosed fails a letter published after Close: its message
// goes back to its queue, for the next worker.
var errDeadLettersClosed = errors.New("the worker stopped: the dead letter is not published, and its message goes back to its queue")

// deadLetterMarshaler stamps each letter with the time it was
// dead-lettered (shown by `trend dlq list`).
var deadLetterMarshaler = wamqp.DefaultMarshaler{PostprocessPublishing: func(p amqp.Publishing) amqp.Publishing {
	p.Timestamp = time.Now().UTC()
	return p
}}

func newDeadLetterPublisher(url string) *deadLetterPublisher {
	return &deadLetterPublisher{url: url}
}

// Publish sends msgs to the exchange topic, one at a time, and returns
// once RabbitMQ has each in a queue.
func (p *deadLetterPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errDeadLettersClosed
	}
	for _, msg := range msgs {
		pub, err := deadLetterMarshaler.Marshal(msg)
		if err != nil {
			return fmt.Errorf("dead letter %s: %w", msg.UUID, err)
		}
		ctx, cancel := context.WithTimeout(msg.Context(), deadLetterTimeout)
		err = p.publish(ctx, topic, pub)
		cancel()
		if err != nil {
			return fmt.Errorf("dead letter %s: %w", msg.UUID, err)
		}
	}
	return nil
}

// publish sends pub, and once more on a new connection if the first try
// failed: the connection may have died since the last letter (a broker
// restart), or the queue may be gone.
func (p *deadLetterPublisher) publish(ctx context.Context, topic string, pub amqp.Publishing) error {
	var err error
	for range 2 {
		if err = p.connect(ctx, topic); err == nil {
			// ctx's end drops the connection: a write RabbitMQ does not
			// read (under a resource alarm) held the lock, and every later
			// dead letter, for ever.
			stop := DropWhenDone(ctx, p.conn)
			err = p.ch.Publish(ctx, topic, pub)
			stop()
			if err == nil {
				return nil
			}
		}
		p.disconnect()
		if ctx.Err() != nil {
			break
		}
	}
	return err
}

// connect dials RabbitMQ and declares topic's exchange and queue, unless
// a connection is open.
func (p *deadLetterPublisher) connect(ctx context.Context, topic string) error {
	if p.conn != nil && !p.conn.IsClosed() {
		return nil
	}
	p.disconnect()
	conn, err := Dial(ctx, p.url, "trend dead letters", DialTimeout)
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	ch, err := NewMandatoryChannel(conn)
	if err == nil {
		err = declare(ctx, ch.Channel(), []Binding{{Exchange: topic, Queue: topic}})
	}
	if err != nil {
		Drop(conn)
		return err
	}
	p.conn, p.ch = conn, ch
	return nil
}

// disconnect drops the connection (Drop): a polite Close waited for ever
// on a broker under a resource alarm, under the lock every later dead
// letter needs.
func (p *deadLetterPublisher) disconnect() {
	if p.conn != nil {
		Drop(p.conn)
	}
	p.conn, p.ch = nil, nil
}

// Close closes the connection, if one is open: politely, so that the
// broker logs no connection lost, but within a second (CloseWithin).
func (p *deadLetterPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		CloseWithin(p.conn, time.Second)
	}
	p.conn, p.ch = nil, nil
	return nil
}

var _ message.Publisher = (*deadLetterPublisher)(nil)
