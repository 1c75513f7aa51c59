package dlq

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	amqp "github.com/rabbitmq/amqp091-go"
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
	conn    *amqp.Connection
	ch      *amqp.Channel
	returns chan amqp.Return
	// exchanges caches, per exchange, why letters cannot go there ("" if
	// they can).
	exchanges map[string]string
}

func newRepublisher(conn *amqp.Connection) (*republisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publishing channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	// One publish in flight at a time, so one slot is enough: the broker
	// sends basic.return before the basic.ack of the same message, and the
	// client puts it in this buffer before it resolves the confirmation.
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	return &republisher{conn: conn, ch: ch, returns: returns, exchanges: map[string]string{}}, nil
}

// republish publishes a copy of d to exchange and returns once the broker
// confirmed it was routed to at least one queue. A skipError means d cannot
// go there; any other error means the copy may or may not have arrived.
func (p *republisher) republish(ctx context.Context, exchange string, d amqp.Delivery) error {
	reason, err := p.check(exchange)
	if err != nil {
		return err
	}
	if reason != "" {
		return skipError{reason}
	}
	// Mandatory: a fanout exchange with no queue would confirm the copy and
	// drop it; this way the broker returns it.
	conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, "", true, false, republishing(d))
	if err != nil {
		return fmt.Errorf("republish to %s: %w", exchange, err)
	}
	acked, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for RabbitMQ to confirm the copy on %s: %w", exchange, err)
	}
	if !acked {
		return fmt.Errorf("RabbitMQ refused the copy on %s (nack or closed channel)", exchange)
	}
	select {
	case r, ok := <-p.returns:
		if ok {
			return skipError{fmt.Sprintf("exchange %s routed it to no queue (%d %s)", exchange, r.ReplyCode, r.ReplyText)}
		}
	default:
	}
	return nil
}

// check says why letters cannot be sent to exchange, or "" if they can.
func (p *republisher) check(exchange string) (string, error) {
	if exchange == "" {
		return "the letter does not say which topic it came from (no topic_poisoned header)", nil
	}
	if reason, ok := p.exchanges[exchange]; ok {
		return reason, nil
	}
	// A passive declare that fails closes its channel: a throwaway one.
	ch, err := p.conn.Channel()
	if err != nil {
		return "", fmt.Errorf("open channel: %w", err)
	}
	err = ch.ExchangeDeclarePassive(exchange, amqp.ExchangeFanout, true, false, false, false, nil)
	switch {
	case err == nil:
		_ = ch.Close()
		p.exchanges[exchange] = ""
	case isNotFound(err):
		p.exchanges[exchange] = "exchange " + exchange + " does not exist"
	default:
		return "", fmt.Errorf("inspect exchange %s: %w", exchange, err)
	}
	return p.exchanges[exchange], nil
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
