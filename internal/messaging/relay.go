package messaging

import (
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NewRelay forwards the outbox to RabbitMQ. It acknowledges an outbox row
// (moves the relay's offset) only after the broker confirmed the message,
// so a crash at any point re-sends rather than loses; consumers are
// idempotent. The SQL subscriber allows one active relay per consumer
// group: extra replicas wait on the offset row's lock and take over.
func NewRelay(pool *pgxpool.Pool, amqpURL string, logger watermill.LoggerAdapter, middlewares ...message.HandlerMiddleware) (*forwarder.Forwarder, error) {
	ackDeadline := 30 * time.Second
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), wsql.SubscriberConfig{
		ConsumerGroup:  RelayConsumerGroup,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 100},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		// Empty outbox: look again soon, it bounds the added latency.
		PollInterval:   100 * time.Millisecond,
		ResendInterval: time.Second,
		RetryInterval:  time.Second,
		AckDeadline:    &ackDeadline,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("outbox subscriber: %w", err)
	}
	pub, err := NewPublisher(amqpURL, logger)
	if err != nil {
		return nil, fmt.Errorf("RabbitMQ publisher: %w", err)
	}
	return forwarder.NewForwarder(sub, pub, logger, forwarder.Config{
		ForwarderTopic: OutboxTopic,
		CloseTimeout:   10 * time.Second,
		Middlewares:    middlewares,
	})
}
