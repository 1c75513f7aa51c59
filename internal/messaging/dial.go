package messaging

import (
	"context"
	"errors"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DialTimeout is what Dial waits at most by default: amqp091-go's own.
const DialTimeout = 30 * time.Second

// Dial connects to RabbitMQ as connection name (shown in the management
// UI), within timeout and ctx: the earlier of the two bounds the TCP
// connect and the AMQP handshake (amqp091-go clears the deadline once the
// handshake is done), and cancelling ctx stops the connect. A broker that
// accepts the connection and never answers would otherwise hold the
// caller for as long as the handshake's own deadline, or for ever with a
// dialer of one's own.
func Dial(ctx context.Context, url, name string, timeout time.Duration) (*amqp.Connection, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return amqp.DialConfig(url, amqp.Config{
		Properties: amqp.Table{"connection_name": name},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := conn.SetDeadline(deadline); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	})
}

// LoginRefused tells whether err is RabbitMQ's refusal of the URL's
// credentials (403 ACCESS_REFUSED) or of its virtual host (530
// NOT_ALLOWED): not the network, and no wait mends it but a change of the
// URL or of the broker's users.
func LoginRefused(err error) bool {
	var aerr *amqp.Error
	return errors.As(err, &aerr) && (aerr.Code == amqp.AccessRefused || aerr.Code == amqp.NotAllowed)
}

// DialFailure says why a dial failed in words fit for anyone who asks
// (/readyz, the pipeline view): refused, or unreachable, without the URL,
// its user or the broker's own message.
func DialFailure(err error) string {
	if LoginRefused(err) {
		return "RabbitMQ refused the login: check AMQP_URL's user, password and virtual host"
	}
	return "RabbitMQ is unreachable"
}
