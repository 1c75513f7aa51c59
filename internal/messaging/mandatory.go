package messaging

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrUnrouted is a message RabbitMQ confirmed but routed to no queue (an
// exchange with none bound: a queue deleted by hand, a broker that lost
// its definitions). Published without the mandatory flag it would have
// been dropped without a word.
var ErrUnrouted = errors.New("RabbitMQ routed the message to no queue")

// MandatoryChannel publishes one message at a time, mandatory and
// confirmed: Publish returns only once RabbitMQ has the message in a
// queue. For the rare messages that cannot be sent again from a log if
// they go missing (dead letters, letters put back by hand).
type MandatoryChannel struct {
	ch      *amqp.Channel
	returns chan amqp.Return
}

// NewMandatoryChannel opens a confirm channel on conn. A failed publish
// closes that channel only, never others of conn.
func NewMandatoryChannel(conn *amqp.Connection) (*MandatoryChannel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publishing channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	// One publish in flight at a time, so one slot is enough: the broker
	// sends basic.return before the basic.ack of the same message, and the
	// client puts it in this buffer before it resolves the confirmation.
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	return &MandatoryChannel{ch: ch, returns: returns}, nil
}

// Channel is the underlying channel, for declarations.
func (c *MandatoryChannel) Channel() *amqp.Channel { return c.ch }

// Publish publishes pub to exchange and waits for RabbitMQ's confirm. An
// error wrapping ErrUnrouted means no queue took it; any other error means
// it may or may not have arrived. The wait ends with ctx, and its error
// then wraps ctx's cause (context.Cause), so that a caller can tell its
// own bounds apart. Ending ctx does not interrupt a write RabbitMQ does not
// read (a resource alarm): only closing the connection does.
func (c *MandatoryChannel) Publish(ctx context.Context, exchange string, pub amqp.Publishing) error {
	conf, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, "", true, false, pub)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("publish to %s: %w", exchange, err)
	}
	select {
	case <-conf.Done():
	case <-ctx.Done():
	}
	if !conf.Acked() {
		// An ack that came as ctx ended counts; anything else then is
		// ctx's doing (ending it may close the connection, which
		// resolves the confirm as a nack).
		if ctx.Err() != nil {
			return fmt.Errorf("wait for RabbitMQ to confirm the message to %s: %w", exchange, context.Cause(ctx))
		}
		return fmt.Errorf("RabbitMQ refused the message to %s (nack or closed channel)", exchange)
	}
	select {
	case r, ok := <-c.returns:
		if ok {
			return fmt.Errorf("exchange %s: %w (%d %s)", exchange, ErrUnrouted, r.ReplyCode, r.ReplyText)
		}
	default:
	}
	return nil
}
