package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

func count(t *testing.T, s interface {
	Read(ctx context.Context, from int64, limit int) ([]events.Envelope, error)
}) int {
	t.Helper()
	evs, err := s.Read(t.Context(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestOnceHasOneEffectPerMessage(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := uuid.New()
	runs := 0
	for range 3 {
		err := store.Once(t.Context(), "test", msg, "corr-1", func(ctx context.Context, tx *eventlog.Tx) error {
			runs++
			_, err := tx.Append(ctx, events.MovieRegistered{TMDBID: 1, RegisteredAt: time.Now()})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("fn ran %d times, want 1", runs)
	}
	if got := count(t, store); got != 1 {
		t.Errorf("log holds %d events, want 1", got)
	}
	var outbox int
	var types, corr string
	if err := pool.QueryRow(t.Context(), `SELECT count(*), max(payload->'metadata'->>'event_types'),
		max(payload->'metadata'->>'correlation_id') FROM watermill_outbox`).Scan(&outbox, &types, &corr); err != nil {
		t.Fatal(err)
	}
	if corr != "corr-1" {
		t.Errorf("the batch's correlation id: got %q, want corr-1", corr)
	}
	if outbox != 1 {
		t.Errorf("outbox holds %d messages, want 1 (one batch)", outbox)
	}
	if types != events.TypeMovieRegistered {
		t.Errorf("the batch's event_types: got %q, want %q", types, events.TypeMovieRegistered)
	}
	if done, err := store.Handled(t.Context(), "test", msg); err != nil || !done {
		t.Errorf("Handled: got %v, %v; want true, nil", done, err)
	}
	if done, err := store.Handled(t.Context(), "other", msg); err != nil || done {
		t.Errorf("Handled for another handler: got %v, %v; want false, nil", done, err)
	}
}

func TestAppendStoresOneEventPerViewID(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	same := uuid.New()
	var appended [][]events.Envelope
	for i := range 2 {
		err := store.Once(t.Context(), "test", uuid.New(), "", func(ctx context.Context, tx *eventlog.Tx) error {
			n, err := tx.Append(ctx,
				events.ViewRecorded{ViewID: same, TMDBID: 7, ViewedAt: at},
				events.ViewRecorded{ViewID: uuid.New(), TMDBID: 7, ViewedAt: at},
				events.ViewRecorded{ViewID: same, TMDBID: 7, ViewedAt: at}, // twice in one batch too
			)
			if want := []int{2, 1}[i]; n != want {
				t.Errorf("batch %d: Append stored %d, want %d", i, n, want)
			}
			appended = append(appended, tx.Appended())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, store); got != 3 {
		t.Errorf("log holds %d events, want 3", got)
	}
	evs, _ := store.Read(t.Context(), 0, 10)
	for i := 1; i < len(evs); i++ {
		if evs[i].Position <= evs[i-1].Position {
			t.Errorf("positions not increasing: %d then %d", evs[i-1].Position, evs[i].Position)
		}
	}
	ev, err := evs[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := ev.(*events.ViewRecorded)
	if !ok || v.ViewID != same || !v.ViewedAt.Equal(at) || evs[0].Version != 1 || evs[0].Type != "ViewRecorded" {
		t.Errorf("first event: got %+v (%+v), want the view %s at %s, version 1", ev, evs[0], same, at)
	}
	if len(appended[0]) != 2 || appended[0][0].Position >= appended[0][1].Position {
		t.Errorf("Appended: got %+v, want 2 envelopes in log order", appended[0])
	}
}

func TestEventLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	err := store.Once(t.Context(), "test", uuid.New(), "", func(ctx context.Context, tx *eventlog.Tx) error {
		_, err := tx.Append(ctx, events.MovieRegistered{TMDBID: 1, RegisteredAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`UPDATE events SET tmdb_id = 2`, `DELETE FROM events`, `TRUNCATE events`} {
		if _, err := pool.Exec(t.Context(), stmt); err == nil {
			t.Errorf("%s: got no error, want the log to refuse it", stmt)
		}
	}
	if got := count(t, store); got != 1 {
		t.Errorf("log holds %d events, want 1", got)
	}
}

func TestFailedHandlerLeavesNoTrace(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	msg := uuid.New()
	err := store.Once(t.Context(), "test", msg, "", func(ctx context.Context, tx *eventlog.Tx) error {
		if _, err := tx.Append(ctx, events.MovieRegistered{TMDBID: 1, RegisteredAt: time.Now()}); err != nil {
			return err
		}
		return context.DeadlineExceeded
	})
	if err == nil {
		t.Fatal("got nil error, want the handler's error")
	}
	if done, err := store.Handled(t.Context(), "test", msg); err != nil || done {
		t.Errorf("Handled after a failed handler: got %v, %v; want false, nil (a failed message recorded as handled would have its retry skipped)", done, err)
	}
	if got := count(t, store); got != 0 {
		t.Errorf("log holds %d events after a failed handler, want 0", got)
	}
}

func TestOnceAllHandlesEachMessageOnceAndPublishesOneBatch(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	old := uuid.New()
	if err := store.Once(t.Context(), "test", old, "", func(context.Context, *eventlog.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	a, b := uuid.New(), uuid.New()
	msgs := []eventlog.Message{{ID: a, CorrelationID: "corr-a"}, {ID: old}, {ID: b, CorrelationID: "corr-b"}, {ID: a, CorrelationID: "corr-a"}}
	var got []int
	err := store.OnceAll(t.Context(), "test", msgs, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		got = fresh
		for n, i := range fresh {
			if _, err := tx.For(i).Append(ctx, events.MovieRegistered{TMDBID: int64(10 + n), RegisteredAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The message handled before is skipped, and a message given twice is
	// handled at its first place only.
	if want := []int{0, 2}; !slices.Equal(got, want) {
		t.Fatalf("fresh = %v, want %v", got, want)
	}
	// Each message's events carry its correlation id; all of them share
	// the transaction's batch, one outbox message.
	rows, err := pool.Query(t.Context(), `SELECT tmdb_id, correlation_id, batch_id FROM events ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID    int64
		Corr  string
		Batch uuid.UUID
	}
	evs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != 10 || evs[0].Corr != "corr-a" || evs[1].ID != 11 || evs[1].Corr != "corr-b" || evs[0].Batch != evs[1].Batch {
		t.Errorf("events: %+v, want movie 10 of corr-a and movie 11 of corr-b in one batch", evs)
	}
	// The message names no correlation id: its events have two.
	var outbox int
	var corr *string
	if err := pool.QueryRow(t.Context(), `SELECT count(*), max(payload->'metadata'->>'correlation_id') FROM watermill_outbox`).Scan(&outbox, &corr); err != nil {
		t.Fatal(err)
	}
	if outbox != 1 {
		t.Errorf("outbox holds %d messages, want 1 (one batch for the transaction)", outbox)
	}
	if corr != nil {
		t.Errorf("the batch's correlation id: got %q, want none", *corr)
	}

	// All handled now: fn is not called at all.
	err = store.OnceAll(t.Context(), "test", msgs, func(context.Context, *eventlog.Tx, []int) error {
		t.Error("fn called for messages all handled before")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// All or nothing: a failure records none of the messages as handled.
	c, d := uuid.New(), uuid.New()
	err = store.OnceAll(t.Context(), "test", []eventlog.Message{{ID: c}, {ID: d}}, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("got nil error, want fn's")
	}
	for _, id := range []uuid.UUID{c, d} {
		if done, err := store.Handled(t.Context(), "test", id); err != nil || done {
			t.Errorf("Handled for message %s of a failed batch: got %v, %v; want false, nil", id, done, err)
		}
	}
}

func TestAppendEachStoresEachMessagesEventsWithItsCorrelationID(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	view := uuid.New()
	at := time.Now().UTC()
	msgs := []eventlog.Message{{ID: uuid.New(), CorrelationID: "corr-a"}, {ID: uuid.New(), CorrelationID: "corr-b"}, {ID: uuid.New(), CorrelationID: "corr-c"}}
	var stored []int
	err := store.OnceAll(t.Context(), "test", msgs, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		var err error
		stored, err = tx.AppendEach(ctx, [][]events.Event{
			2: {events.ViewRecorded{ViewID: uuid.New(), TMDBID: 3, ViewedAt: at}},
			0: {events.ViewRecorded{ViewID: view, TMDBID: 1, ViewedAt: at}, events.ViewRecorded{ViewID: uuid.New(), TMDBID: 1, ViewedAt: at}},
			1: {events.ViewRecorded{ViewID: view, TMDBID: 1, ViewedAt: at}}, // message 0's view again
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0] != 2 || stored[1] != 0 || stored[2] != 1 {
		t.Errorf("stored %v, want 2 of message 0, none of 1 (its view is 0's), 1 of 2", stored)
	}
	rows, err := pool.Query(t.Context(), `SELECT tmdb_id, correlation_id FROM events ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID   int64
		Corr string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	// In the messages' order, each with its message's correlation id.
	if want := []row{{1, "corr-a"}, {1, "corr-a"}, {3, "corr-c"}}; !slices.Equal(got, want) {
		t.Errorf("log %+v, want %+v", got, want)
	}
}

// A transaction that appends more events than a batch may carry publishes
// them in several batches, each at most BatchEvents, in log order; each
// event's batch_id is the batch that carries it, so that a replay knows
// what a projection has handled.
func TestLargeTransactionsPublishSeveralBatches(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, _ := eventlog.NewStore(pool, nil)
	store.BatchEvents = 3
	views := func(n int) []events.Event {
		var evs []events.Event
		for range n {
			evs = append(evs, events.ViewRecorded{ViewID: uuid.New(), TMDBID: 7, ViewedAt: time.Now()})
		}
		return evs
	}
	msgs := []eventlog.Message{{ID: uuid.New()}, {ID: uuid.New()}}
	err := store.OnceAll(t.Context(), "test", msgs, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		// 4 and 3 events in two statements, then 2 more in one: the
		// batches fill across statements.
		if _, err := tx.AppendEach(ctx, [][]events.Event{views(4)}); err != nil {
			return err
		}
		if _, err := tx.For(1).Append(ctx, views(3)...); err != nil {
			return err
		}
		_, err := tx.AppendEach(ctx, [][]events.Event{views(1), views(1)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(t.Context(), `SELECT position, batch_id FROM events ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Position int64
		Batch    uuid.UUID
	}
	logged, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	var published []row
	var sizes []int
	for _, m := range testenv.Outbox(t, pool) {
		var b events.Batch
		if err := json.Unmarshal(m.Payload, &b); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b.Events))
		for _, e := range b.Events {
			published = append(published, row{e.Position, b.BatchID})
		}
	}
	if want := []int{3, 3, 3}; !slices.Equal(sizes, want) {
		t.Errorf("batches of %v events, want %v", sizes, want)
	}
	if len(logged) != 9 || !slices.Equal(published, logged) {
		t.Errorf("published (position, batch) %v, want the log's %v", published, logged)
	}
}

// TestConcurrentOnceAllsInOtherOrdersDoNotDeadlock: two workers handling
// the same messages at once (a bundle redelivered while the first worker's
// transaction is still open), each given them in another order, record
// them as handled in one order: each waits for the other instead of each
// holding a row the other wants (PostgreSQL would end one with a
// deadlock, after a second's stall).
func TestConcurrentOnceAllsInOtherOrdersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		msgs := make([]eventlog.Message, 200)
		for i := range msgs {
			msgs[i] = eventlog.Message{ID: uuid.New()}
		}
		reversed := slices.Clone(msgs)
		slices.Reverse(reversed)
		errs := make(chan error, 2)
		start := make(chan struct{})
		for _, order := range [][]eventlog.Message{msgs, reversed} {
			go func() {
				<-start
				errs <- store.OnceAll(t.Context(), "test", order, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
					return nil
				})
			}()
		}
		close(start)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// A writer's wait for the Exclusive lock is bounded by WriterLockTimeout
// and ends as the database's fault (55P03, unavailable: the message goes
// back to its queue), not at the caller's deadline, which the worker
// reads as the message's: a writer whose machine died keeps the lock
// until PostgreSQL ends its session. Not parallel: it sets the package's
// timeout.
func TestTheWritersLockWaitIsBounded(t *testing.T) {
	defer func(d time.Duration) { eventlog.WriterLockTimeout = d }(eventlog.WriterLockTimeout)
	eventlog.WriterLockTimeout = 200 * time.Millisecond
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	const key = 4242
	holder, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	if _, err := holder.Exec(t.Context(), `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	noop := func(context.Context, *eventlog.Tx, []int) error { return nil }
	err = store.OnceAll(ctx, "test", []eventlog.Message{{ID: uuid.New()}}, noop, eventlog.Exclusive(key))
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "55P03" || !messaging.Unavailable(err) {
		t.Fatalf("waiting on a held writer's lock: %v, want lock_timeout (55P03), unavailable", err)
	}
	if ctx.Err() != nil {
		t.Error("the wait ended at the caller's deadline, not at the lock's timeout")
	}
	// The lock released, the same call goes through.
	if err := holder.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := store.OnceAll(t.Context(), "test", []eventlog.Message{{ID: uuid.New()}}, noop, eventlog.Exclusive(key)); err != nil {
		t.Errorf("with the lock free: %v", err)
	}
}
