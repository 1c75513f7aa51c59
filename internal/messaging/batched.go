package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
			switch marshaler.NameFromMessage(msg) {
			case batchName:
			case "":
				// Not one of ours (published by hand?), or a batch that lost
				// its header: to the dead letters, where someone can look,
				// not acknowledged unread.
				return PermanentError(fmt.Errorf("a message without a name header on the queue of %s", group))
			default:
				return nil // another type of ours, as the event group processor skips
			}
			b := new(events.Batch)
			if err := marshaler.Unmarshal(msg, b); err != nil {
				return err
			}
			return do(msg.Context(), b)
		}}
}

// handle handles msg or, if it is a bundle, each of its messages at once,
// so that they share the group commit behind Handle; a bundle is
// acknowledged once every one of them was handled. Each message is still
// handled once by its own id, so a bundle redelivered, or its messages
// bundled otherwise after a relay crash, has no second effect.
func (h BatchedHandler) handle(msg *message.Message) error {
	inner, err := Unbundle(msg)
	if err != nil {
		return err
	}
	if inner == nil {
		return h.Handle(msg)
	}
	errs := make([]error, len(inner))
	var wg sync.WaitGroup
	for i, m := range inner {
		wg.Go(func() {
			// The router's recoverer guards its own goroutine only.
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic handling message %s: %v", m.UUID, p)
				}
			}()
			errs[i] = h.Handle(m)
		})
	}
	wg.Wait()
	return bundleError(errs)
}

// bundleError is the error of a bundle whose messages' errors are errs:
// permanent when each failure is (the bundle goes to the dead letters at
// once), else one that retries the bundle; the messages that succeeded
// are recorded as handled, so their retry has no effect.
func bundleError(errs []error) error {
	failed, permanent := 0, 0
	var unavailable []error
	for _, err := range errs {
		switch {
		case err == nil:
			continue
		case Permanent(err):
			permanent++
		case Unavailable(err):
			unavailable = append(unavailable, err)
		}
		failed++
	}
	switch {
	case failed == 0:
		return nil
	case len(unavailable) > 0:
		// Only these wrapped: the bundle is retried and then goes back to
		// its queue (a permanent error wrapped too would end the retries).
		return fmt.Errorf("%d of %d bundled messages failed, %d for want of the database: %w (all errors: %s)",
			failed, len(errs), len(unavailable), errors.Join(unavailable...), errors.Join(errs...))
	case permanent == failed:
		return fmt.Errorf("%d of %d bundled messages failed: %w", failed, len(errs), errors.Join(errs...))
	default:
		// Not wrapped: a permanent error among them must not end the
		// retries of the others.
		return fmt.Errorf("%d of %d bundled messages failed: %s", failed, len(errs), errors.Join(errs...))
	}
}

// addBatched registers h's subscriptions with router.
func addBatched(router *message.Router, h BatchedHandler, sub message.Subscriber) {
	n := max(h.Consumers, 1)
	for k := 1; k <= n; k++ {
		name := h.Name
		if k > 1 {
			name = fmt.Sprintf("%s#%d", h.Name, k)
		}
		router.AddConsumerHandler(name, h.Topic, sub, h.handle)
	}
}
