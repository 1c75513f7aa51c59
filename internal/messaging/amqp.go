package messaging

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpConfig is the one RabbitMQ configuration for publishers and
// subscribers: durable fanout exchanges named after the topic, durable
// queues, persistent messages.
func amqpConfig(url string, queue func(topic string) string) wamqp.Config {
	cfg := wamqp.NewDurablePubSubConfig(url, queue)
	// Back within seconds of the broker: the default backoff grows to 60 s.
	cfg.Connection.Reconnect = wamqp.DefaultReconnectConfig()
	cfg.Connection.Reconnect.BackoffMaxInterval = 5 * time.Second
	cfg.Publish.ConfirmDelivery = true
	cfg.Consume.Qos.PrefetchCount = 16
	return cfg
}

// newSubscriber consumes one named queue.
func newSubscriber(url, queue string, logger watermill.LoggerAdapter) (*wamqp.Subscriber, error) {
	cfg := amqpConfig(url, func(string) string { return queue })
	cfg.Marshaler = headerTolerantMarshaler{}
	return wamqp.NewSubscriber(cfg, logger)
}

// headerTolerantMarshaler is watermill-amqp's marshaler, but it reads a
// header that is not a string (a number set in the management UI's
// "Publish message", a quorum queue's x-delivery-count) as its text. The
// default one fails such a message before any handler sees it, and
// watermill-amqp then requeues it, for ever: it never reaches the retries
// nor the dead letters.
type headerTolerantMarshaler struct{ wamqp.DefaultMarshaler }

// errNoDelivery refuses the zero delivery of a closed consumer.
var errNoDelivery = errors.New("no delivery: the consumer's channel was closed")

func (m headerTolerantMarshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	if d.Acknowledger == nil {
		// No delivery: watermill-amqp reads on from a delivery channel
		// amqp091-go closed (RabbitMQ cancelled the consumer: its queue
		// was deleted) and gets zero values. Made into messages, each went
		// to the handlers, failed as a message of no name and was
		// dead-lettered: empty letters, one per subscription. Refused
		// here, the nack fails and the subscription reconnects.
		return nil, errNoDelivery
	}
	var headers amqp.Table // a copy, made at the first header to change
	for k, v := range d.Headers {
		if _, ok := v.(string); ok {
			continue
		}
		if headers == nil {
			headers = maps.Clone(d.Headers)
		}
		headers[k] = fmt.Sprint(v)
	}
	if headers != nil {
		d.Headers = headers
	}
	return m.DefaultMarshaler.Unmarshal(d)
}
