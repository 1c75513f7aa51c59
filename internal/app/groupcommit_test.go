package app

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movietrend/trend/internal/messaging"
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

// A commit that outlasts its bound, shared or alone, while the database
// answers pings (overloaded, not down) fails as the database's fault, so
// that its messages go back to their queue instead of to the dead letters.
func TestASlowCommitIsTheDatabasesFault(t *testing.T) {
	defer func(d time.Duration) { commitBound = d }(commitBound)
	commitBound = 50 * time.Millisecond
	slow := func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("timeout: %w", ctx.Err())
	}
	batch := newGroupCommit(func(ctx context.Context, _ []int) error { return slow(ctx) },
		func(ctx context.Context, _ int) error { return slow(ctx) }, 4, 0, func(context.Context) error { return nil })
	defer batch.Close()
	err := batch.Do(t.Context(), 1)
	if !errors.Is(err, messaging.ErrSlowCommit) || !messaging.Unavailable(err) {
		t.Errorf("a commit past its bound: %v; want ErrSlowCommit, the database's fault", err)
	}
	// The message's own error stays the message's, even when it comes
	// back after the bound.
	late := func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("bad payload")
	}
	batch2 := newGroupCommit(func(ctx context.Context, _ []int) error { return late(ctx) },
		func(ctx context.Context, _ int) error { return late(ctx) }, 4, 0, func(context.Context) error { return nil })
	defer batch2.Close()
	if err := batch2.Do(t.Context(), 1); err == nil || messaging.Unavailable(err) {
		t.Errorf("a message's error: %v; want it, not the database's fault", err)
	}
}
