package messaging

import (
	"context"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Drop closes conn at once, without waiting for RabbitMQ's close-ok: past
// the deadline the close's own write fails, and amqp091-go closes the
// socket, which RabbitMQ sees at once. A deadline ahead would not bound a
// close: amqp091-go moves the read deadline back at every frame the broker
// sends, heartbeats included, and a broker under a resource alarm reads
// nothing from a publisher yet sends them. Called again, or during a close,
// it returns at once.
func Drop(conn *amqp.Connection) { _ = conn.CloseDeadline(time.Now()) }

// DropWhenDone drops conn when ctx ends, until stop is called: ending a
// context ends no write RabbitMQ does not read, nor a call it does not
// answer, and dropping the connection does.
func DropWhenDone(ctx context.Context, conn *amqp.Connection) (stop func() bool) {
	return context.AfterFunc(ctx, func() { Drop(conn) })
}

// CloseWithin closes conn politely, returning within d: a broker that
// stopped reading (see Drop) would hold a plain Close for ever, and a
// deadline alone would not end it. Such a close is left to finish on its
// own, once the broker reads again.
func CloseWithin(conn *amqp.Connection, d time.Duration) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = conn.CloseDeadline(time.Now().Add(d))
	}()
	select {
	case <-closed:
	case <-time.After(d):
	}
}
