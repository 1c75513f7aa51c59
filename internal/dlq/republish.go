package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
)

// stripped are the headers a requeued copy does not carry: the poison
// middleware's, so that a new failure records fresh ones, and what the
// broker added to the dead letter (a quorum queue's delivery count, the
// interceptor's arrival time), which are not strings: Watermill would
// refuse the message.
var stripped = map[string]bool{
	middleware.ReasonForPoisonedKey:  true,
	middleware.PoisonedTopicKey:      true,
	middleware.PoisonedHandlerKey:    true,
	middleware.PoisonedSubscriberKey: true,
	"x-delivery-count":               true,
	"timestamp_in_ms":                true,
}

// skipError says why a selected letter was left in the queue; the
// operation goes on with the next one.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

// republisher publishes copies on a confirm channel of its own: a failed
// publish closes that channel, never the one the letters are held on.
type republisher struct {
	pub       *messaging.MandatoryChannel
	exchanges *messaging.ExchangeChecker
	blocks    *messaging.BlockWatch
	// wait bounds each republish (ConfirmTimeout); drop closes the
	// connection at once.
	wait time.Duration
	drop func()
}

// newRepublisher publishes on conn, whose blocks are watched since before
// its first publish: RabbitMQ tells a connection that it blocks it when it
// publishes during an alarm.
func newRepublisher(conn *amqp.Connection, blocks *messaging.BlockWatch, wait time.Duration, drop func()) (*republisher, error) {
	pub, err := messaging.NewMandatoryChannel(conn)
	if err != nil {
		return nil, err
	}
	return &republisher{pub: pub, exchanges: messaging.NewExchangeChecker(conn), blocks: blocks, wait: wait, drop: drop}, nil
}

// errWaited is the cause of a republish that outlasted its bound.
var errWaited = errors.New("the republish outlasted its bound")

// copyMayBeOut is what a stopped requeue says of the letter it waited for,
// after the README's at-least-once rule.
const copyMayBeOut = "it stays in " + messaging.DeadLetterTopic + ", but its copy may have been published anyway, so it may be delivered twice (the handlers ignore what they already handled)"

// republish publishes a copy of d to exchange and returns once the broker
// confirmed it was routed to at least one queue. A skipError means d cannot
// go there; any other error means the copy may or may not have arrived.
//
// It takes at most p.wait, and ends as soon as RabbitMQ blocks the
// connection (a resource alarm), with an error wrapping ErrNotConfirmed or
// ErrBlocked: a blocked connection is not read until the alarm clears, so
// the confirm would not come before. Either ending drops the connection
// too, as the relay does, since neither interrupts a write RabbitMQ does
// not read (a copy larger than the socket's buffers) or an exchange check
// it does not answer; the requeue stops there anyway, and the broker
// returns the letters it held.
func (p *republisher) republish(ctx context.Context, exchange string, d amqp.Delivery) error {
	blocked := p.blocks.Blocked()
	select {
	case <-blocked:
		// Nothing sent: this letter was not published, and is not waited for.
		return fmt.Errorf("not requeued: %w; it stays in %s", p.blocks.Err(), messaging.DeadLetterTopic)
	default:
	}
	unblocked, stopBlocked := context.WithCancelCause(ctx)
	defer stopBlocked(nil)
	bounded, stopWait := context.WithTimeoutCause(unblocked, p.wait, errWaited)
	defer stopWait()
	go func() {
		select {
		case <-blocked:
			stopBlocked(p.blocks.Err())
		case <-bounded.Done():
		}
	}()
	defer context.AfterFunc(bounded, func() {
		if stalled(context.Cause(bounded)) {
			p.drop()
		}
	})()

	reason, err := p.check(exchange)
	if err == nil && reason == "" {
		// Mandatory: a fanout exchange with no queue would confirm the copy
		// and drop it; this way the broker returns it.
		err = p.pub.Publish(bounded, exchange, republishing(d))
	}
	if cause := context.Cause(bounded); err != nil && stalled(cause) {
		if errors.Is(cause, errWaited) {
			return fmt.Errorf("%w (waited %s; RabbitMQ may be under a resource alarm): %s", ErrNotConfirmed, p.wait, copyMayBeOut)
		}
		return fmt.Errorf("%w: %s", cause, copyMayBeOut)
	}
	switch {
	case errors.Is(err, messaging.ErrUnrouted):
		return skipError{err.Error()}
	case err != nil:
		return err
	case reason != "":
		return skipError{reason}
	}
	return nil
}

// stalled tells whether cause is one of republish's own bounds: not the
// caller's context.
func stalled(cause error) bool {
	return errors.Is(cause, errWaited) || errors.Is(cause, ErrBlocked)
}

// check says why letters cannot be sent to exchange, or "" if they can.
func (p *republisher) check(exchange string) (string, error) {
	if exchange == "" {
		return "the letter does not say which topic it came from (no topic_poisoned header)", nil
	}
	ok, err := p.exchanges.Exists(exchange)
	if err != nil || ok {
		return "", err
	}
	return "exchange " + exchange + " does not exist", nil
}

// republishing is the copy of d to publish: persistent, its headers without
// the stripped ones, its properties except those that would change how the
// broker treats it (Expiration would let it expire, UserId must match our
// login) or that described the dead letter (Timestamp).
func republishing(d amqp.Delivery) amqp.Publishing {
	headers := make(amqp.Table, len(d.Headers))
	for k, v := range d.Headers {
		if !stripped[k] {
			headers[k] = v
		}
	}
	return amqp.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		MessageId:       d.MessageId,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}
