package replay_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/replay"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/projections/trend"
)

var (
	quiet = slog.New(slog.DiscardHandler)
	proj  = trend.Rebuildable{Params: trend.DefaultParams}
	t0    = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
)

// world appends random batches to the log and hands them to the live
// handler, as the worker does; some batches are delivered twice, some are
// held back (still in the queue).
type world struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *eventlog.Store
	live  *trend.Handler
	rng   *rand.Rand
	mu    sync.Mutex
	held  []*events.Batch
	views map[int64]int
}

func newWorld(t *testing.T) *world {
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := trend.NewHandler(store, trend.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, pool: pool, store: store, live: h, rng: rand.New(rand.NewPCG(1, 9)), views: map[int64]int{}}
}

// steps takes n steps in turn, registrations and removals included: how
// most tests fill the log first.
func (w *world) steps(t *testing.T, n int) {
	t.Helper()
	for range n {
		if err := w.step(t.Context(), false, true); err != nil {
			t.Fatal(err)
		}
	}
}

// step appends and handles one random batch. Removals and registrations
// only come with lifecycle: they do not commute with views of the same
// movie, and the live handler applies batches in delivery order, so they
// are kept out of the phases where batches are delivered out of order.
func (w *world) step(ctx context.Context, hold, lifecycle bool) error {
	w.mu.Lock()
	id := int64(w.rng.IntN(12) + 1)
	at := t0.Add(time.Duration(w.rng.IntN(5*24*3600)) * time.Second)
	var evs []events.Event
	r := w.rng.IntN(30)
	if !lifecycle && r < 3 {
		r = 3
	}
	switch {
	case r == 0:
		evs = []events.Event{events.MovieRemoved{TMDBID: id, RemovedAt: at}}
	case r < 3:
		evs = []events.Event{events.MovieRegistered{TMDBID: id, RegisteredAt: at}}
	case r < 6:
		evs = []events.Event{events.MovieDetailsFetched{TMDBID: id, Title: "M", VoteAverage: float64(w.rng.IntN(100)) / 10, VoteCount: 100, FetchedAt: at}}
	default:
		for range w.rng.IntN(30) + 1 {
			evs = append(evs, events.ViewRecorded{ViewID: uuid.New(), TMDBID: int64(w.rng.IntN(12) + 1), ViewedAt: at})
		}
	}
	twice := w.rng.IntN(6) == 0
	w.mu.Unlock()
	b, err := w.append(ctx, evs...)
	if err != nil {
		return err
	}
	if hold {
		w.mu.Lock()
		w.held = append(w.held, b)
		w.mu.Unlock()
		return nil
	}
	if err := w.live.HandleBatch(ctx, b); err != nil {
		return err
	}
	if twice {
		return w.live.HandleBatch(ctx, b)
	}
	return nil
}

// append appends evs to the log as one batch, as a worker's transaction
// does, and returns the batch the bus would carry; nobody has handled it.
// mustAppend is append, failing t on an error.
func (w *world) mustAppend(t *testing.T, evs ...events.Event) *events.Batch {
	t.Helper()
	b, err := w.append(t.Context(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustHandle has the live projection handle b, failing t on an error.
func (w *world) mustHandle(t *testing.T, b *events.Batch) {
	t.Helper()
	if err := w.live.HandleBatch(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

// viewsOf is n views of movie at at.
func viewsOf(movie int64, n int, at time.Time) []events.Event {
	vs := make([]events.Event, n)
	for i := range vs {
		vs[i] = events.ViewRecorded{ViewID: uuid.New(), TMDBID: movie, ViewedAt: at}
	}
	return vs
}

func (w *world) append(ctx context.Context, evs ...events.Event) (*events.Batch, error) {
	var b *events.Batch
	err := w.store.Once(ctx, "writer", uuid.New(), "", func(ctx context.Context, tx *eventlog.Tx) error {
		if _, err := tx.Append(ctx, evs...); err != nil {
			return err
		}
		b = &events.Batch{Events: tx.Appended()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The batch id the bus carries is the one stored with the events.
	err = w.pool.QueryRow(ctx, `SELECT batch_id FROM events WHERE position = $1`, b.Events[0].Position).Scan(&b.BatchID)
	return b, err
}

func (w *world) release(ctx context.Context) {
	w.mu.Lock()
	held := w.held
	w.held = nil
	w.mu.Unlock()
	for _, b := range held {
		if err := w.live.HandleBatch(ctx, b); err != nil {
			w.t.Fatal(err)
		}
	}
}

// prepared is the projection as a replay that starts now uses it (with
// view buckets gathered in memory and written at the end).
func (w *world) prepared(ctx context.Context) replay.Projection {
	w.t.Helper()
	p, err := proj.ForReplay(ctx, w.pool)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) check(ctx context.Context) []string {
	w.t.Helper()
	res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{Check: true, ChunkSize: 97})
	if err != nil {
		w.t.Fatal(err)
	}
	return res.Differences
}

// A batch the replay held back (not handled when it was read), which the
// live projection then handles before a removal and a new registration of
// its movie, is applied before them in the rebuild too: the movie starts
// afresh, with none of those views, in both copies.
func TestHeldBackBatchKeepsItsPlaceBeforeLaterEventsOfItsMovie(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
	w.mustHandle(t, w.mustAppend(t, events.MovieDetailsFetched{TMDBID: 1, Title: "M", VoteAverage: 7, VoteCount: 10, FetchedAt: t0}))
	held := w.mustAppend(t, viewsOf(1, 5, t0)...) // on the bus, not handled yet
	w.checkCatchingUp(t, 0, func() {
		// While the replay catches up, the live projection goes on, in log
		// order: the views, then the movie's removal and a new registration.
		w.mustHandle(t, held)
		w.mustHandle(t, w.mustAppend(t, events.MovieRemoved{TMDBID: 1, RemovedAt: t0.Add(time.Minute)}))
		w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0.Add(2 * time.Minute)}))
	})
}

// checkCatchingUp runs a check in chunks of chunk events (0: the
// default) with during run before its first catch-up round (the live
// projection going on meanwhile), and fails t on any difference.
func (w *world) checkCatchingUp(t *testing.T, chunk int, during func()) {
	t.Helper()
	once := false
	opts := replay.AfterRound(replay.Options{Check: true, ChunkSize: chunk}, func() {
		if !once {
			once = true
			during()
		}
	})
	res, err := replay.New(w.pool, quiet).Run(t.Context(), w.prepared(t.Context()), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !once {
		t.Fatal("the replay ran no catch-up round")
	}
	if len(res.Differences) != 0 {
		t.Errorf("the rebuild differs from the live copy: %v", res.Differences)
	}
}

// liveRow returns movie's views and status in the live copy.
func (w *world) liveRow(t *testing.T, movie int64) (views int64, status string) {
	t.Helper()
	if err := w.pool.QueryRow(t.Context(), `SELECT internal_views_count, status FROM trend_movies WHERE tmdb_id = $1`, movie).Scan(&views, &status); err != nil {
		t.Fatal(err)
	}
	return views, status
}

// inChunks runs test in a world of its own for two chunk sizes of the
// replay: 1 (each event read apart) and 1000 (all read together).
func inChunks(t *testing.T, test func(t *testing.T, w *world, chunk int)) {
	t.Parallel()
	for _, chunk := range []int{1, 1000} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			t.Parallel()
			test(t, newWorld(t), chunk)
		})
	}
}

// A removal the live projection handles late, after a new registration
// of its movie and that registration's views (a retried batch), is
// repaired live: the row ends as if the removal had come first. A replay
// that held the removal back (not handled when read) applies it after
// those events too, and repairs its copy the same way, with exactly the
// later events it had applied (not those of a batch it still holds back):
// the movie stays registered with its views. Two chunk sizes: the events
// that follow the removal in one chunk with it, and apart.
func TestLateRemovalOfAMovieRegisteredAgainRebuildsEqual(t *testing.T) {
	inChunks(t, func(t *testing.T, w *world, chunk int) {
		ctx := t.Context()
		w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
		w.mustHandle(t, w.mustAppend(t, events.MovieDetailsFetched{TMDBID: 1, Title: "M", VoteAverage: 7, VoteCount: 10, FetchedAt: t0}))
		w.mustHandle(t, w.mustAppend(t, viewsOf(1, 2, t0)...))
		removal := w.mustAppend(t, events.MovieRemoved{TMDBID: 1, RemovedAt: t0.Add(time.Minute)}) // retried, handled late
		w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0.Add(2 * time.Minute)}))
		held := w.mustAppend(t, viewsOf(1, 4, t0.Add(4*time.Minute))...) // on the bus until the replay ends
		w.mustHandle(t, w.mustAppend(t, viewsOf(1, 3, t0.Add(3*time.Minute))...))
		w.checkCatchingUp(t, chunk, func() { w.mustHandle(t, removal) })
		if views, status := w.liveRow(t, 1); views != 3 || status != "pending" {
			t.Errorf("live: %d views, %s; want the 3 handled of those logged after the removal, pending", views, status)
		}
		w.mustHandle(t, held)
		if d := w.check(ctx); len(d) != 0 {
			t.Errorf("a rebuild after it all differs from the live copy: %v", d)
		}
	})
}

// appendInAnEarlierTransaction appends ev in a transaction that took its
// id before, and commits after, everything between: a replay reads it
// before the events logged before it meanwhile (the log's transaction
// order). It returns the batch for the live projection to handle.
func (w *world) appendInAnEarlierTransaction(t *testing.T, ev events.Event, between func()) *events.Batch {
	t.Helper()
	ctx := t.Context()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	between()
	env, err := events.Seal(ev, "")
	if err != nil {
		t.Fatal(err)
	}
	b := &events.Batch{BatchID: uuid.New()}
	if err := tx.QueryRow(ctx, `INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, data, batch_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING position`,
		env.EventID, env.Type, env.Version, env.TMDBID, env.OccurredAt, string(env.Data), b.BatchID).Scan(&env.Position); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b.Events = []events.Envelope{env}
	return b
}

// A registration logged after a removal by a transaction older than the
// removal's comes before it in a replay's reading (transaction order), in
// the same chunk or the one before. The removal then finds the copy's row
// holding an event logged after it, and repairs it as the live projection
// would: the movie stays registered in both copies.
func TestARegistrationReadBeforeAnEarlierRemovalRebuildsEqual(t *testing.T) {
	inChunks(t, func(t *testing.T, w *world, chunk int) {
		ctx := t.Context()
		w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
		w.mustHandle(t, w.mustAppend(t, viewsOf(1, 2, t0)...))
		again := w.appendInAnEarlierTransaction(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0.Add(2 * time.Minute)}, func() {
			w.mustHandle(t, w.mustAppend(t, events.MovieRemoved{TMDBID: 1, RemovedAt: t0.Add(time.Minute)}))
		})
		w.mustHandle(t, again)
		w.mustHandle(t, w.mustAppend(t, viewsOf(1, 3, t0.Add(3*time.Minute))...))
		if views, status := w.liveRow(t, 1); views != 3 || status != "pending" {
			t.Fatalf("live: %d views, %s; want the 3 logged after the removal, pending", views, status)
		}
		res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{Check: true, ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Differences) != 0 {
			t.Errorf("the rebuild differs from the live copy: %v", res.Differences)
		}
	})
}

// Views logged before a removal and delivered after it (in flight while
// TMDB removed the movie) count neither live nor in a rebuild, which reads
// them before the removal; the views after a new registration count in
// both.
func TestRemovalDeliveredBeforeEarlierViewsRebuildsEqual(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
	w.mustHandle(t, w.mustAppend(t, events.MovieDetailsFetched{TMDBID: 1, Title: "M", VoteAverage: 7, VoteCount: 10, FetchedAt: t0}))
	inFlight := w.mustAppend(t, viewsOf(1, 4, t0)...)
	w.mustHandle(t, w.mustAppend(t, events.MovieRemoved{TMDBID: 1, RemovedAt: t0.Add(time.Minute)}))
	w.mustHandle(t, inFlight)
	// Logged before the registration.
	w.mustHandle(t, w.mustAppend(t, viewsOf(1, 3, t0.Add(3*time.Minute))...))
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0.Add(2 * time.Minute)}))
	if d := w.check(ctx); len(d) != 0 {
		t.Errorf("the rebuild differs from the live copy: %v", d)
	}
	var views int64
	if err := w.pool.QueryRow(ctx, `SELECT internal_views_count FROM trend_movies WHERE tmdb_id = 1`).Scan(&views); err != nil {
		t.Fatal(err)
	}
	if views != 3 {
		t.Errorf("registered again: %d views, want the 3 logged after the removal", views)
	}
}

// A log restored from a dump into another cluster keeps the old
// cluster's transaction ids, higher than the ones this cluster gives the
// events written since: read in transaction-id order, the old history
// came last, and a movie removed then and registered again since was
// rebuilt removed. A replay refuses such a log; migrations renumber it,
// and the rebuild then equals the live copy.
func TestARestoredLogIsReplayedInItsOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
	w.mustHandle(t, w.mustAppend(t, events.MovieDetailsFetched{TMDBID: 1, Title: "M", VoteAverage: 7, VoteCount: 10, FetchedAt: t0}))
	w.mustHandle(t, w.mustAppend(t, viewsOf(1, 2, t0)...))
	w.mustHandle(t, w.mustAppend(t, events.MovieRemoved{TMDBID: 1, RemovedAt: t0.Add(time.Minute)}))
	// The restore: the old cluster's ids, above any this one gave out.
	if _, err := w.pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_append_only;
		UPDATE events SET transaction_id = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000 + position)::text::xid8;
		ALTER TABLE events ENABLE TRIGGER events_append_only`); err != nil {
		t.Fatal(err)
	}
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0.Add(2 * time.Minute)}))
	w.mustHandle(t, w.mustAppend(t, viewsOf(1, 3, t0.Add(3*time.Minute))...))

	if _, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{Check: true}); !errors.Is(err, replay.ErrRestoredLog) {
		t.Fatalf("a replay of the restored log: %v, want ErrRestoredLog", err)
	}
	if err := postgres.Migrate(ctx, w.pool, quiet); err != nil {
		t.Fatal(err)
	}
	if d := w.check(ctx); len(d) != 0 {
		t.Errorf("the rebuild of the renumbered log differs from the live copy: %v", d)
	}
	var status string
	var views int64
	if err := w.pool.QueryRow(ctx, `SELECT status, internal_views_count FROM trend_movies WHERE tmdb_id = 1`).Scan(&status, &views); err != nil {
		t.Fatal(err)
	}
	if status == "removed" || views != 3 {
		t.Errorf("live: %s with %d views, want registered again with the 3 views since", status, views)
	}
	// The log still refuses updates, and a second start renumbers nothing.
	if _, err := w.pool.Exec(ctx, `UPDATE events SET type = type WHERE position = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("an update of the log after the renumbering: %v, want it refused", err)
	}
	var logs testenv.Buffer
	if err := postgres.Migrate(ctx, w.pool, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "another cluster") {
		t.Errorf("a second start renumbered again:\n%s", logs.String())
	}
}

// A check does not wait for the live projection's writers, nor make them
// wait: it compares in one snapshot. Here one holds a movie's row (and the
// table's write lock) for the whole check.
func TestCheckDoesNotWaitForLiveWriters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 100)
	writer, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Rollback(context.Background()) }()
	if _, err := writer.Exec(ctx, `UPDATE trend_movies SET last_updated_at = last_updated_at
		WHERE tmdb_id = (SELECT min(tmdb_id) FROM trend_movies)`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := replay.New(w.pool, quiet).Run(cctx, w.prepared(ctx), replay.Options{Check: true})
	if err != nil {
		t.Fatalf("a check while a live writer holds the table: %v", err)
	}
	if len(res.Differences) != 0 {
		t.Errorf("the rebuild differs from the live copy: %v", res.Differences)
	}
}

// viewsArrive keeps three writers logging and handling views until stop
// is called.
func (w *world) viewsArrive(ctx context.Context, t *testing.T) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := w.step(ctx, false, false); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// A check stays exact while the live projection goes on: views arrive and
// are handled, before, during and after its snapshot, and it finds no
// difference.
func TestCheckWhileViewsArrive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 300)
	stop := w.viewsArrive(ctx, t)
	for range 3 {
		res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{Check: true, ChunkSize: 50})
		if err != nil {
			t.Error(err)
			break
		}
		if len(res.Differences) != 0 {
			t.Errorf("a check while views arrive found differences:\n%v", res.Differences)
			break
		}
	}
	stop()
}

func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 200)
	for i := range 200 {
		if err := w.step(ctx, i%10 == 0, false); err != nil {
			t.Fatal(err)
		}
	}
	// Held batches are in the log but not in the live copy: the rebuild
	// leaves them out too, and they are counted once when handled after.
	res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events == 0 {
		t.Fatal("the replay read no events")
	}
	w.release(ctx)
	if d := w.check(ctx); len(d) != 0 {
		t.Errorf("after the rebuild and the held batches, the live copy differs from a rebuild:\n%v", d)
	}
	wantListedCounted(t, w)
	var views, logged int64
	if err := w.pool.QueryRow(ctx, `SELECT coalesce(sum(internal_views_count), 0) FROM trend_movies`).Scan(&views); err != nil {
		t.Fatal(err)
	}
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'ViewRecorded'`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if views == 0 || views > logged {
		t.Errorf("views counted: %d of %d in the log", views, logged)
	}
	var leftovers int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'trend_movies_%' AND tablename NOT IN ('trend_movies_buckets')`).Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("%d tables left behind after a rebuild without --keep", leftovers)
	}
}

// A stop that comes once the switch is ready does not undo it: its COMMIT
// is sent whatever the context says. Cut while in flight, it could commit
// on the server and still be reported failed, "the live projection as it
// was".
func TestAStopAtTheSwitchsCommitLetsItCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.steps(t, 20)
	for range 20 {
		if err := w.step(t.Context(), false, false); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(t.Context()), replay.BeforeCommit(replay.Options{Keep: true}, cancel))
	if err != nil {
		t.Fatalf("stopped at the switch's commit: %v, want the switch done", err)
	}
	var old int
	if err := w.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename = $1`,
		fmt.Sprintf("trend_movies_old_%d", res.ID)).Scan(&old); err != nil {
		t.Fatal(err)
	}
	if old != 1 {
		t.Error("the old copy was not kept: the switch did not commit")
	}
	var state string
	if err := w.pool.QueryRow(t.Context(), `SELECT state FROM projection_replays WHERE id = $1`, res.ID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "done" {
		t.Errorf("the replay is recorded %q, want done", state)
	}
}

func TestCheckFindsDrift(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 100)
	if d := w.check(ctx); len(d) != 0 {
		t.Fatalf("no drift yet, got %v", d)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE trend_movies SET internal_views_count = internal_views_count + 1 WHERE tmdb_id = (SELECT min(tmdb_id) FROM trend_movies WHERE status <> 'removed')`); err != nil {
		t.Fatal(err)
	}
	if d := w.check(ctx); len(d) != 1 {
		t.Errorf("after corrupting one row: got %d differences %v, want 1", len(d), d)
	}
	// Listed by movie as a number: as text, "movie 1000" came before
	// "movie 999".
	for _, id := range []int{1000, 999} {
		if _, err := w.pool.Exec(ctx, `INSERT INTO trend_movies
			SELECT (jsonb_populate_record(NULL::trend_movies, to_jsonb(m) || jsonb_build_object('tmdb_id', $1::bigint))).*
			FROM trend_movies m WHERE tmdb_id = (SELECT min(tmdb_id) FROM trend_movies)`, id); err != nil {
			t.Fatal(err)
		}
	}
	d := w.check(ctx)
	var order []string
	for _, line := range d {
		if strings.HasPrefix(line, "movie 999:") || strings.HasPrefix(line, "movie 1000:") {
			order = append(order, strings.SplitN(line, ":", 2)[0])
		}
	}
	if !slices.Equal(order, []string{"movie 999", "movie 1000"}) {
		t.Errorf("differences of movies 999 and 1000 listed as %v, want 999 first:\n%v", order, d)
	}
}

// A check lists the first DiffLimit differences and says there were more.
func TestCheckSaysWhenItListsOnlySomeDifferences(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.mustHandle(t, w.mustAppend(t, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0}))
	// Rows only the live copy has, one difference each.
	if _, err := w.pool.Exec(ctx, `INSERT INTO trend_movies
		SELECT (jsonb_populate_record(NULL::trend_movies, to_jsonb(m) || jsonb_build_object('tmdb_id', g))).*
		FROM trend_movies m, generate_series(2, $1::int + 1) AS g WHERE m.tmdb_id = 1`, replay.DiffLimit+1); err != nil {
		t.Fatal(err)
	}
	res, err := replay.New(w.pool, quiet).Run(ctx, w.prepared(ctx), replay.Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Differences) != replay.DiffLimit || !res.Truncated {
		t.Errorf("got %d differences, truncated %v; want %d and truncated", len(res.Differences), res.Truncated, replay.DiffLimit)
	}
}

// TestRebuildWhileViewsArrive replays while batches keep being appended and
// handled: after the switch, every view in a handled batch is counted once.
func TestRebuildWhileViewsArrive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 300)
	stop := w.viewsArrive(ctx, t)
	// One replay writes its buckets as it goes, one gathers them in memory.
	for _, p := range []replay.Projection{proj, w.prepared(ctx)} {
		if _, err := replay.New(w.pool, quiet).Run(ctx, p, replay.Options{ChunkSize: 50}); err != nil {
			t.Error(err)
		}
	}
	stop()
	if d := w.check(ctx); len(d) != 0 {
		t.Errorf("after rebuilds under load, the live copy differs from a rebuild:\n%v", d)
	}
	wantListedCounted(t, w)
	var views, logged int64
	if err := w.pool.QueryRow(ctx, `SELECT coalesce(sum(internal_views_count), 0) FROM trend_movies`).Scan(&views); err != nil {
		t.Fatal(err)
	}
	// Views of removed movies are not counted, so compare per movie with a
	// fresh fold of the whole log (everything was handled).
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE fresh (LIKE trend_movies INCLUDING ALL); CREATE TEMP TABLE fresh_buckets (LIKE trend_movies_buckets INCLUDING ALL)`); err != nil {
		t.Fatal(err)
	}
	all, err := w.store.Read(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Apply(ctx, tx, "fresh", all, replay.Applied{}); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(internal_views_count), 0) FROM fresh`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if views != logged {
		t.Errorf("views counted after rebuilds under load: got %d, a fold of the log gives %d", views, logged)
	}
}

func TestOneReplayAtATime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 50)
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// Another process's replay holds the lock.
	r := replay.New(w.pool, quiet)
	started := make(chan struct{})
	var runErr error
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, runErr = r.Run(ctx, proj, replay.Options{ChunkSize: 1, OnProgress: func(replay.Progress) {
			once.Do(func() { close(started) })
			time.Sleep(5 * time.Millisecond)
		}})
	}()
	<-started
	if _, err := r.Run(ctx, proj, replay.Options{}); !errors.Is(err, replay.ErrRunning) {
		t.Errorf("second replay: got %v, want ErrRunning", err)
	}
	st, err := r.Latest(ctx, "trend")
	if err != nil || st.State != "running" || st.Total == 0 {
		t.Errorf("status while running: got %+v, %v", st, err)
	}
	<-done
	if runErr != nil {
		t.Fatal(runErr)
	}
	st, _ = r.Latest(ctx, "trend")
	if st.State != "done" || st.Done != st.Total {
		t.Errorf("status after: got %+v, want done with every event", st)
	}
}

// A client that reads a replay's end may start the next one at once: the
// lock is free by the time the end can be read (an API user got 409 after
// GET said done).
func TestTheLockIsFreeOnceTheEndIsVisible(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	w.steps(t, 20)
	r := replay.New(w.pool, quiet)
	for round := range 20 {
		id, err := r.Start(ctx, proj, replay.Options{}, nil)
		if err != nil {
			t.Fatalf("round %d, started right after the previous one's end was read: %v", round, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := r.Latest(ctx, "trend")
			if err != nil {
				t.Fatal(err)
			}
			if st.ID == id && st.State != "running" {
				if st.State != "done" {
					t.Fatalf("round %d: replay ended %+v, want done", round, st)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: replay %d not over after 30 s: %+v", round, id, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The next round starts at once, as the admin API's client did.
	}
}

// wantListedCounted fails t unless the count of listed movies the
// triggers keep (migration 00011) is what the live table lists: the
// replay's copy took its triggers and its count into the switch.
func wantListedCounted(t *testing.T, w *world) {
	t.Helper()
	var kept, counted int64
	err := w.pool.QueryRow(t.Context(), `SELECT (SELECT listed FROM trend_listed WHERE relid = 'trend_movies'::regclass),
		(SELECT count(*) FROM trend_movies WHERE status <> 'removed')`).Scan(&kept, &counted)
	if err != nil {
		t.Fatal(err)
	}
	if kept != counted || counted == 0 {
		t.Errorf("the kept count of listed movies is %d, the live table lists %d (want equal, not 0)", kept, counted)
	}
}

// A replay whose process died without recording its end (SIGKILL, the OOM
// killer) is reported failed, interrupted, not running until the next
// replay begins: its lock went with its process. (TestOneReplayAtATime
// reads a live one as running.)
func TestAReplayWhoseProcessDiedIsNotRunning(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	if _, err := w.pool.Exec(ctx, `INSERT INTO projection_replays (projection, mode, state, done, total, rate) VALUES ('trend', 'rebuild', 'running', 10, 100, 5)`); err != nil {
		t.Fatal(err)
	}
	st, err := replay.New(w.pool, quiet).Latest(ctx, "trend")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "failed" || st.Error == nil || !strings.Contains(*st.Error, "interrupted") || st.LeftSeconds != 0 {
		t.Errorf("a replay row left running by a dead process: got %+v, want failed, interrupted", st)
	}
}
