package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgconn"
)

// recorder is a publisher that keeps what it is given, whatever the
// messages' contexts (RabbitMQ's publisher refuses a cancelled one, which
// would hide a message the middleware meant to dead-letter).
type recorder struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (r *recorder) Publish(_ string, msgs ...*message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) Close() error { return nil }

func TestFailureHandlingDeadLettersOnlyWhatRetriesCannotCure(t *testing.T) {
	cases := []struct {
		name string
		// handle fails the message's try (1 or 2); cancel ends its
		// context first (the worker's shutdown).
		handle     func(try int, msg *message.Message, cancel context.CancelFunc) error
		deadLetter bool
		tries      int // how many tries the message gets
		// healthy checks the database before a dead letter (nil: no check).
		healthy func(context.Context) error
	}{
		{"permanent", func(int, *message.Message, context.CancelFunc) error {
			return PermanentError(errors.New("undecodable"))
		}, true, 1, nil},
		{"failing on every try", func(int, *message.Message, context.CancelFunc) error {
			return errors.New("still failing")
		}, true, 2, nil},
		{"stopped during the last try, the error saying nothing of it", func(try int, _ *message.Message, cancel context.CancelFunc) error {
			if try == 2 {
				cancel()
			}
			return fmt.Errorf("1 of 3 bundled messages failed: %s", context.Canceled)
		}, false, 2, nil},
		{"stopped during the first try, the error saying so", func(_ int, msg *message.Message, cancel context.CancelFunc) error {
			cancel()
			return msg.Context().Err()
		}, false, 1, nil},
		// An outage longer than the retries must not dead-letter the
		// messages it holds up.
		{"the database unreachable", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("append events: %w", &pgconn.ConnectError{})
		}, false, 2, nil},
		{"the database shutting down", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("append events: %w", &pgconn.PgError{Code: "57P01"})
		}, false, 2, nil},
		{"a bundle held up by the database, one of its messages undecodable", func(int, *message.Message, context.CancelFunc) error {
			return bundleError([]error{nil, PermanentError(errors.New("undecodable")), &pgconn.PgError{Code: "53300"}})
		}, false, 2, nil},
		{"an error saying nothing, the database down", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("append events: %w", io.ErrUnexpectedEOF)
		}, false, 2, func(context.Context) error { return errors.New("connection refused") }},
		{"an error saying nothing, the database up", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("append events: %w", io.ErrUnexpectedEOF)
		}, true, 2, func(context.Context) error { return nil }},
		// Overloaded, not down: it answers a ping, but commits too slowly.
		{"a commit too slow, the database answering", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("%w (30s): timeout: %w", ErrSlowCommit, context.DeadlineExceeded)
		}, false, 2, func(context.Context) error { return nil }},
		// No retries, and no trip back to the queue to fail again at once.
		{"permanent, the database down", func(int, *message.Message, context.CancelFunc) error {
			return PermanentError(errors.New("undecodable"))
		}, true, 1, func(context.Context) error { return errors.New("connection refused") }},
		{"a constraint the message breaks", func(int, *message.Message, context.CancelFunc) error {
			return fmt.Errorf("append events: %w", &pgconn.PgError{Code: "23514"})
		}, true, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dlq := &recorder{}
			failures, err := failureHandling(dlq, 1, tc.healthy, watermill.NopLogger{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			msg := message.NewMessage("m1", []byte(`{}`))
			msg.SetContext(ctx)
			tries := 0
			_, err = failures(func(msg *message.Message) ([]*message.Message, error) {
				tries++
				return nil, tc.handle(tries, msg, cancel)
			})(msg)
			if got := len(dlq.msgs) == 1; got != tc.deadLetter {
				t.Errorf("dead-lettered: %v, want %v (%d messages published)", got, tc.deadLetter, len(dlq.msgs))
			}
			// Dead-lettered, the message is acknowledged (nil); else its
			// error nacks it back to its queue.
			if (err == nil) != tc.deadLetter {
				t.Errorf("error %v; want one only if the message is not dead-lettered", err)
			}
			if tries != tc.tries {
				t.Errorf("%d tries, want %d", tries, tc.tries)
			}
		})
	}
}
