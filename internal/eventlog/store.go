// Package eventlog appends events to the log and runs handlers exactly
// once per message: the record that a handler handled a message, the
// handler's effect, the events it appended and their publication through
// the outbox all commit in one PostgreSQL transaction.
package eventlog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/idgen"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/postgres"
)

// Store is the event log and the record of handled messages.
type Store struct {
	pool   *pgxpool.Pool
	logger watermill.LoggerAdapter
	// BatchEvents is the most events one published batch carries; 0
	// means DefaultBatchEvents. A transaction that appends more publishes
	// several batches.
	BatchEvents int
}

// DefaultBatchEvents keeps a batch of views near 3 MB of JSON, far under
// what a consumer decodes (the codec's limit is 64 MiB). A worker's group
// commit after a backlog appends up to WORKER_CONSUMERS bundles of some
// 10,000 views each in one transaction: as one batch, that was over the
// limit, and dead-lettered as undecodable.
const DefaultBatchEvents = 10_000

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

// Tx is one unit of work: a PostgreSQL transaction that can append events
// on behalf of one message (see For).
type Tx struct {
	pgx.Tx
	units   []*unit
	cur     *unit
	batches *batching
}

// batching names the bus messages (batches) that will carry what a
// transaction appends, each up to max events in log order. The batch id
// is stored with each event so that a replay knows which events a
// projection has handled.
type batching struct {
	max   int
	id    uuid.UUID // the batch being filled
	count int       // events given to it so far
	of    map[int64]uuid.UUID
}

// take hands out batch ids for n events more, in order: the event k of
// them (from 0) goes to ids[(offset+k)/max].
func (b *batching) take(n int) (ids []uuid.UUID, offset int) {
	if b.id == uuid.Nil || b.count == b.max {
		b.id, b.count = idgen.New(), 0
	}
	ids, offset = []uuid.UUID{b.id}, b.count
	for k := b.max; k < offset+n; k += b.max {
		ids = append(ids, idgen.New())
	}
	b.id, b.count = ids[len(ids)-1], offset+n-(len(ids)-1)*b.max
	return ids, offset
}

// unit is what one message's handling appended.
type unit struct {
	msg      Message
	appended []events.Envelope
}

// Message names a message a handler handles, for OnceAll.
type Message struct {
	ID            uuid.UUID
	CorrelationID string
}

// For returns the transaction acting for message i of OnceAll's messages:
// what it appends carries that message's correlation id.
func (tx *Tx) For(i int) *Tx {
	return &Tx{Tx: tx.Tx, units: tx.units, cur: tx.units[i], batches: tx.batches}
}

// Appended returns what this transaction appended so far for its message,
// in log order.
func (tx *Tx) Appended() []events.Envelope { return tx.cur.appended }

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
// Events fn appends are published, as events.Batch messages (one unless
// there are more than BatchEvents), through the outbox in the same
// transaction.
func (s *Store) Once(ctx context.Context, handler string, messageID uuid.UUID, correlationID string, fn func(ctx context.Context, tx *Tx) error) error {
	return s.OnceAll(ctx, handler, []Message{{ID: messageID, CorrelationID: correlationID}},
		func(ctx context.Context, tx *Tx, _ []int) error { return fn(ctx, tx.For(0)) })
}

// OnceAll is Once for many messages in one transaction (a group commit):
// fn gets the indexes of the messages handler has not handled yet (never
// none) and acts for message i through tx.For(i). Every event appended,
// each with its own message's correlation id, is published in one batch
// (or in batches of BatchEvents, past that): the transaction commits them
// together, and each bus message costs the relay, the broker and every
// consumer far more than its events do. All or nothing: if fn fails, no
// message is recorded as handled.
func (s *Store) OnceAll(ctx context.Context, handler string, msgs []Message, fn func(ctx context.Context, tx *Tx, fresh []int) error, opts ...Option) error {
	ids := make([]uuid.UUID, len(msgs))
	for i, m := range msgs {
		if m.ID == uuid.Nil {
			// Recorded once, it would have every later message without an
			// id (a malformed producer's) taken for handled, and dropped.
			return messaging.PermanentError(fmt.Errorf("%s: a message without an id (the nil UUID) cannot be handled once", handler))
		}
		ids[i] = m.ID
	}
	// Recorded in one order whatever the order of msgs: two transactions
	// handling the same messages (one redelivered while the other runs)
	// then wait for each other instead of each holding a row the other
	// wants, which PostgreSQL ends as a deadlock after a second.
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error {
		if o.lock != nil {
			// Before the handled rows: a writer holding the lock may be
			// waiting for one of them (a message redelivered to it).
			// Bounded (lock_timeout, for the rest of the transaction too):
			// a writer on a machine that died keeps the lock until
			// PostgreSQL ends its session, and the others' waits must end
			// as the database's fault (SQLSTATE 55P03, unavailable), not
			// at their commit's deadline, which reads as the message's.
			if _, err := ptx.Exec(ctx, `SELECT set_config('lock_timeout', $2, true), pg_advisory_xact_lock($1)`,
				*o.lock, strconv.FormatInt(WriterLockTimeout.Milliseconds(), 10)); err != nil {
				return fmt.Errorf("take the writer's lock: %w", err)
			}
		}
		rows, err := ptx.Query(ctx,
			`INSERT INTO handled_messages (handler, message_id) SELECT $1, unnest($2::uuid[])
			 ON CONFLICT DO NOTHING RETURNING message_id`, handler, postgres.UUIDs(ids))
		if err != nil {
			return fmt.Errorf("record handled messages: %w", err)
		}
		inserted, err := postgres.CollectUUIDs(rows)
		if err != nil {
			return fmt.Errorf("record handled messages: %w", err)
		}
		if len(inserted) == 0 {
			return nil // all handled before
		}
		isNew := make(map[uuid.UUID]bool, len(inserted))
		for _, id := range inserted {
			isNew[id] = true
		}
		limit := s.BatchEvents
		if limit <= 0 {
			limit = DefaultBatchEvents
		}
		tx := &Tx{Tx: ptx, units: make([]*unit, len(msgs)), batches: &batching{max: limit, of: map[int64]uuid.UUID{}}}
		var fresh []int
		for i, m := range msgs {
			tx.units[i] = &unit{msg: m}
			// A message given twice is handled once, at its first place.
			if isNew[m.ID] {
				fresh = append(fresh, i)
				delete(isNew, m.ID)
			}
		}
		tx.cur = tx.units[fresh[0]]
		if err := fn(ctx, tx, fresh); err != nil {
			return err
		}
		return s.publish(ctx, tx)
	})
}

// publish queues what tx appended as batches (one unless it appended more
// than the Store's BatchEvents), in log order. A message's correlation id
// is its messages' one, or none if they differ: each event keeps its own.
func (s *Store) publish(ctx context.Context, tx *Tx) error {
	var evs []events.Envelope
	corr, mixed := "", false
	for _, u := range tx.units {
		if len(u.appended) == 0 {
			continue
		}
		if evs == nil {
			corr = u.msg.CorrelationID
		} else if u.msg.CorrelationID != corr {
			mixed = true
		}
		evs = append(evs, u.appended...)
	}
	if len(evs) == 0 {
		return nil
	}
	if mixed {
		corr = ""
	}
	slices.SortFunc(evs, func(a, b events.Envelope) int { return cmp.Compare(a.Position, b.Position) })
	out, err := messaging.NewOutbox(tx.Tx, s.logger)
	if err != nil {
		return err
	}
	// The events of a batch are together in log order: ids were handed out
	// in the order of appending, which is the order of positions.
	for len(evs) > 0 {
		id := tx.batches.of[evs[0].Position]
		n := 1
		for n < len(evs) && tx.batches.of[evs[n].Position] == id {
			n++
		}
		if err := out.PublishEvent(ctx, corr, &events.Batch{BatchID: id, Events: evs[:n]}); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// Option changes how OnceAll runs.
type Option func(*options)

type options struct{ lock *int64 }

// WriterLockTimeout bounds the wait for an Exclusive lock, and every lock
// wait of that transaction: under the worker's 30 s commit bound.
var WriterLockTimeout = 20 * time.Second

// Exclusive makes OnceAll take the transaction-scoped advisory lock key
// first, so that the handlers sharing key write one at a time, across
// processes, in the order their transactions commit.
func Exclusive(key int64) Option { return func(o *options) { o.lock = &key } }

// Append adds events to the log. An event whose dedup key (a view_id) is
// already in the log is skipped; Append returns how many were stored.
func (tx *Tx) Append(ctx context.Context, evs ...events.Event) (int, error) {
	i := slices.Index(tx.units, tx.cur)
	each := make([][]events.Event, i+1)
	each[i] = evs
	n, err := tx.AppendEach(ctx, each)
	if err != nil {
		return 0, err
	}
	return n[i], nil
}

// AppendEach is Append for several of OnceAll's messages at once, in one
// statement: evs[i] are appended on behalf of message i (of OnceAll's
// msgs), with its correlation id, in the messages' order. It returns how
// many of each were stored.
func (tx *Tx) AppendEach(ctx context.Context, evs [][]events.Event) ([]int, error) {
	var n int
	for _, e := range evs {
		n += len(e)
	}
	stored := make([]int, len(evs))
	if n == 0 {
		return stored, nil
	}
	var (
		ids      = make([]uuid.UUID, 0, n)
		types    = make([]string, 0, n)
		versions = make([]int32, 0, n)
		movies   = make([]int64, 0, n)
		keys     = make([]pgtype.UUID, 0, n) // invalid (NULL) where an event has none
		times    = make([]time.Time, 0, n)
		data     = make([]string, 0, n)
		corrs    = make([]string, 0, n)
		byID     = make(map[uuid.UUID]envelopeOf, n)
		k        int // the event's place in the statement
	)
	batchIDs, offset := tx.batches.take(n)
	for i := range evs {
		corr := tx.units[i].msg.CorrelationID
		for _, ev := range evs[i] {
			env, err := events.Seal(ev, corr)
			if err != nil {
				return nil, err
			}
			var key pgtype.UUID
			if d, ok := ev.(events.Deduplicated); ok {
				key = pgtype.UUID{Bytes: d.DedupKey(), Valid: true}
			}
			ids, types, versions, movies, keys, times, data, corrs = append(ids, env.EventID), append(types, env.Type),
				append(versions, int32(env.Version)), append(movies, env.TMDBID), append(keys, key),
				append(times, env.OccurredAt), append(data, string(env.Data)), append(corrs, corr)
			byID[env.EventID] = envelopeOf{env: env, unit: i, batch: batchIDs[(offset+k)/tx.batches.max]}
			k++
		}
	}
	// One statement for the whole batch; WITH ORDINALITY keeps the caller's
	// order in the positions the log assigns.
	rows, err := tx.Query(ctx, `
		INSERT INTO events (event_id, type, version, tmdb_id, dedup_key, occurred_at, correlation_id, data, batch_id)
		SELECT e.event_id, e.type, e.version, e.tmdb_id, e.dedup_key, e.occurred_at, e.corr, e.data::jsonb,
		       ($9::uuid[])[(e.ord - 1 + $10) / $11 + 1]
		FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::uuid[], $6::timestamptz[], $7::text[], $8::text[])
		     WITH ORDINALITY AS e(event_id, type, version, tmdb_id, dedup_key, occurred_at, data, corr, ord)
		ORDER BY e.ord
		ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		RETURNING event_id, position`,
		postgres.UUIDs(ids), types, versions, movies, keys, times, data, corrs, postgres.UUIDs(batchIDs), offset, tx.batches.max)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	var appended []envelopeOf
	for rows.Next() {
		var id pgtype.UUID
		var pos int64
		if err := rows.Scan(&id, &pos); err != nil {
			return nil, err
		}
		e := byID[id.Bytes]
		e.env.Position = pos
		tx.batches.of[pos] = e.batch
		appended = append(appended, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	slices.SortFunc(appended, func(a, b envelopeOf) int { return cmp.Compare(a.env.Position, b.env.Position) })
	for _, e := range appended {
		u := tx.units[e.unit]
		u.appended = append(u.appended, e.env)
		stored[e.unit]++
	}
	return stored, nil
}

// envelopeOf is an event being appended, and the message it is for.
type envelopeOf struct {
	env   events.Envelope
	unit  int
	batch uuid.UUID
}

// Read returns up to limit events after position from, in log order: a
// snapshot of the log for tests. It is no cursor: an event that commits
// late can take a position behind one already read (replays read in
// transaction-id order, below the oldest running transaction, instead).
func (s *Store) Read(ctx context.Context, from int64, limit int) ([]events.Envelope, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+EnvelopeColumns+` FROM events WHERE position > $1 ORDER BY position LIMIT $2`, from, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, ScanEnvelope)
}

// EnvelopeColumns are the columns of events that ScanEnvelope reads, in
// its order.
const EnvelopeColumns = `position, event_id, type, version, tmdb_id, occurred_at, correlation_id, data`

// ScanEnvelope reads a row of EnvelopeColumns.
func ScanEnvelope(r pgx.CollectableRow) (events.Envelope, error) {
	var e events.Envelope
	var data []byte
	err := r.Scan(&e.Position, &e.EventID, &e.Type, &e.Version, &e.TMDBID, &e.OccurredAt, &e.CorrelationID, &data)
	e.Data = data
	e.OccurredAt = e.OccurredAt.UTC()
	return e, err
}
