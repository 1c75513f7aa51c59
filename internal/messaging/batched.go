package messaging

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/movietrend/trend/events"
)

// A BatchedHandler consumes one queue through several subscriptions at
// once. watermill-amqp hands each subscription one message at a time, so
// a handler that commits per message is capped by its commit latency;
// with Consumers subscriptions feeding one group commit (Handle blocks
// until its message's transaction commits), one transaction holds up to
// Consumers messages. Each message keeps the router's middleware:
// retries, dead letters, metrics, logs.
type BatchedHandler struct {
	// Name names the handler in metrics and logs; the router knows
	// subscription k (from 2) as "Name#k" (see metrics.HandlerName).
	Name string
	// Topic is the exchange, Queue the queue consumed.
	Topic, Queue string
	// Consumers is how many messages may be in flight at once (default 1).
	Consumers int
	// Handle handles one message; the message is acknowledged when it
	// returns nil.
	Handle func(msg *message.Message) error
}

// BatchedCommand consumes the command named name (its Go struct name),
// decoding each message into a C and passing it to do.
func BatchedCommand[C any](name string, consumers int, do func(ctx context.Context, cmd *C) error) BatchedHandler {
	return BatchedHandler{Name: name, Topic: CommandTopic(name), Queue: CommandTopic(name), Consumers: consumers,
		Handle: func(msg *message.Message) error {
			if got := marshaler.NameFromMessage(msg); got != name {
				return PermanentError(fmt.Errorf("a %q message on the queue of %s", got, name))
			}
			cmd := new(C)
			if err := marshaler.Unmarshal(msg, cmd); err != nil {
				return err
			}
			return do(msg.Context(), cmd)
		}}
}

// BatchedEventGroup consumes the event batches of the group named group
// (queue events.<group>), acknowledging messages of other types, as the
// event group processor does.
func BatchedEventGroup(group string, consumers int, do func(ctx context.Context, b *events.Batch) error) BatchedHandler {
	batchName := marshaler.Name(&events.Batch{})
	return BatchedHandler{Name: group, Topic: EventsTopic, Queue: EventQueue(group), Consumers: consumers,
		Handle: func(msg *message.Message) error {
			if marshaler.NameFromMessage(msg) != batchName {
				return nil
			}
			b := new(events.Batch)
			if err := marshaler.Unmarshal(msg, b); err != nil {
				return err
			}
			return do(msg.Context(), b)
		}}
}

// addBatched registers h's subscriptions with router.
func addBatched(router *message.Router, h BatchedHandler, sub message.Subscriber) {
	n := max(h.Consumers, 1)
	for k := 1; k <= n; k++ {
		name := h.Name
		if k > 1 {
			name = fmt.Sprintf("%s#%d", h.Name, k)
		}
		router.AddConsumerHandler(name, h.Topic, sub, h.Handle)
	}
}
