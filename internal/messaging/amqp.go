package messaging

import (
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
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

// newDeadLetterPublisher publishes dead letters, returning only after the
// broker confirmed each, stamped with the time they were dead-lettered
// (shown by `trend dlq list`).
func newDeadLetterPublisher(url string, logger watermill.LoggerAdapter) (*wamqp.Publisher, error) {
	cfg := amqpConfig(url, func(topic string) string { return topic })
	cfg.Marshaler = wamqp.DefaultMarshaler{PostprocessPublishing: func(p amqp.Publishing) amqp.Publishing {
		p.Timestamp = time.Now().UTC()
		return p
	}}
	return wamqp.NewPublisher(cfg, logger)
}

// newSubscriber consumes one named queue.
func newSubscriber(url, queue string, logger watermill.LoggerAdapter) (*wamqp.Subscriber, error) {
	return wamqp.NewSubscriber(amqpConfig(url, func(string) string { return queue }), logger)
}
