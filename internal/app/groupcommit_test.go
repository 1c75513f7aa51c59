package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A shared commit's error fails the whole batch at once only when it is
// the database's and the database does not answer a ping: a message's
// error, or one the database answers after, still gets the commits one
// by one, which isolate a bad message.
func TestDatabaseDown(t *testing.T) {
	gone := errors.New("no answer")
	for _, c := range []struct {
		name    string
		err     error
		ping    error
		pinged  bool
		wantAll bool
	}{
		{"a message's error", errors.New("bad payload"), gone, false, false},
		{"a timeout, the database gone", fmt.Errorf("commit: %w", context.DeadlineExceeded), gone, true, true},
		{"a timeout, the database answering", fmt.Errorf("commit: %w", context.DeadlineExceeded), nil, true, false},
		{"a shutdown, the database gone", &pgconn.PgError{Code: "57P01"}, gone, true, true},
		{"a deadlock, the database answering", &pgconn.PgError{Code: "40P01"}, nil, true, false},
		// Every message of the batch waits on the same writer lock.
		{"a lock wait timed out", fmt.Errorf("take the writer's lock: %w", &pgconn.PgError{Code: "55P03"}), nil, false, true},
	} {
		pinged := false
		down := databaseDown(func(ctx context.Context) error {
			pinged = true
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("%s: the ping has no deadline", c.name)
			}
			return c.ping
		})
		if got := down(c.err); got != c.wantAll || pinged != c.pinged {
			t.Errorf("%s: whole batch %t (pinged %t), want %t (pinged %t)", c.name, got, pinged, c.wantAll, c.pinged)
		}
	}
}
