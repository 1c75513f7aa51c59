package messaging

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
)

// outboxPublisher writes messages into the outbox table through db (a
// transaction, or a pool whose statements commit on their own), wrapped
// in the forwarder's envelope that names their real topic; the relay sends
// them on after they commit.
func outboxPublisher(db wsql.ContextExecutor, logger watermill.LoggerAdapter) (message.Publisher, error) {
	pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{
		SchemaAdapter: wsql.DefaultPostgreSQLSchema{},
		// The table comes from our migrations: creating it here would
		// commit the caller's transaction.
		AutoInitializeSchema: false,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("outbox publisher: %w", err)
	}
	return forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: OutboxTopic}), nil
}

// Outbox sends commands and events inside a PostgreSQL transaction. It is
// cheap to create, one per transaction.
type Outbox struct {
	commands *cqrs.CommandBus
	events   *cqrs.EventBus
}

// NewOutbox binds the buses to tx.
func NewOutbox(tx pgx.Tx, logger watermill.LoggerAdapter) (*Outbox, error) {
	return newOutbox(wsql.TxFromPgx(tx), logger)
}

// NewAutocommitOutbox binds the buses to pool: each message sent is one
// INSERT that commits on its own, one round trip where a transaction takes
// three. For writers whose only write is the one message.
func NewAutocommitOutbox(pool wsql.Conn, logger watermill.LoggerAdapter) (*Outbox, error) {
	return newOutbox(wsql.BeginnerFromPgx(pool), logger)
}

func newOutbox(db wsql.ContextExecutor, logger watermill.LoggerAdapter) (*Outbox, error) {
	pub, err := outboxPublisher(db, logger)
	if err != nil {
		return nil, err
	}
	cb, err := cqrs.NewCommandBusWithConfig(pub, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return CommandTopic(p.CommandName), nil
		},
		Marshaler: marshaler,
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	eb, err := cqrs.NewEventBusWithConfig(pub, cqrs.EventBusConfig{
		GeneratePublishTopic: func(cqrs.GenerateEventPublishTopicParams) (string, error) { return EventsTopic, nil },
		OnPublish: func(p cqrs.OnEventSendParams) error {
			if id, ok := p.Message.Context().Value(correlationKey{}).(string); ok && id != "" {
				middleware.SetCorrelationID(id, p.Message)
			}
			setEventTypes(p.Message, p.Event)
			return nil
		},
		Marshaler: marshaler,
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	return &Outbox{commands: cb, events: eb}, nil
}

type correlationKey struct{}

// SendCommand queues cmd; messageID becomes the message's UUID so that it
// can be followed from the outbox to the handler, and correlationID (the
// HTTP request id) goes into its metadata.
func (o *Outbox) SendCommand(ctx context.Context, messageID, correlationID string, cmd any) error {
	return o.commands.SendWithModifiedMessage(ctx, cmd, func(m *message.Message) error {
		m.UUID = messageID
		if correlationID != "" {
			middleware.SetCorrelationID(correlationID, m)
		}
		return nil
	})
}

// PublishEvent queues ev, with correlationID in its metadata. Handlers
// deduplicate events by the id inside them (events.Batch.BatchID), not by
// the message UUID.
func (o *Outbox) PublishEvent(ctx context.Context, correlationID string, ev any) error {
	return o.events.Publish(context.WithValue(ctx, correlationKey{}, correlationID), ev)
}
