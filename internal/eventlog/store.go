// Package eventlog appends events to the log and runs handlers exactly
// once per message: the record that a handler handled a message, the
// handler's effect, the events it appended and their publication through
// the outbox all commit in one PostgreSQL transaction.
package eventlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/messaging"
)

// Store is the event log and the record of handled messages.
type Store struct {
	pool   *pgxpool.Pool
	logger watermill.LoggerAdapter
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool, logger watermill.LoggerAdapter) (*Store, error) {
	if pool == nil {
		return nil, errors.New("eventlog: nil pool")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &Store{pool: pool, logger: logger}, nil
}

// Tx is one unit of work: a PostgreSQL transaction that can append events.
type Tx struct {
	pgx.Tx
	correlationID string
	// batchID names the bus message that will carry what this transaction
	// appends; it is stored with each event so that a replay knows which
	// events a projection has handled.
	batchID  uuid.UUID
	appended []events.Envelope
}

// Appended returns what this transaction appended so far, in log order.
func (tx *Tx) Appended() []events.Envelope { return tx.appended }

// Handled tells whether handler already handled messageID.
func (s *Store) Handled(ctx context.Context, handler string, messageID uuid.UUID) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM handled_messages WHERE handler = $1 AND message_id = $2)`,
		handler, messageID).Scan(&ok)
	return ok, err
}

// Once runs fn in a transaction unless handler already handled messageID.
// A redelivered message therefore has no second effect, even if the first
// delivery crashed after its commit and before its acknowledgement.
// Events fn appends are published, as one events.Batch, through the
// outbox in the same transaction.
func (s *Store) Once(ctx context.Context, handler string, messageID uuid.UUID, correlationID string, fn func(ctx context.Context, tx *Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error {
		tag, err := ptx.Exec(ctx,
			`INSERT INTO handled_messages (handler, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			handler, messageID)
		if err != nil {
			return fmt.Errorf("record handled message: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // handled before
		}
		tx := &Tx{Tx: ptx, correlationID: correlationID, batchID: uuid.New()}
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if len(tx.appended) == 0 {
			return nil
		}
		out, err := messaging.NewOutbox(ptx, s.logger)
		if err != nil {
			return err
		}
		return out.PublishEvent(ctx, correlationID, &events.Batch{BatchID: tx.batchID, Events: tx.appended})
	})
}

// Append adds events to the log. An event whose dedup key (a view_id) is
// already in the log is skipped; Append returns how many were stored.
func (tx *Tx) Append(ctx context.Context, evs ...events.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	n := len(evs)
	var (
		ids      = make([]uuid.UUID, n)
		types    = make([]string, n)
		versions = make([]int32, n)
		movies   = make([]int64, n)
		keys     = make([]*uuid.UUID, n)
		times    = make([]time.Time, n)
		data     = make([]string, n)
		byID     = make(map[uuid.UUID]events.Envelope, n)
	)
	for i, ev := range evs {
		env, err := events.Seal(ev, tx.correlationID)
		if err != nil {
			return 0, err
		}
		ids[i], types[i], versions[i], movies[i], times[i], data[i] =
			env.EventID, env.Type, int32(env.Version), env.TMDBID, env.OccurredAt, string(env.Data)
		if d, ok := ev.(events.Deduplicated); ok {
			k := d.DedupKey()
			keys[i] = &k
		}
		byID[env.EventID] = env
	}
	// One statement for the whole batch; WITH ORDINALITY keeps the caller's
	// order in the positions the log assigns.
	rows, err := tx.Query(ctx, `
		INSERT INTO events (event_id, type, version, tmdb_id, dedup_key, occurred_at, correlation_id, data, batch_id)
		SELECT e.event_id, e.type, e.version, e.tmdb_id, e.dedup_key, e.occurred_at, $8, e.data::jsonb, $9
		FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::uuid[], $6::timestamptz[], $7::text[])
		     WITH ORDINALITY AS e(event_id, type, version, tmdb_id, dedup_key, occurred_at, data, ord)
		ORDER BY e.ord
		ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		RETURNING event_id, position`,
		ids, types, versions, movies, keys, times, data, tx.correlationID, tx.batchID)
	if err != nil {
		return 0, fmt.Errorf("append events: %w", err)
	}
	var stored []events.Envelope
	for rows.Next() {
		var id uuid.UUID
		var pos int64
		if err := rows.Scan(&id, &pos); err != nil {
			return 0, err
		}
		env := byID[id]
		env.Position = pos
		stored = append(stored, env)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("append events: %w", err)
	}
	slices.SortFunc(stored, func(a, b events.Envelope) int { return cmp.Compare(a.Position, b.Position) })
	tx.appended = append(tx.appended, stored...)
	return len(stored), nil
}

// Read returns up to limit events after position from, in log order. It
// is how replays and checks read the log.
func (s *Store) Read(ctx context.Context, from int64, limit int) ([]events.Envelope, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT position, event_id, type, version, tmdb_id, occurred_at, correlation_id, data
		FROM events WHERE position > $1 ORDER BY position LIMIT $2`, from, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.Envelope, error) {
		var e events.Envelope
		var data []byte
		err := r.Scan(&e.Position, &e.EventID, &e.Type, &e.Version, &e.TMDBID, &e.OccurredAt, &e.CorrelationID, &data)
		e.Data = data
		e.OccurredAt = e.OccurredAt.UTC()
		return e, err
	})
}
