// Package intake is the API's write side: each accepted request becomes a
// write-model change and a command in the outbox, committed together in
// PostgreSQL (views, whose only write is the command, in one INSERT), so
// a 202 is never lost even while RabbitMQ is down.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/groupcommit"
	"github.com/movietrend/trend/internal/idgen"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/registry"
)

// Errors the API turns into 409 and 404.
var (
	ErrAlreadyRegistered = errors.New("movie already registered")
	ErrNotTracked        = errors.New("movie not registered or removed")
)

// Config tunes the group commit of views.
type Config struct {
	// MaxBatch bounds the views of one commit (and one message;
	// default 1000).
	MaxBatch int
	// Committers is how many commits may be in flight at once
	// (default 1). More committers split the waiting views into smaller
	// batches, so more messages for the same views. With the worker's
	// group commit, 1 committer measured (64 clients) 5,903 views/s
	// accepted, 5,811 applied end to end and a freshness p99 of 0.64 s;
	// 2 committers 5,350, 4,527 and 3.88 s; with Interval too, two
	// committers measured no better (docs/benchmarks.md).
	Committers int
	// Interval is the longest a commit waits for more views while views
	// keep coming (the first after a quiet spell starts at once); it
	// starts earlier once as many views wait as the previous commit
	// carried, which is when clients that wait for each answer are back
	// (groupcommit.Config.Returning). Default 0: no wait. Larger commits
	// mean fewer, larger messages through the relay, the broker and the
	// worker: with 64 clients, 2 to 2.5 ms as a fixed spacing measured
	// 13,000 to 15,300 views/s accepted against 12,600 to 12,800 without,
	// at less CPU per view (about 110 µs against 140); ending the wait
	// once the clients are back measured about a tenth more again
	// (docs/benchmarks.md).
	Interval time.Duration
}

// Intake accepts commands.
type Intake struct {
	pool  *pgxpool.Pool
	wlog  watermill.LoggerAdapter
	log   *slog.Logger
	now   func() time.Time
	views *groupcommit.Batcher[commands.View]
}

// New starts the committers; Close stops them.
func New(pool *pgxpool.Pool, log *slog.Logger, cfg Config) *Intake {
	in := &Intake{pool: pool, log: log, wlog: watermill.NewSlogLogger(log), now: time.Now}
	in.views = groupcommit.New(groupcommit.Config{MaxBatch: cfg.MaxBatch, Committers: cfg.Committers, Spacing: cfg.Interval, Returning: true}, in.commitViews)
	return in
}

// Close lets the committers finish what was submitted, then stops them.
// Call it after the HTTP server stopped accepting requests.
func (in *Intake) Close() { in.views.Close() }

// send writes one command to the outbox inside tx.
func (in *Intake) send(ctx context.Context, tx pgx.Tx, id uuid.UUID, correlationID string, cmd any) error {
	return sendCommand(ctx, tx, in.wlog, id, correlationID, cmd)
}

func sendCommand(ctx context.Context, tx pgx.Tx, wlog watermill.LoggerAdapter, id uuid.UUID, correlationID string, cmd any) error {
	out, err := messaging.NewOutbox(tx, wlog)
	if err != nil {
		return err
	}
	if err := out.SendCommand(ctx, id.String(), correlationID, cmd); err != nil {
		return fmt.Errorf("write command to the outbox: %w", err)
	}
	return nil
}

// RegisterMovie records the registration and queues RegisterMovie.
func (in *Intake) RegisterMovie(ctx context.Context, id int64, correlationID string) (registry.Registration, error) {
	now := in.now().UTC().Truncate(time.Microsecond)
	cmd := commands.RegisterMovie{CommandID: idgen.New(), TMDBID: id, RequestedAt: now, CorrelationID: correlationID}
	err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		isNew, err := registry.Register(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if !isNew {
			return ErrAlreadyRegistered
		}
		return in.send(ctx, tx, cmd.CommandID, correlationID, &cmd)
	})
	if err != nil {
		return registry.Registration{}, err
	}
	return registry.Registration{TMDBID: id, Status: registry.StatusPending, RegisteredAt: now, UpdatedAt: now}, nil
}

// RefreshMovie queues RefreshMovie for a tracked movie.
func (in *Intake) RefreshMovie(ctx context.Context, id int64, correlationID string) error {
	cmd := commands.RefreshMovie{CommandID: idgen.New(), TMDBID: id, RequestedAt: in.now().UTC(), CorrelationID: correlationID}
	return pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		tracked, err := registry.Tracked(ctx, tx, []int64{id})
		if err != nil {
			return err
		}
		if !tracked[id] {
			return ErrNotTracked
		}
		return in.send(ctx, tx, cmd.CommandID, correlationID, &cmd)
	})
}

// NotTrackedError lists the movies of a batch that are not tracked.
type NotTrackedError struct{ IDs []int64 }

func (e *NotTrackedError) Error() string {
	return fmt.Sprintf("movies not registered or removed: %v", e.IDs)
}

// Is makes errors.Is(err, ErrNotTracked) true.
func (e *NotTrackedError) Is(target error) bool { return target == ErrNotTracked }

// RecordViews accepts a batch of views all or nothing: one RecordViews
// command; if any movie is not tracked, none is recorded and the error is
// a *NotTrackedError naming them.
func (in *Intake) RecordViews(ctx context.Context, views []commands.View, correlationID string) error {
	missing, err := in.recordTracked(ctx, views, correlationID)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return &NotTrackedError{IDs: missing}
	}
	return nil
}

// recordTracked writes views as one RecordViews command if every one is
// of a tracked movie; if not, it writes nothing and returns the movies
// not tracked, in the order the views name them. The check is part of the
// INSERT, which needs no transaction around it (the command is a view's
// only write): one round trip where BEGIN, a read of the registrations,
// the insert and COMMIT took four, and about 2 ms under load, which the
// API's clients wait for (docs/benchmarks.md). A removal that commits
// after the INSERT is caught by RecordViews' handler, which drops views
// of movies no longer tracked.
func (in *Intake) recordTracked(ctx context.Context, views []commands.View, correlationID string) ([]int64, error) {
	// Distinct, for the guard; a batch may name 1,000 movies.
	ids := make([]int64, 0, len(views))
	seen := make(map[int64]bool, len(views))
	for _, v := range views {
		if !seen[v.TMDBID] {
			seen[v.TMDBID] = true
			ids = append(ids, v.TMDBID)
		}
	}
	// A registration that commits between a refused INSERT and the read
	// that names what was missing leaves nothing missing: try again.
	for range 3 {
		cmd := commands.RecordViews{CommandID: idgen.New(), Views: views, CorrelationID: correlationID}
		ok, err := messaging.SendCommandIf(ctx, in.pool, cmd.CommandID.String(), correlationID, &cmd, registry.AllTracked, ids)
		if err != nil || ok {
			return nil, err
		}
		tracked, err := registry.Tracked(ctx, in.pool, ids)
		if err != nil {
			return nil, err
		}
		var missing []int64
		for _, id := range ids {
			if !tracked[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return missing, nil
		}
	}
	return nil, errors.New("the movies' registrations kept changing while the views were recorded")
}

// RecordView returns once the view is durable in the outbox. Concurrent
// views share one RecordViews message (group commit): while one commits,
// the next batch gathers (for at least Interval after the previous began),
// so batches grow with load, and no timer adds latency when the system is
// idle. If ctx ends first the view may still commit; the client may retry
// with the same view_id, which is counted once.
func (in *Intake) RecordView(ctx context.Context, v commands.View) error {
	return in.views.Do(ctx, v)
}

func (in *Intake) commitViews(batch []commands.View) []error {
	// A request's own context must not abort its neighbours' commit.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := make([]error, len(batch))
	err := func() error {
		// The views of movies not tracked get ErrNotTracked; the others
		// are recorded. Each round drops at least one movie.
		views := batch
		for len(views) > 0 {
			missing, err := in.recordTracked(ctx, views, "")
			if err != nil || len(missing) == 0 {
				return err
			}
			for i, v := range batch {
				if slices.Contains(missing, v.TMDBID) {
					results[i] = ErrNotTracked
				}
			}
			views = slices.DeleteFunc(slices.Clone(views), func(v commands.View) bool { return slices.Contains(missing, v.TMDBID) })
		}
		return nil
	}()
	if err != nil {
		in.log.Error("group commit of views failed", "views", len(batch), "error", err)
		for i := range results {
			results[i] = err
		}
	}
	return results
}
