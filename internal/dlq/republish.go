package dlq

import (
	"context"
	"errors"

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
}

func newRepublisher(conn *amqp.Connection) (*republisher, error) {
	pub, err := messaging.NewMandatoryChannel(conn)
	if err != nil {
		return nil, err
	}
	return &republisher{pub: pub, exchanges: messaging.NewExchangeChecker(conn)}, nil
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
	err = p.pub.Publish(ctx, exchange, republishing(d))
	if errors.Is(err, messaging.ErrUnrouted) {
		return skipError{err.Error()}
	}
	return err
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
