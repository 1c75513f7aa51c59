// Package replay rebuilds a projection from the event log into a shadow
// copy while the live copy keeps serving reads and keeps being updated,
// then switches them in one transaction. It can also rebuild into a scratch
// copy and report every difference from the live one (a drift check).
//
// What the live copy reflects is exactly the event batches its handler has
// handled (handled_messages). The rebuild applies those batches' events:
// it reads the log in (transaction_id, position) order up to the oldest
// running transaction, so no event can appear behind its cursor; events of
// batches not handled yet are held back and applied once they are. The
// switch locks the live tables against writes (reads go on), applies what
// is left, and renames the tables.
package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/postgres"
)

// DB is a transaction or a pool.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Projection is a projection that can be rebuilt.
type Projection interface {
	Name() string
	// Handler names the live handler in handled_messages.
	Handler() string
	// Live is the base name of the live copy.
	Live() string
	// Tables lists the tables of the copy named base (base first).
	Tables(base string) []string
	// Apply folds evs into the copy, which holds the events applied says
	// (a removal applied late undoes and applies again what the copy holds
	// of its movie logged after it).
	Apply(ctx context.Context, tx pgx.Tx, base string, evs []events.Envelope, applied Applied) error
	// Flush writes what Apply gathered in memory so far (after the bulk of
	// the log, while the copy is still unlogged); Finish runs once after the
	// last events, before the copy is compared or switched in.
	Flush(ctx context.Context, tx pgx.Tx, base string) error
	Finish(ctx context.Context, tx pgx.Tx, base string) error
	Diff(ctx context.Context, tx pgx.Tx, a, b string, limit int) ([]string, error)
}

// Applied says which events of the log a copy being rebuilt holds before
// an Apply: every event up to (ThroughX, ThroughP) in the log's
// (transaction id, position) order, but those of the batches Held back
// (not handled by the live projection when they were read). An event of
// no batch is held by no batch.
// The zero Applied holds nothing.
type Applied struct {
	ThroughX string // transaction id (xid8 as text); "" or "0" before any
	ThroughP int64
	// Held lists the batches held back; a function, as only a rare repair
	// asks, and the list can be long while the live projection lags.
	Held func() []uuid.UUID
}

// ErrRestoredLog means the log holds transaction ids of another cluster,
// which migrations renumber (`trend migrate`, or a role's start without
// --no-migrate).
var ErrRestoredLog = errors.New("the event log holds transaction ids of another cluster (a database restored from a dump?): run `trend migrate` first, which renumbers them")

// ErrRunning means another replay holds the lock.
var ErrRunning = errors.New("a replay is already running")

// ErrKeepWithCheck refuses keep with check: keep keeps the old copy after
// a switch, and a check switches nothing (the flag was silently ignored).
var ErrKeepWithCheck = errors.New("keep applies to a rebuild, and a check rebuilds nothing")

// Options say what to do.
type Options struct {
	// Check rebuilds into a scratch copy, reports the differences from the
	// live copy and changes nothing.
	Check bool
	// Keep keeps the old live copy (renamed <live>_old_<id>) after a switch.
	Keep bool
	// ChunkSize is how many events one transaction applies (default 50,000).
	ChunkSize int
	// OnProgress is called after each chunk.
	OnProgress func(Progress)

	onStart      func(id int64)
	afterRound   func() // after each catch-up round (tests)
	beforeCommit func() // once the switch is ready to commit (tests)
}

// Progress is how far a replay is.
type Progress struct {
	Done, Total int64
	Rate        float64 // events per second
	Left        time.Duration
}

// Result is how a replay ended.
type Result struct {
	ID          int64
	Events      int64
	Took        time.Duration
	Differences []string // with Check: the first DiffLimit
	// Truncated says a check found more differences than it lists.
	Truncated bool
}

// DiffLimit is how many differences a check lists at most.
const DiffLimit = 1000

// Replayer runs replays.
type Replayer struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// New returns a Replayer.
func New(pool *pgxpool.Pool, log *slog.Logger) *Replayer {
	return &Replayer{pool: pool, log: log}
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("replay:" + name))
	return int64(h.Sum64() >> 1)
}

type run struct {
	r       *Replayer
	p       Projection
	opts    Options
	shadow  string
	id      int64
	cursorX string // transaction id (xid8 as text)
	cursorP int64
	// appliedX and appliedP are the cursor as of the last chunk applied:
	// the reader reads ahead, so the cursor can be a chunk further on.
	appliedX string
	appliedP int64
	// pending holds the batches read but not handled yet by the live
	// projection, as the span of positions their events read so far lie
	// in: the events themselves are read again once handled, so that a
	// projection far behind costs no memory per event.
	pending map[uuid.UUID]span
	// caughtUp are the batches applyPending applied: handled, so their
	// events in chunks read before (the reader can be two ahead) are
	// handled too. Batches never become unhandled.
	caughtUp map[uuid.UUID]bool
	done     int64
	total    int64
	start    time.Time
}

// Run rebuilds (or checks) projection p. Only one replay of a projection
// runs at a time (a PostgreSQL advisory lock, released if the process dies).
func (r *Replayer) Run(ctx context.Context, p Projection, opts Options) (Result, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 50000
	}
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(p.Name())).Scan(&locked); err != nil {
		return Result{}, err
	}
	if !locked {
		return Result{}, ErrRunning
	}
	unlocked := false
	defer func() {
		if !unlocked {
			_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey(p.Name()))
		}
	}()

	// A log restored from another cluster sorts its old events after the
	// new ones until migrations renumber them (postgres.Migrate): read so,
	// a rebuild applied the whole history last.
	var restored bool
	if err := r.pool.QueryRow(ctx, postgres.RestoredLog).Scan(&restored); err != nil {
		return Result{}, err
	}
	if restored {
		return Result{}, ErrRestoredLog
	}
	mode := "rebuild"
	suffix := "_replay"
	if opts.Check {
		mode, suffix = "check", "_check"
	}
	// A replay that died left its row "running": it is not (we hold the lock).
	if _, err := r.pool.Exec(ctx, `UPDATE projection_replays SET state = 'failed', error = $2, finished_at = now()
		WHERE projection = $1 AND state = 'running'`, p.Name(), interrupted); err != nil {
		return Result{}, err
	}
	ru := &run{r: r, p: p, opts: opts, shadow: p.Live() + suffix, pending: map[uuid.UUID]span{}, caughtUp: map[uuid.UUID]bool{}, cursorX: "0", appliedX: "0", start: time.Now()}
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&ru.total); err != nil {
		return Result{}, err
	}
	if err := r.pool.QueryRow(ctx, `INSERT INTO projection_replays (projection, mode, state, total) VALUES ($1, $2, 'running', $3) RETURNING id`,
		p.Name(), mode, ru.total).Scan(&ru.id); err != nil {
		return Result{}, err
	}
	if opts.onStart != nil {
		opts.onStart(ru.id)
	}
	res, err := ru.execute(ctx)
	res.ID = ru.id
	state, msg := "done", ""
	if err != nil {
		state, msg = "failed", err.Error()
	}
	var diffs *int64
	if opts.Check && err == nil {
		n := int64(len(res.Differences))
		diffs = &n
	}
	// Recorded even when ctx was cancelled (a stop request). The lock is
	// released by the same statement, before it commits: whoever reads the
	// end can start the next replay at once. One that takes the lock
	// before the commit waits for this row when it marks leftovers
	// "interrupted", then finds it ended.
	var released bool
	uerr := conn.QueryRow(context.Background(), `WITH ended AS (
			UPDATE projection_replays SET state = $2, error = nullif($3, ''), done = $4,
				differences = $5, finished_at = now(), updated_at = now() WHERE id = $1 RETURNING id)
		SELECT pg_advisory_unlock($6) FROM ended`, ru.id, state, msg, ru.done, diffs, lockKey(p.Name())).Scan(&released)
	if errors.Is(uerr, pgx.ErrNoRows) { // the row is gone: nothing to record
		uerr = nil
	}
	unlocked = uerr == nil && released
	return res, errors.Join(err, uerr)
}

func (ru *run) execute(ctx context.Context) (Result, error) {
	p := ru.p
	// Leftovers of an interrupted replay go first; the live copy was never
	// touched by it.
	if err := ru.dropShadow(ctx); err != nil {
		return Result{}, err
	}
	defer func() {
		if ru.opts.Check {
			_ = ru.dropShadow(context.Background())
		}
	}()
	live, shadow := p.Tables(p.Live()), p.Tables(ru.shadow)
	for i := range live {
		// Unlogged while it is built: no WAL for a copy that is thrown away
		// if the replay dies; made logged (one bulk write) before the switch.
		_, err := ru.r.pool.Exec(ctx, fmt.Sprintf(`CREATE UNLOGGED TABLE %s (LIKE %s INCLUDING ALL)`,
			pgx.Identifier{shadow[i]}.Sanitize(), pgx.Identifier{live[i]}.Sanitize()))
		if err != nil {
			return Result{}, fmt.Errorf("create %s: %w", shadow[i], err)
		}
	}
	// Bulk, then catch up while the live copy moves on, until a round finds
	// little left to do (or, under a steady stream, a few rounds later: the
	// last round under the lock takes what is left).
	for range 10 {
		n, err := ru.round(ctx, ru.r.pool, true)
		if err != nil {
			return Result{}, err
		}
		if ru.opts.afterRound != nil {
			ru.opts.afterRound()
		}
		if n <= ru.opts.ChunkSize/10 {
			break
		}
	}
	if err := pgx.BeginFunc(ctx, ru.r.pool, func(tx pgx.Tx) error { return p.Flush(ctx, tx, ru.shadow) }); err != nil {
		return Result{}, fmt.Errorf("flush: %w", err)
	}
	if !ru.opts.Check {
		for _, t := range shadow {
			if _, err := ru.r.pool.Exec(ctx, `ALTER TABLE `+pgx.Identifier{t}.Sanitize()+` SET LOGGED`); err != nil {
				return Result{}, fmt.Errorf("make %s logged: %w", t, err)
			}
		}
	}
	res := Result{}
	// A switch makes writers wait (readers do not) while the last events
	// are applied and the tables renamed. A check needs no lock: it
	// applies the last events and compares in one snapshot, where the live
	// copy and the batches it handled are as consistent as under the lock
	// (each of the live copy's transactions commits both), so the live
	// projection goes on while it compares.
	txOptions := pgx.TxOptions{}
	if ru.opts.Check {
		txOptions.IsoLevel = pgx.RepeatableRead
	}
	err := commitWhatever(ctx, ru.r.pool, txOptions, func(tx pgx.Tx) error {
		if !ru.opts.Check {
			for _, t := range live {
				if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{t}.Sanitize()+` IN EXCLUSIVE MODE`); err != nil {
					return err
				}
			}
		}
		if _, err := ru.round(ctx, tx, false); err != nil {
			return err
		}
		if err := p.Finish(ctx, tx, ru.shadow); err != nil {
			return err
		}
		if ru.opts.Check {
			diffs, err := p.Diff(ctx, tx, p.Live(), ru.shadow, DiffLimit+1)
			if len(diffs) > DiffLimit {
				diffs, res.Truncated = diffs[:DiffLimit], true
			}
			res.Differences = diffs
			return err
		}
		old := fmt.Sprintf("%s_old_%d", p.Live(), ru.id)
		for i, t := range live {
			oldName := p.Tables(old)[i]
			if _, err := tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{t}.Sanitize()+` RENAME TO `+pgx.Identifier{oldName}.Sanitize()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{shadow[i]}.Sanitize()+` RENAME TO `+pgx.Identifier{t}.Sanitize()); err != nil {
				return err
			}
		}
		if !ru.opts.Keep {
			for _, t := range p.Tables(old) {
				if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{t}.Sanitize()); err != nil {
					return err
				}
			}
		}
		if ru.opts.beforeCommit != nil {
			ru.opts.beforeCommit()
		}
		return nil
	})
	if err != nil && ru.opts.Check {
		return Result{}, fmt.Errorf("compare: %w", err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("switch: %w", err)
	}
	res.Events, res.Took = ru.done, time.Since(ru.start)
	return res, nil
}

// commitWhatever runs fn in a transaction as pgx.BeginTxFunc does, but
// sends its COMMIT whatever ctx does by then: a stop that cut a COMMIT
// already sent had the switch done and the replay reported failed, "the
// live projection as it was". A stop before fn ends still rolls back.
func commitWhatever(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	err = fn(tx)
	// Bounded from here, so that a PostgreSQL that stopped answering does
	// not hold a stopped replay for ever.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), switchCommitTimeout)
	defer cancel()
	if err != nil {
		_ = tx.Rollback(octx)
		return err
	}
	return tx.Commit(octx)
}

// switchCommitTimeout bounds the switch's COMMIT once a stop was asked.
const switchCommitTimeout = time.Minute

func (ru *run) dropShadow(ctx context.Context) error {
	for _, t := range ru.p.Tables(ru.shadow) {
		if _, err := ru.r.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{t}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

// round applies the events after the cursor and the held-back events whose
// batches were handled since, and returns how many events it read. With
// horizon, it reads only transactions older than every running one (so
// the cursor never skips an event); the final round, under the lock (a
// check's: in one snapshot), reads every visible event: a batch not
// visible yet cannot have been handled.
func (ru *run) round(ctx context.Context, db DB, horizon bool) (int, error) {
	read := 0
	rctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the read-ahead if this round fails
	next := ru.reader(rctx, db, horizon)
	for {
		c := next()
		if c.err != nil {
			return read, c.err
		}
		if c.evs == nil {
			break
		}
		evs, handled := c.evs, c.handled
		read += len(evs)
		// Held-back batches handled since go first: the live projection
		// handled them before anything read now as handled that came later
		// (a removal of their movie, say), so they come first here too.
		if len(ru.pending) > 0 {
			if err := ru.applyPending(ctx, db); err != nil {
				return read, err
			}
		}
		var apply []events.Envelope
		for i, e := range evs {
			// A batch that straddles chunks, held back as an earlier one
			// was read and applied since: its events here are handled too
			// (this chunk was read before that), or the copy would hold
			// part of a batch it says it holds back.
			if handled[i] || ru.caughtUp[e.batch] {
				apply = append(apply, e.Envelope)
			} else {
				ru.pending[e.batch] = ru.pending[e.batch].with(e.Position)
			}
		}
		if err := ru.apply(ctx, db, apply); err != nil {
			return read, err
		}
		ru.appliedX, ru.appliedP = c.throughX, c.throughP
		ru.done += int64(len(evs))
		ru.progress(ctx, db)
	}
	return read, ru.applyPending(ctx, db)
}

// reader returns a function that gives the next chunk of the log (nil at
// the end). Outside a transaction it reads ahead on its own connection, so
// that the next chunk is read while the current one is applied and both
// cores stay busy; inside one (the final round) it reads in turn.
func (ru *run) reader(ctx context.Context, db DB, horizon bool) func() chunk {
	done := false
	sequential := func() chunk {
		if done {
			return chunk{}
		}
		c := ru.read(ctx, db, horizon)
		done = c.err != nil || len(c.evs) < ru.opts.ChunkSize
		if len(c.evs) == 0 && c.err == nil {
			return chunk{}
		}
		return c
	}
	if _, inTx := db.(pgx.Tx); inTx {
		return sequential
	}
	chunks := make(chan chunk, 1)
	go func() {
		defer close(chunks)
		for {
			c := sequential()
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
			if c.evs == nil || c.err != nil {
				return
			}
		}
	}()
	return func() chunk {
		c, ok := <-chunks
		if !ok {
			return chunk{err: ctx.Err()}
		}
		return c
	}
}

// chunk is a part of the log as read: its events, which of them the live
// projection had handled, and the cursor after it.
type chunk struct {
	evs      []logEvent
	handled  []bool
	throughX string
	throughP int64
	err      error
}

type logEvent struct {
	events.Envelope
	batch uuid.UUID
}

// span is the positions from lo to hi; the zero span holds none.
type span struct{ lo, hi int64 }

func (s span) with(pos int64) span {
	if s == (span{}) {
		return span{pos, pos}
	}
	return span{min(s.lo, pos), max(s.hi, pos)}
}

// logColumns are what scanLog reads of an event e: decoded as little as
// they can be, a ViewRecorded being all in its columns (its id,
// correlation and JSON are not needed).
const logColumns = `e.position, e.type, e.version, e.tmdb_id, e.occurred_at,
		       CASE WHEN e.type = 'ViewRecorded' AND e.version = 1 THEN NULL ELSE e.event_id END,
		       CASE WHEN e.type = 'ViewRecorded' AND e.version = 1 THEN NULL ELSE e.correlation_id END,
		       CASE WHEN e.type = 'ViewRecorded' AND e.version = 1 THEN NULL ELSE e.data END,
		       e.batch_id`

// scanLog reads rows of logColumns, and closes them.
func scanLog(rows pgx.Rows) ([]logEvent, error) {
	defer rows.Close()
	var (
		out []logEvent
		typ pgtype.DriverBytes // borrowed: no copy per event
	)
	for rows.Next() {
		var (
			e                logEvent
			eventID, batchID pgtype.UUID
			corr             pgtype.Text
			data             []byte
		)
		if err := rows.Scan(&e.Position, &typ, &e.Version, &e.TMDBID, &e.OccurredAt, &eventID, &corr, &data, &batchID); err != nil {
			return nil, err
		}
		e.Type = internType(typ)
		e.EventID, e.CorrelationID, e.Data, e.OccurredAt = eventID.Bytes, corr.String, data, e.OccurredAt.UTC()
		if batchID.Valid {
			e.batch = batchID.Bytes
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (ru *run) read(ctx context.Context, db DB, horizon bool) chunk {
	limit := `AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())`
	if !horizon {
		limit = ""
	}
	// A plain index scan; the cursor's transaction id is read for the last
	// event only. The handled batches are looked up apart, once per batch,
	// not per event.
	rows, err := db.Query(ctx, `
		SELECT `+logColumns+`
		FROM events e
		WHERE (e.transaction_id, e.position) > ($1::text::xid8, $2) `+limit+`
		ORDER BY e.transaction_id, e.position LIMIT $3`,
		ru.cursorX, ru.cursorP, ru.opts.ChunkSize)
	if err != nil {
		return chunk{err: fmt.Errorf("read the log: %w", err)}
	}
	out, err := scanLog(rows)
	if err != nil {
		return chunk{err: fmt.Errorf("read the log: %w", err)}
	}
	batches := map[uuid.UUID]bool{}
	for _, e := range out {
		if e.batch != uuid.Nil {
			batches[e.batch] = false
		}
	}
	if len(out) == 0 {
		return chunk{}
	}
	last := out[len(out)-1].Position
	if err := db.QueryRow(ctx, `SELECT transaction_id::text FROM events WHERE position = $1`, last).Scan(&ru.cursorX); err != nil {
		return chunk{err: fmt.Errorf("read the log: %w", err)}
	}
	ru.cursorP = last
	if len(batches) > 0 {
		done, err := ru.handled(ctx, db, slices.Collect(maps.Keys(batches)))
		if err != nil {
			return chunk{err: err}
		}
		for _, id := range done {
			batches[id] = true
		}
	}
	handled := make([]bool, len(out))
	for i, e := range out {
		// An event of no batch was appended before batches were recorded:
		// the live projection has it.
		handled[i] = e.batch == uuid.Nil || batches[e.batch]
	}
	return chunk{evs: out, handled: handled, throughX: ru.cursorX, throughP: ru.cursorP}
}

// internType returns the type name read: the one copy of it for a
// ViewRecorded, so that a chunk of 50,000 views allocates no names.
func internType(b []byte) string {
	if string(b) == events.TypeViewRecorded {
		return events.TypeViewRecorded
	}
	return string(b)
}

// handled returns which of the batches ids the live projection has
// handled.
func (ru *run) handled(ctx context.Context, db DB, ids []uuid.UUID) ([]uuid.UUID, error) {
	rows, err := db.Query(ctx, `SELECT message_id FROM handled_messages WHERE handler = $1 AND message_id = ANY($2)`,
		ru.p.Handler(), postgres.UUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("read the handled batches: %w", err)
	}
	done, err := postgres.CollectUUIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("read the handled batches: %w", err)
	}
	return done, nil
}

// applyPending applies the held-back batches that were handled since.
func (ru *run) applyPending(ctx context.Context, db DB) error {
	if len(ru.pending) == 0 {
		return nil
	}
	now, err := ru.handled(ctx, db, slices.Collect(maps.Keys(ru.pending)))
	if err != nil {
		return err
	}
	if len(now) == 0 {
		return nil
	}
	// Their events read again: those of each batch within its span (other
	// transactions' events may lie between them; the batch id tells them
	// apart), in one statement.
	var los, his []int64
	for _, id := range now {
		los, his = append(los, ru.pending[id].lo), append(his, ru.pending[id].hi)
		delete(ru.pending, id)
		ru.caughtUp[id] = true
	}
	rows, err := db.Query(ctx, `
		SELECT `+logColumns+`
		FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS b(id, lo, hi)
		CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.position BETWEEN b.lo AND b.hi AND e.batch_id = b.id) e
		ORDER BY e.position`, postgres.UUIDs(now), los, his)
	if err != nil {
		return fmt.Errorf("read the held-back batches: %w", err)
	}
	read, err := scanLog(rows)
	if err != nil {
		return fmt.Errorf("read the held-back batches: %w", err)
	}
	apply := make([]events.Envelope, len(read))
	for i, e := range read {
		apply[i] = e.Envelope
	}
	return ru.apply(ctx, db, apply)
}

func (ru *run) apply(ctx context.Context, db DB, evs []events.Envelope) error {
	if len(evs) == 0 {
		return nil
	}
	applied := Applied{ThroughX: ru.appliedX, ThroughP: ru.appliedP, Held: func() []uuid.UUID { return slices.Collect(maps.Keys(ru.pending)) }}
	if tx, ok := db.(pgx.Tx); ok {
		return ru.p.Apply(ctx, tx, ru.shadow, evs, applied)
	}
	return pgx.BeginFunc(ctx, ru.r.pool, func(tx pgx.Tx) error { return ru.p.Apply(ctx, tx, ru.shadow, evs, applied) })
}

// progress records and reports how far the replay is; through db, so that
// the final round, under the lock, needs no second connection.
func (ru *run) progress(ctx context.Context, db DB) {
	el := time.Since(ru.start).Seconds()
	pr := Progress{Done: ru.done, Total: max(ru.total, ru.done)}
	if el > 0 {
		pr.Rate = float64(ru.done) / el
	}
	if pr.Rate > 0 {
		pr.Left = time.Duration(float64(pr.Total-pr.Done) / pr.Rate * float64(time.Second))
	}
	_, _ = db.Exec(ctx, `UPDATE projection_replays SET done = $2, total = $3, rate = $4, updated_at = now() WHERE id = $1`,
		ru.id, pr.Done, pr.Total, pr.Rate)
	if ru.opts.OnProgress != nil {
		ru.opts.OnProgress(pr)
	}
}

// Start runs a replay in the background and returns its id once it holds
// the lock (ErrRunning if another one does). It runs until it ends or ctx
// is cancelled; done, if not nil, gets its outcome.
func (r *Replayer) Start(ctx context.Context, p Projection, opts Options, done func(Result, error)) (int64, error) {
	started := make(chan int64, 1)
	failed := make(chan error, 1)
	opts.onStart = func(id int64) { started <- id }
	go func() {
		res, err := r.Run(ctx, p, opts)
		if done != nil {
			done(res, err)
		}
		failed <- err
	}()
	select {
	case id := <-started:
		return id, nil
	case err := <-failed:
		if err == nil {
			err = errors.New("the replay ended before it started")
		}
		return 0, err
	}
}

// Status is the newest replay of a projection.
type Status struct {
	ID          int64      `json:"id"`
	Projection  string     `json:"projection"`
	Mode        string     `json:"mode"`
	State       string     `json:"state"` // idle, running, done, failed
	Done        int64      `json:"position"`
	Total       int64      `json:"head"`
	Rate        float64    `json:"rate"`
	LeftSeconds float64    `json:"eta_seconds"`
	Differences *int64     `json:"differences,omitempty"`
	Error       *string    `json:"error,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// Latest returns the newest replay of the projection named name, or state
// "idle" if there was none.
func (r *Replayer) Latest(ctx context.Context, name string) (Status, error) {
	s, err := r.latest(ctx, name, "")
	if err != nil || s.State != "running" {
		return s, err
	}
	// A replay whose process died (SIGKILL, the OOM killer, a lost
	// connection) left its row running until the next replay began, and
	// the gauge, `trend status` and the dashboard said so. Its lock went
	// with the process. A replay that ends frees its lock in the statement
	// that records the end, before that commits, so the row is read again
	// FOR SHARE, which waits for that commit.
	var held bool
	if err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND objsubid = 1 AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid)`,
		lockKey(name)).Scan(&held); err != nil || held {
		return s, err
	}
	id := s.ID
	if s, err = r.latest(ctx, name, " FOR SHARE"); err != nil || s.State != "running" || s.ID != id {
		// Ended meanwhile, or a newer replay began (and holds the lock).
		return s, err
	}
	msg := interrupted
	s.State, s.Error, s.LeftSeconds = "failed", &msg, 0
	return s, nil
}

// interrupted is the error of a replay whose process ended before it
// did: as Latest reports it, and as the next replay records it (the
// stored text is what it always was).
const interrupted = "interrupted"

func (r *Replayer) latest(ctx context.Context, name, lock string) (Status, error) {
	s := Status{Projection: name, State: "idle"}
	err := r.pool.QueryRow(ctx, `SELECT id, mode, state, done, total, rate, differences, error, started_at, finished_at
		FROM projection_replays WHERE projection = $1 ORDER BY id DESC LIMIT 1`+lock, name).
		Scan(&s.ID, &s.Mode, &s.State, &s.Done, &s.Total, &s.Rate, &s.Differences, &s.Error, &s.StartedAt, &s.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	for _, t := range []**time.Time{&s.StartedAt, &s.FinishedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	if s.State == "running" && s.Rate > 0 {
		s.LeftSeconds = float64(s.Total-s.Done) / s.Rate
	}
	return s, nil
}
