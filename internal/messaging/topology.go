// Package messaging wires Watermill to PostgreSQL (the outbox) and RabbitMQ:
// topic and queue names, the topology, the command and event buses, the
// relay and the worker's router with its middleware.
package messaging

import (
	"context"
	"fmt"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Names of the topics, exchanges and queues. They are part of the
// deployment: renaming a queue leaves its messages behind.
const (
	// OutboxTopic is the watermill-sql topic (table watermill_outbox) that
	// every command and event goes through before RabbitMQ.
	OutboxTopic = "outbox"
	// EventsTopic is the fanout exchange event batches are published to;
	// each event handler group has its own queue bound to it.
	EventsTopic = "events"
	// ViewsTopic is the fanout exchange of the batches that hold nothing
	// but views, most of them: only the queues of the groups that handle
	// views (Topology.ViewGroups) are bound to it, so the others never
	// receive them.
	ViewsTopic = "events.views"
	// DeadLetterTopic is the exchange and queue of messages that could not
	// be handled after bounded retries.
	DeadLetterTopic = "dead-letters"
	// RelayConsumerGroup is the relay's offset row in the outbox.
	RelayConsumerGroup = "relay"
)

// CommandTopic is the exchange (and durable queue) of one command type.
func CommandTopic(commandName string) string { return "commands." + commandName }

// EventQueue is the queue of one event handler group.
func EventQueue(group string) string { return EventsTopic + "." + group }

// Topology lists every exchange and queue the program uses.
type Topology struct {
	Commands    []string // command names, e.g. "RegisterMovie"
	EventGroups []string // event handler group names, e.g. "trend-projection"
	// ViewGroups are the event groups that handle ViewRecorded: their
	// queues are also bound to ViewsTopic.
	ViewGroups []string
}

// Binding is one durable queue bound to one fanout exchange.
type Binding struct{ Exchange, Queue string }

// Bindings lists the exchange-queue pairs of the topology.
func (t Topology) Bindings() []Binding {
	var b []Binding
	for _, c := range t.Commands {
		b = append(b, Binding{CommandTopic(c), CommandTopic(c)})
	}
	for _, g := range t.EventGroups {
		b = append(b, Binding{EventsTopic, EventQueue(g)})
	}
	for _, g := range t.ViewGroups {
		b = append(b, Binding{ViewsTopic, EventQueue(g)})
	}
	return append(b, Binding{DeadLetterTopic, DeadLetterTopic})
}

// Queues lists every queue of the topology once, in the order of
// Bindings.
func (t Topology) Queues() []string {
	var qs []string
	for _, b := range t.Bindings() {
		if !slices.Contains(qs, b.Queue) {
			qs = append(qs, b.Queue)
		}
	}
	return qs
}

// Declare creates every exchange, queue and binding before anything is
// published: a message published to an exchange with no queue bound yet
// would be dropped by the broker, so the relay declares the queues of
// consumers that may not have started. The arguments match what
// watermill-amqp declares, so both can declare the same names.
func (t Topology) Declare(ctx context.Context, amqpURL string) error {
	conn, err := Dial(ctx, amqpURL, "trend topology", DialTimeout)
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	return t.DeclareOn(ctx, ch)
}

// DeclareOn is Declare on a channel the caller holds (the relay's own).
// An error closes ch, as RabbitMQ closes a channel whose declaration it
// refuses.
func (t Topology) DeclareOn(ctx context.Context, ch *amqp.Channel) error {
	return declare(ctx, ch, t.Bindings())
}

// declare creates each binding's exchange and queue and binds them.
func declare(ctx context.Context, ch *amqp.Channel, bindings []Binding) error {
	for _, b := range bindings {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ch.ExchangeDeclare(b.Exchange, "fanout", true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", b.Exchange, err)
		}
		if _, err := ch.QueueDeclare(b.Queue, queueDurable, queueAutoDelete, queueExclusive, false, nil); err != nil {
			return fmt.Errorf("declare queue %s: %w", b.Queue, err)
		}
		if err := ch.QueueBind(b.Queue, "", b.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s: %w", b.Queue, b.Exchange, err)
		}
	}
	return nil
}

// The flags of every queue Declare makes: durable, kept when unused, shared.
const (
	queueDurable    = true
	queueAutoDelete = false
	queueExclusive  = false
)

// InspectQueue returns queue's counts (messages ready for delivery,
// consumers) from a passive declare, which only checks that the queue
// exists. A missing queue is an error that closes ch.
func InspectQueue(ch *amqp.Channel, queue string) (amqp.Queue, error) {
	return ch.QueueDeclarePassive(queue, queueDurable, queueAutoDelete, queueExclusive, false, nil)
}
