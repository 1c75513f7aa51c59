package messaging

import (
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrBlocked is RabbitMQ blocking a connection that publishes: a resource
// alarm (memory or disk) is raised. It stops reading the connection, so a
// message in flight is neither confirmed nor refused until the alarm
// clears, and nothing else sent on the connection is read meanwhile.
var ErrBlocked = errors.New("RabbitMQ is blocking publishers: resource alarm")

// BlockWatch follows RabbitMQ's connection.blocked and connection.unblocked
// notifications on one connection (amqp091-go asks for them).
type BlockWatch struct {
	mu      sync.Mutex
	blocked chan struct{} // closed while the connection is blocked
	reason  string        // the last block's
}

// WatchBlocked follows conn's blocks from now on. Its goroutine ends when
// conn closes.
func WatchBlocked(conn *amqp.Connection) *BlockWatch {
	w := &BlockWatch{blocked: make(chan struct{})}
	// Drained at once, always: amqp091-go's reader waits (up to 5 s) for a
	// listener to take a notification, and reads nothing else meanwhile.
	notes := conn.NotifyBlocked(make(chan amqp.Blocking, 1))
	go func() {
		for n := range notes { // closed when the connection closes
			w.set(n)
		}
	}()
	return w
}

func (w *BlockWatch) set(n amqp.Blocking) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.blocked:
		if !n.Active {
			w.blocked = make(chan struct{})
		}
	default:
		if n.Active {
			w.reason = n.Reason
			close(w.blocked)
		}
	}
}

// Blocked returns a channel that is closed once the connection is blocked
// (at once if it is now). It stays closed, even if RabbitMQ unblocks the
// connection afterwards; ask again for a new one.
func (w *BlockWatch) Blocked() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.blocked
}

// Err is ErrBlocked with RabbitMQ's reason for the last block ("low on
// memory"), for an operation a block ended.
func (w *BlockWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reason == "" {
		return ErrBlocked
	}
	return fmt.Errorf("%w (%s)", ErrBlocked, w.reason)
}
