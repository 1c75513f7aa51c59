package messaging

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// IsNotFound tells whether err is RabbitMQ's 404: no such exchange or
// queue.
func IsNotFound(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.NotFound
}

// ExchangeChecker tells whether exchanges exist on its connection's
// broker, asking about each at most once while it exists (a missing one is
// asked about again: something may declare it meanwhile).
type ExchangeChecker struct {
	conn  *amqp.Connection
	found map[string]bool
}

// NewExchangeChecker checks exchanges over conn.
func NewExchangeChecker(conn *amqp.Connection) *ExchangeChecker {
	return &ExchangeChecker{conn: conn, found: map[string]bool{}}
}

// Exists tells whether the broker has the exchange name.
func (x *ExchangeChecker) Exists(name string) (bool, error) {
	if x.found[name] {
		return true, nil
	}
	// A passive declare that fails closes its channel: a throwaway one.
	ch, err := x.conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open channel: %w", err)
	}
	err = ch.ExchangeDeclarePassive(name, amqp.ExchangeFanout, true, false, false, false, nil)
	switch {
	case err == nil:
		_ = ch.Close()
		x.found[name] = true
		return true, nil
	case IsNotFound(err):
		return false, nil
	default:
		_ = ch.Close() // may be open still: the error need not be the broker's
		return false, fmt.Errorf("inspect exchange %s: %w", name, err)
	}
}
