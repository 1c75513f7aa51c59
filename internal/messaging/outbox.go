package messaging

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// outboxPublisher writes messages into the outbox table inside tx,
// wrapped in the forwarder's envelope that names their real topic; the
// relay sends them on after the transaction commits.
func outboxPublisher(tx pgx.Tx, logger watermill.LoggerAdapter) (message.Publisher, error) {
	pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{
		SchemaAdapter: wsql.DefaultPostgreSQLSchema{},
		// The table comes from our migrations: creating it here would
		// commit the caller's transaction.
		AutoInitializeSchema: false,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("outbox publisher: %w", err)
	}
	return forwarded(pub), nil
}

func forwarded(pub message.Publisher) message.Publisher {
	return forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: OutboxTopic})
}

// Outbox sends commands and events inside a PostgreSQL transaction. It is
// cheap to create, one per transaction.
type Outbox struct {
	commands *cqrs.CommandBus
	events   *cqrs.EventBus
}

// NewOutbox binds the buses to tx.
func NewOutbox(tx pgx.Tx, logger watermill.LoggerAdapter) (*Outbox, error) {
	pub, err := outboxPublisher(tx, logger)
	if err != nil {
		return nil, err
	}
	return newOutbox(pub, logger)
}

// Execer runs a statement: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// SendCommandIf writes cmd to the outbox, as SendCommand would, in one
// INSERT on db that writes it only if guard, an SQL condition whose
// parameters guardArgs are numbered from $4, holds when it runs; it
// tells whether it wrote it. On a pool the INSERT commits on its own:
// one round trip for a writer whose only write is the command and whose
// only check is guard, where BEGIN, a read, the insert and COMMIT take
// four. The row is the one watermill-sql's publisher writes.
func SendCommandIf(ctx context.Context, db Execer, messageID, correlationID string, cmd any, guard string, guardArgs ...any) (bool, error) {
	var kept keep
	cb, err := newCommandBus(forwarded(&kept), watermill.NopLogger{})
	if err != nil {
		return false, err
	}
	// Commands only: the event bus is not built for every commit.
	if err := (&Outbox{commands: cb}).SendCommand(ctx, messageID, correlationID, cmd); err != nil {
		return false, err
	}
	if len(kept.msgs) != 1 {
		return false, fmt.Errorf("outbox: the command became %d messages, want 1", len(kept.msgs))
	}
	msg := kept.msgs[0]
	metadata, err := json.Marshal(msg.Metadata)
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `INSERT INTO `+outboxTable+` (uuid, payload, metadata, transaction_id)
		SELECT $1, $2, $3, pg_current_xact_id() WHERE `+guard,
		append([]any{msg.UUID, []byte(msg.Payload), metadata}, guardArgs...)...)
	if err != nil {
		return false, fmt.Errorf("write command to the outbox: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// outboxTable is the outbox, as watermill-sql names it.
var outboxTable = wsql.DefaultPostgreSQLSchema{}.MessagesTable(OutboxTopic)

// keep is a publisher that keeps what it is given.
type keep struct{ msgs []*message.Message }

func (k *keep) Publish(_ string, msgs ...*message.Message) error {
	k.msgs = append(k.msgs, msgs...)
	return nil
}

func (k *keep) Close() error { return nil }

func newOutbox(pub message.Publisher, logger watermill.LoggerAdapter) (*Outbox, error) {
	cb, err := newCommandBus(pub, logger)
	if err != nil {
		return nil, err
	}
	eb, err := cqrs.NewEventBusWithConfig(pub, cqrs.EventBusConfig{
		GeneratePublishTopic: func(p cqrs.GenerateEventPublishTopicParams) (string, error) { return eventTopic(p.Event), nil },
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

func newCommandBus(pub message.Publisher, logger watermill.LoggerAdapter) (*cqrs.CommandBus, error) {
	return cqrs.NewCommandBusWithConfig(pub, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return CommandTopic(p.CommandName), nil
		},
		Marshaler: marshaler,
		Logger:    logger,
	})
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
