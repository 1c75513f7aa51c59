package trend_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/projections/trend"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// appendBatch appends evs in one transaction and returns the batch the bus
// would carry.
func appendBatch(t *testing.T, store *eventlog.Store, evs ...events.Event) *events.Batch {
	t.Helper()
	var b *events.Batch
	err := store.Once(t.Context(), "test-writer", uuid.New(), "", func(ctx context.Context, tx *eventlog.Tx) error {
		if _, err := tx.Append(ctx, evs...); err != nil {
			return err
		}
		b = &events.Batch{Events: tx.Appended()}
		// The id the log gave the batch, as the bus carries it.
		return tx.QueryRow(ctx, `SELECT batch_id FROM events WHERE position = $1`, b.Events[0].Position).Scan(&b.BatchID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func views(id int64, n int, at time.Time) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.ViewRecorded{ViewID: uuid.New(), TMDBID: id, ViewedAt: at.Add(time.Duration(i) * time.Second)}
	}
	return evs
}

func details(id int64, vote float64, at time.Time) events.MovieDetailsFetched {
	return events.MovieDetailsFetched{TMDBID: id, Title: "Movie", VoteAverage: vote, VoteCount: 10, Popularity: 1.5, ReleaseDate: "2010-07-14", Genres: []string{"Drama"}, FetchedAt: at}
}

func setup(t *testing.T) (*pgxpool.Pool, *eventlog.Store, *trend.Handler, trend.Reader) {
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := trend.NewHandler(store, trend.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return pool, store, h, trend.NewReader(pool)
}

func TestProjectionFollowsAMovie(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	apply := func(evs ...events.Event) {
		t.Helper()
		if err := h.HandleBatch(ctx, appendBatch(t, store, evs...)); err != nil {
			t.Fatal(err)
		}
	}
	apply(events.MovieRegistered{TMDBID: 27205, RegisteredAt: t0})
	m, err := reader.Get(ctx, 27205)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "pending" || m.Title != nil || m.FinalTrendScore != 0 || !m.RegisteredAt.Equal(t0) {
		t.Errorf("after registration: got %+v, want pending, no title, score 0", m)
	}
	apply(details(27205, 8.1, t0.Add(time.Second)))
	apply(views(27205, 50, t0.Add(time.Minute))...)
	m, _ = reader.Get(ctx, 27205)
	if m.Status != "active" || *m.Title != "Movie" || *m.ExternalScore != 8.1 || m.InternalViewsCount != 50 || m.FinalTrendScore != 7.2 {
		t.Errorf("after details and 50 views: got %+v, want active, 8.1, 50 views, score 7.2", m)
	}
	if want := t0.Add(time.Minute + 49*time.Second); !m.LastUpdatedAt.Equal(want) {
		t.Errorf("last_updated_at: got %v, want the newest event's time %v", m.LastUpdatedAt, want)
	}
	apply(views(27205, 70, t0.Add(time.Hour))...)
	m, _ = reader.Get(ctx, 27205)
	if m.InternalViewsCount != 120 || m.FinalTrendScore != 8.7 {
		t.Errorf("after 120 views: got %d views, score %v; want 120, 8.7", m.InternalViewsCount, m.FinalTrendScore)
	}
	// Past 100 views the score no longer moves with views (its row is not
	// rewritten), but new facts still move it.
	apply(views(27205, 30, t0.Add(90*time.Minute))...)
	apply(details(27205, 6.0, t0.Add(100*time.Minute)))
	m, _ = reader.Get(ctx, 27205)
	if m.InternalViewsCount != 150 || m.FinalTrendScore != 7.2 {
		t.Errorf("after 150 views and a vote of 6.0: got %d views, score %v; want 150, 7.2", m.InternalViewsCount, m.FinalTrendScore)
	}
	apply(events.MovieRemoved{TMDBID: 27205, Reason: "test", RemovedAt: t0.Add(2 * time.Hour)})
	if _, err := reader.Get(ctx, 27205); err != trend.ErrNotFound {
		t.Errorf("removed movie: got %v, want ErrNotFound", err)
	}
	// A registration after the removal starts afresh, from the views
	// logged after the removal: the new registration's views travel on
	// another queue than it, and can reach the log first.
	apply(views(27205, 5, t0.Add(3*time.Hour))...)
	if _, err := reader.Get(ctx, 27205); err != trend.ErrNotFound {
		t.Errorf("views of a removed movie: got %v, want it still ErrNotFound", err)
	}
	apply(events.MovieRegistered{TMDBID: 27205, RegisteredAt: t0.Add(4 * time.Hour)})
	m, _ = reader.Get(ctx, 27205)
	if m.Status != "pending" || m.InternalViewsCount != 5 || m.Title != nil || m.ExternalScore != nil {
		t.Errorf("registered again after removal: got %s with %d views, title %v, vote %v; want pending with the 5 views logged since and no facts yet",
			m.Status, m.InternalViewsCount, m.Title, m.ExternalScore)
	}
	apply(views(27205, 2, t0.Add(5*time.Hour))...)
	m, _ = reader.Get(ctx, 27205)
	if m.InternalViewsCount != 7 {
		t.Errorf("registered again, then 2 views: got %d views, want 7", m.InternalViewsCount)
	}
	// Removed again, and registered again before any view: nothing of
	// the earlier registrations is left.
	apply(events.MovieRemoved{TMDBID: 27205, Reason: "test", RemovedAt: t0.Add(6 * time.Hour)})
	apply(events.MovieRegistered{TMDBID: 27205, RegisteredAt: t0.Add(7 * time.Hour)})
	m, _ = reader.Get(ctx, 27205)
	if m.Status != "pending" || m.InternalViewsCount != 0 || m.FinalTrendScore != 0 {
		t.Errorf("removed and registered again: got %s with %d views, score %v; want pending with 0, score 0", m.Status, m.InternalViewsCount, m.FinalTrendScore)
	}
}

func TestRedeliveredBatchCountsOnce(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	b := appendBatch(t, store, append([]events.Event{events.MovieRegistered{TMDBID: 5, RegisteredAt: t0}}, views(5, 30, t0)...)...)
	for range 3 {
		if err := h.HandleBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	m, err := reader.Get(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.InternalViewsCount != 30 {
		t.Errorf("got %d views after 3 deliveries of one batch of 30, want 30", m.InternalViewsCount)
	}
}

func TestListOrderAndRemoved(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	for _, id := range []int64{3, 1, 2, 4} {
		if err := h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: id, RegisteredAt: t0}, details(id, 5, t0))); err != nil {
			t.Fatal(err)
		}
	}
	must(t, h.HandleBatch(ctx, appendBatch(t, store, views(2, 100, t0)...)))
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRemoved{TMDBID: 4, RemovedAt: t0})))
	movies, total, err := reader.List(ctx, 10, 0)
	must(t, err)
	var ids []int64
	for _, m := range movies {
		ids = append(ids, m.TMDBID)
	}
	// 2 has the highest score; 1 and 3 tie and are ordered by id; 4 is removed.
	if want := []int64{2, 1, 3}; !reflect.DeepEqual(ids, want) || total != 3 {
		t.Errorf("got %v (total %d), want %v (total 3)", ids, total, want)
	}
	page, _, _ := reader.List(ctx, 1, 1)
	if len(page) != 1 || page[0].TMDBID != 1 {
		t.Errorf("limit 1 offset 1: got %+v, want movie 1", page)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type row struct {
	ID     int64
	Title  *string
	Status string
	Views  int64
	Vote   *float64
	Score  float64
	Reg    *time.Time
	Upd    time.Time
	Pos    int64
	// Decayed attention is a floating-point sum: adding views batch by batch
	// and all at once agree to about 1e-12, not to the last bit, so it is
	// compared rounded.
	Day, Week string
}

func readTable(t *testing.T, pool *pgxpool.Pool, table string) []row {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT tmdb_id, title, status, internal_views_count, external_score,
		final_trend_score, registered_at, last_updated_at, last_position, attention_day, attention_week
		FROM `+pgx.Identifier{table}.Sanitize()+` ORDER BY tmdb_id`)
	must(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		var day, week float64
		err := r.Scan(&x.ID, &x.Title, &x.Status, &x.Views, &x.Vote, &x.Score, &x.Reg, &x.Upd, &x.Pos, &day, &week)
		x.Day, x.Week = strconv.FormatFloat(day, 'g', 11, 64), strconv.FormatFloat(week, 'g', 11, 64)
		return x, err
	})
	must(t, err)
	return out
}

// TestReplayEqualsLive drives a random workload through the live handler
// (batches of mixed events, some delivered twice, several handled in one
// transaction as the worker's group commit does), then folds the whole log
// into an empty table in one go, as a replay does, and compares row by row.
func TestReplayEqualsLive(t *testing.T) {
	t.Parallel()
	replayEqualsLive(t, false)
}

// TestReplayEqualsLiveOutOfOrder is the same with batches delivered out
// of log order, as the worker's subscriptions and retries deliver them:
// each group commit takes a random few of the batches waiting.
func TestReplayEqualsLiveOutOfOrder(t *testing.T) {
	t.Parallel()
	replayEqualsLive(t, true)
}

func replayEqualsLive(t *testing.T, shuffled bool) {
	pool, store, h, _ := setup(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	at := t0
	var group, waiting []*events.Batch
	for i := 0; i < 300; i++ {
		id := int64(rng.IntN(20) + 1)
		at = at.Add(time.Duration(rng.IntN(600)) * time.Second)
		var evs []events.Event
		switch r := rng.IntN(20); {
		case r == 0:
			evs = []events.Event{events.MovieRemoved{TMDBID: id, RemovedAt: at}}
		case r < 3:
			evs = []events.Event{events.MovieRegistered{TMDBID: id, RegisteredAt: at}}
		case r < 5:
			evs = []events.Event{details(id, float64(rng.IntN(100))/10, at), events.MovieRefreshRequested{TMDBID: id, RequestedAt: at}}
		default:
			for range rng.IntN(40) + 1 {
				evs = append(evs, events.ViewRecorded{ViewID: uuid.New(), TMDBID: int64(rng.IntN(20) + 1), ViewedAt: at})
			}
		}
		b := appendBatch(t, store, evs...)
		if shuffled {
			waiting = append(waiting, b)
			if rng.IntN(5) == 0 {
				waiting = append(waiting, b) // redelivered later
			}
			rng.Shuffle(len(waiting), func(i, j int) { waiting[i], waiting[j] = waiting[j], waiting[i] })
			if k := rng.IntN(len(waiting) + 1); k > 0 && rng.IntN(2) == 0 {
				must(t, h.HandleBatches(ctx, waiting[:k]))
				waiting = append(waiting[:0], waiting[k:]...)
			}
			continue
		}
		group = append(group, b)
		if rng.IntN(5) == 0 {
			group = append(group, b) // redelivery, in the same transaction or the next
		}
		if rng.IntN(3) == 0 { // the worker's group commit: several batches in one transaction
			must(t, h.HandleBatches(ctx, group))
			group = group[:0]
		}
	}
	must(t, h.HandleBatches(ctx, group))
	must(t, h.HandleBatches(ctx, waiting))
	_, err := pool.Exec(ctx, `CREATE TABLE trend_replay (LIKE trend_movies INCLUDING ALL);
		CREATE TABLE trend_replay_buckets (LIKE trend_movies_buckets INCLUDING ALL)`)
	must(t, err)
	all, err := store.Read(ctx, 0, 1_000_000)
	must(t, err)
	tx, err := pool.Begin(ctx)
	must(t, err)
	must(t, trend.New("trend_replay", trend.DefaultParams).Apply(ctx, tx, all))
	must(t, tx.Commit(ctx))

	bucketsOf := func(table string) []string {
		rows, err := pool.Query(ctx, `SELECT format('%s %s %s %s', tmdb_id, resolution, bucket, views) FROM `+table+` ORDER BY 1`)
		must(t, err)
		b, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		return b
	}
	if lb, rb := bucketsOf("trend_movies_buckets"), bucketsOf("trend_replay_buckets"); len(lb) == 0 || !reflect.DeepEqual(lb, rb) {
		t.Errorf("view buckets differ (or are empty): live %d rows, replayed %d rows", len(lb), len(rb))
	}
	wantListedCounted(t, pool, trend.LiveTable)
	live, replayed := readTable(t, pool, trend.LiveTable), readTable(t, pool, "trend_replay")
	if len(live) == 0 {
		t.Fatal("the live projection is empty; the workload did nothing")
	}
	if !reflect.DeepEqual(live, replayed) {
		for i := range max(len(live), len(replayed)) {
			var l, r row
			if i < len(live) {
				l = live[i]
			}
			if i < len(replayed) {
				r = replayed[i]
			}
			if !reflect.DeepEqual(l, r) {
				t.Errorf("row %d: live %+v, replayed %+v", i, l, r)
			}
		}
	}
}

// TestChangesOutOfLogOrderReachTheStream: the worker applies batches in
// the order they are delivered, so an older batch can follow a newer one.
// Its change must still show after the stream's cursor.
func TestChangesOutOfLogOrderReachTheStream(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 8, RegisteredAt: t0})))
	older := appendBatch(t, store, views(8, 3, t0)...)
	newer := appendBatch(t, store, views(8, 4, t0)...)
	must(t, h.HandleBatch(ctx, newer))
	cursor, err := reader.Head(ctx)
	must(t, err)
	must(t, h.HandleBatch(ctx, older))
	changed, err := reader.ChangedSince(ctx, cursor, 100)
	must(t, err)
	if len(changed) != 1 || changed[0].TMDBID != 8 || changed[0].InternalViewsCount != 7 {
		t.Fatalf("changed since the cursor: %+v, want movie 8 with 7 views", changed)
	}
	head, err := reader.Head(ctx)
	must(t, err)
	if head != changed[0].Change || head <= cursor {
		t.Errorf("head %d after the change %d (cursor was %d): want the head to be the newest change", head, changed[0].Change, cursor)
	}
}

// TestBatchesOfOneTransactionApplyInLogOrder: the worker's group commit
// gets batches in the order its subscriptions took them; a removal and a
// later registration of the same movie must still end registered.
func TestBatchesOfOneTransactionApplyInLogOrder(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 9, RegisteredAt: t0})))
	removed := appendBatch(t, store, events.MovieRemoved{TMDBID: 9, RemovedAt: t0.Add(time.Minute)})
	again := appendBatch(t, store, events.MovieRegistered{TMDBID: 9, RegisteredAt: t0.Add(2 * time.Minute)})
	must(t, h.HandleBatches(ctx, []*events.Batch{again, removed}))
	m, err := reader.Get(ctx, 9)
	if err != nil || m.Status != "pending" || !m.RegisteredAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after removal then registration, delivered the other way round: %+v, %v; want registered again", m, err)
	}
}

// whileTheSwitchHoldsTheMovies begins a transaction that takes a replay
// switch's first lock (the movies table, EXCLUSIVE), runs handle, and
// returns once handle waits for that table; done gets handle's result.
func whileTheSwitchHoldsTheMovies(t *testing.T, pool *pgxpool.Pool, handle func() error) (sw pgx.Tx, done <-chan error) {
	t.Helper()
	ctx := t.Context()
	sw, err := pool.Begin(ctx)
	must(t, err)
	t.Cleanup(func() { _ = sw.Rollback(context.Background()) })
	_, err = sw.Exec(ctx, `SET LOCAL lock_timeout = '10s'`)
	must(t, err)
	_, err = sw.Exec(ctx, `LOCK TABLE trend_movies IN EXCLUSIVE MODE`)
	must(t, err)
	result := make(chan error, 1)
	go func() { result <- handle() }()
	deadline := time.Now().Add(30 * time.Second)
	// This test's database only: every test database is copied from one
	// template, so trend_movies has the same oid in all of them, and
	// pg_locks shows the whole server's.
	for waiting := false; !waiting; {
		must(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'trend_movies'::regclass
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting))
		if !waiting && time.Now().After(deadline) {
			t.Fatal("the handler did not wait for the movies table the switch holds (30 s)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sw, result
}

// bucketsOf counts the live copy's view buckets of movie.
func bucketsOf(t *testing.T, pool *pgxpool.Pool, movie int64) int {
	t.Helper()
	var n int
	must(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM trend_movies_buckets WHERE tmdb_id = $1`, movie).Scan(&n))
	return n
}

// A removal takes the projection's tables in the order a replay's switch
// takes them (the movies, then the buckets), so the two wait for each
// other instead of deadlocking.
func TestRemovalTakesTheTablesInTheSwitchsOrder(t *testing.T) {
	t.Parallel()
	pool, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, append([]events.Event{events.MovieRegistered{TMDBID: 5, RegisteredAt: t0}}, views(5, 3, t0)...)...)))
	removed := appendBatch(t, store, events.MovieRemoved{TMDBID: 5, RemovedAt: t0.Add(time.Minute)})

	sw, done := whileTheSwitchHoldsTheMovies(t, pool, func() error { return h.HandleBatch(ctx, removed) })
	// The switch's second lock. A removal that had deleted the movie's
	// buckets before waiting for its row held them: a deadlock.
	if _, err := sw.Exec(ctx, `LOCK TABLE trend_movies_buckets IN EXCLUSIVE MODE`); err != nil {
		t.Fatalf("the switch's lock of the buckets: %v", err)
	}
	must(t, sw.Commit(ctx))
	if err := <-done; err != nil {
		t.Fatalf("the removal: %v", err)
	}
	if _, err := reader.Get(ctx, 5); err != trend.ErrNotFound {
		t.Errorf("removed: got %v, want ErrNotFound", err)
	}
	if buckets := bucketsOf(t, pool, 5); buckets != 0 {
		t.Errorf("removed: %d buckets of its views left, want none", buckets)
	}
}

// Views logged before a removal never count after it, in whatever order
// they arrive (a view in flight while TMDB removed the movie, a batch
// redelivered): a registration after the removal starts from the views
// logged after the removal only.
func TestViewsLoggedBeforeARemovalNeverCountAfterIt(t *testing.T) {
	t.Parallel()
	pool, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 11, RegisteredAt: t0})))
	before := appendBatch(t, store, views(11, 3, t0)...)
	removed := appendBatch(t, store, events.MovieRemoved{TMDBID: 11, RemovedAt: t0.Add(time.Minute)})
	must(t, h.HandleBatch(ctx, removed))
	must(t, h.HandleBatch(ctx, before)) // logged before the removal, delivered after it
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 11, RegisteredAt: t0.Add(2 * time.Minute)})))
	m, err := reader.Get(ctx, 11)
	if err != nil || m.InternalViewsCount != 0 {
		t.Fatalf("registered again after the removal: %+v, %v; want 0 views (3 logged before the removal)", m, err)
	}
	if buckets := bucketsOf(t, pool, 11); buckets != 0 {
		t.Errorf("registered again after the removal: %d buckets of views from before it, want none", buckets)
	}
	must(t, h.HandleBatch(ctx, appendBatch(t, store, views(11, 2, t0.Add(3*time.Minute))...)))
	if m, err = reader.Get(ctx, 11); err != nil || m.InternalViewsCount != 2 {
		t.Errorf("then 2 views: %+v, %v; want 2", m, err)
	}
}

// Views are left out one by one, not by batch: a replay reads the log by
// transaction, so one of its chunks can hold a movie's views from before
// a removal (a transaction that wrote them before the removal's, though
// it began after) beside views from after it.
func TestABatchStraddlingARemovalCountsOnlyTheViewsAfterIt(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 12, RegisteredAt: t0})))
	before := appendBatch(t, store, views(12, 3, t0)...)
	removed := appendBatch(t, store, events.MovieRemoved{TMDBID: 12, RemovedAt: t0.Add(time.Minute)})
	again := appendBatch(t, store, events.MovieRegistered{TMDBID: 12, RegisteredAt: t0.Add(2 * time.Minute)})
	after := appendBatch(t, store, views(12, 2, t0.Add(3*time.Minute))...)
	must(t, h.HandleBatch(ctx, removed))
	must(t, h.HandleBatch(ctx, again))
	straddling := &events.Batch{BatchID: uuid.New(), Events: append(append([]events.Envelope{}, before.Events...), after.Events...)}
	must(t, h.HandleBatch(ctx, straddling))
	m, err := reader.Get(ctx, 12)
	if err != nil || m.InternalViewsCount != 2 {
		t.Errorf("registered again, then a batch of 3 views from before the removal and 2 after: %+v, %v; want 2 views", m, err)
	}
}

// A registration or facts logged before a removal and delivered after it
// leave the movie removed, without those facts.
func TestEventsLoggedBeforeARemovalDoNotUndoIt(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	registered := appendBatch(t, store, events.MovieRegistered{TMDBID: 13, RegisteredAt: t0})
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRemoved{TMDBID: 13, RemovedAt: t0.Add(time.Minute)})))
	must(t, h.HandleBatch(ctx, registered))
	if m, err := reader.Get(ctx, 13); err != trend.ErrNotFound {
		t.Errorf("a registration logged before the removal, delivered after it: %+v, %v; want the movie still removed", m, err)
	}

	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 14, RegisteredAt: t0})))
	facts := appendBatch(t, store, details(14, 8.0, t0.Add(time.Minute)))
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRemoved{TMDBID: 14, RemovedAt: t0.Add(2 * time.Minute)})))
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 14, RegisteredAt: t0.Add(3 * time.Minute)})))
	must(t, h.HandleBatch(ctx, facts))
	m, err := reader.Get(ctx, 14)
	if err != nil || m.Status != "pending" || m.Title != nil || m.ExternalScore != nil {
		t.Errorf("facts logged before the removal, delivered after a new registration: %+v, %v; want pending without facts", m, err)
	}
}

// A registration logged before a removal leaves the same hidden row
// whether it is applied before the removal (in log order, as a replay
// does) or after it (its batch retried meanwhile): the removal once kept
// the registration's time, so `trend replay --check` listed every movie
// whose registration came late.
func TestARegistrationAndItsRemovalInEitherOrderLeaveTheSameRow(t *testing.T) {
	t.Parallel()
	pool, store, h, _ := setup(t)
	ctx := t.Context()
	for _, c := range []struct {
		id      int64
		inOrder bool
	}{{15, true}, {16, false}} {
		registered := appendBatch(t, store, events.MovieRegistered{TMDBID: c.id, RegisteredAt: t0})
		removed := appendBatch(t, store, events.MovieRemoved{TMDBID: c.id, RemovedAt: t0.Add(time.Minute)})
		for _, b := range logOrder(c.inOrder, registered, removed) {
			must(t, h.HandleBatch(ctx, b))
		}
	}
	rows := readTable(t, pool, trend.LiveTable)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want the two removed movies'", len(rows))
	}
	inOrder, removalFirst := rows[0], rows[1]
	inOrder.ID, inOrder.Pos, removalFirst.ID, removalFirst.Pos = 0, 0, 0, 0
	if !reflect.DeepEqual(inOrder, removalFirst) {
		t.Errorf("registration then removal: %+v; removal first: %+v; want the same row", inOrder, removalFirst)
	}
}

// logOrder is two batches to deliver, first and second as logged when
// inOrder, swapped otherwise (the later one's delivery came first).
func logOrder(inOrder bool, first, second *events.Batch) []*events.Batch {
	if inOrder {
		return []*events.Batch{first, second}
	}
	return []*events.Batch{second, first}
}

// TestFactsOfARegistrationAfterARemovalCountWhateverTheOrder: a movie
// removed, then registered again, gets the facts fetched for the new
// registration whether they are applied before or after it (its batch
// retried meanwhile). They were once dropped when they came first, and the
// movie stayed pending without facts until its next refresh.
func TestFactsOfARegistrationAfterARemovalCountWhateverTheOrder(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	for _, c := range []struct {
		id         int64
		factsFirst bool
	}{{21, true}, {22, false}} {
		must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: c.id, RegisteredAt: t0})))
		must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRemoved{TMDBID: c.id, RemovedAt: t0.Add(time.Minute)})))
		again := appendBatch(t, store, events.MovieRegistered{TMDBID: c.id, RegisteredAt: t0.Add(2 * time.Minute)})
		facts := appendBatch(t, store, details(c.id, 8.0, t0.Add(3*time.Minute)))
		for i, b := range logOrder(!c.factsFirst, again, facts) {
			must(t, h.HandleBatch(ctx, b))
			if m, err := reader.Get(ctx, c.id); i == 0 && c.factsFirst && err != trend.ErrNotFound {
				t.Errorf("facts first: before the registration, got %+v, %v; want the movie still removed", m, err)
			}
		}
		m, err := reader.Get(ctx, c.id)
		if err != nil || m.Status != "active" || m.Title == nil || *m.Title != "Movie" || m.ExternalScore == nil || *m.ExternalScore != 8.0 {
			t.Errorf("facts first %v: got %+v, %v; want active with the new registration's facts", c.factsFirst, m, err)
		}
		if err == nil && !m.RegisteredAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("facts first %v: registered at %v, want the new registration's %v", c.factsFirst, m.RegisteredAt, t0.Add(2*time.Minute))
		}
	}
}

// Views take the projection's tables in the order a replay's switch takes
// them too: a transaction that read the movies (for their removals)
// before it waited to write them would hold the table against the
// switch's rename while waiting for the switch: a deadlock.
func TestViewsTakeTheTablesInTheSwitchsOrder(t *testing.T) {
	t.Parallel()
	pool, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 16, RegisteredAt: t0})))
	more := appendBatch(t, store, views(16, 4, t0)...)

	sw, done := whileTheSwitchHoldsTheMovies(t, pool, func() error { return h.HandleBatch(ctx, more) })
	// The rename's lock, which waits for every reader of the table.
	if _, err := sw.Exec(ctx, `LOCK TABLE trend_movies IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatalf("the switch's rename lock: %v", err)
	}
	must(t, sw.Rollback(ctx))
	if err := <-done; err != nil {
		t.Fatalf("the views: %v", err)
	}
	if m, err := reader.Get(ctx, 16); err != nil || m.InternalViewsCount != 4 {
		t.Errorf("after the switch: %+v, %v; want 4 views", m, err)
	}
}

// Apply, given events in a replay's order (by transaction), leaves out a
// view logged before a removal it applied earlier in the same call: a
// transaction that began before the removal's can log views on both
// sides of it.
func TestApplyLeavesOutViewsLoggedBeforeARemovalItApplied(t *testing.T) {
	t.Parallel()
	pool, _, _, reader := setup(t)
	ctx := t.Context()
	seal := func(ev events.Event, pos int64) events.Envelope {
		t.Helper()
		env, err := events.Seal(ev, "")
		must(t, err)
		env.Position = pos
		return env
	}
	view := func(pos int64) events.Envelope {
		return seal(events.ViewRecorded{ViewID: uuid.New(), TMDBID: 17, ViewedAt: t0.Add(time.Duration(pos) * time.Second)}, pos)
	}
	evs := []events.Envelope{
		seal(events.MovieRegistered{TMDBID: 17, RegisteredAt: t0}, 10),
		seal(events.MovieRemoved{TMDBID: 17, RemovedAt: t0.Add(time.Minute)}, 100), // its transaction first
		view(90), view(120), // a later transaction's, on both sides of the removal
		seal(events.MovieRegistered{TMDBID: 17, RegisteredAt: t0.Add(2 * time.Minute)}, 130),
	}
	tx, err := pool.Begin(ctx)
	must(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	must(t, trend.New(trend.LiveTable, trend.DefaultParams).Apply(ctx, tx, evs))
	must(t, tx.Commit(ctx))
	if m, err := reader.Get(ctx, 17); err != nil || m.InternalViewsCount != 1 {
		t.Errorf("registered again after the removal: %+v, %v; want the 1 view logged after it", m, err)
	}
}

// A removal applied after events logged after it (a registration that
// followed it, its views and facts, applied first because their batches
// came first: several subscriptions, a retried group) leaves the movie as
// the log says, as a replay, which applies them in order, would: the
// removal's wipe does not take what came after it.
func TestARemovalAppliedLateKeepsWhatCameAfterIt(t *testing.T) {
	t.Parallel()
	_, store, h, reader := setup(t)
	ctx := t.Context()
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 31, RegisteredAt: t0})))
	must(t, h.HandleBatch(ctx, appendBatch(t, store, views(31, 3, t0)...)))
	must(t, h.HandleBatch(ctx, appendBatch(t, store, details(31, 5.0, t0))))
	removed := appendBatch(t, store, events.MovieRemoved{TMDBID: 31, RemovedAt: t0.Add(time.Minute)})
	again := appendBatch(t, store, events.MovieRegistered{TMDBID: 31, RegisteredAt: t0.Add(2 * time.Minute)})
	after := appendBatch(t, store, views(31, 2, t0.Add(3*time.Minute))...)
	facts := appendBatch(t, store, details(31, 8.0, t0.Add(4*time.Minute)))
	for _, b := range []*events.Batch{again, after, facts, removed} {
		must(t, h.HandleBatch(ctx, b))
	}
	m, err := reader.Get(ctx, 31)
	if err != nil || m.Status != "active" || m.InternalViewsCount != 2 || m.ExternalScore == nil || *m.ExternalScore != 8.0 ||
		m.RegisteredAt == nil || !m.RegisteredAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("registered again, 2 views and new facts applied before the removal logged before them: got %+v, %v; "+
			"want active, 2 views, vote 8.0, registered at %v", m, err, t0.Add(2*time.Minute))
	}
}

// wantListedCounted fails t unless the count the triggers keep for table
// (migration 00011) is the number of movies it lists.
func wantListedCounted(t *testing.T, pool *pgxpool.Pool, table string) {
	t.Helper()
	var kept, counted int64
	err := pool.QueryRow(t.Context(), `SELECT (SELECT listed FROM trend_listed WHERE relid = $1::regclass),
		(SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE status <> 'removed')`, pgx.Identifier{table}.Sanitize()).Scan(&kept, &counted)
	if err != nil {
		t.Fatal(err)
	}
	if kept != counted || counted == 0 {
		t.Errorf("%s: the kept count of listed movies is %d, the table lists %d (want equal, not 0)", table, kept, counted)
	}
}

// Two fetches of a movie's facts, the later fetch logged first (their
// transactions committed in the other order): applied in either order,
// the row shows the newer facts by log position and the latest fetch
// time, as a replay has it.
func TestFactsInEitherOrderLeaveTheSameRow(t *testing.T) {
	t.Parallel()
	pool, store, h, reader := setup(t)
	ctx := t.Context()
	for _, c := range []struct {
		id      int64
		inOrder bool
	}{{41, true}, {42, false}} {
		must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: c.id, RegisteredAt: t0})))
		fetchedLater := appendBatch(t, store, details(c.id, 6.0, t0.Add(2*time.Second)))
		fetchedEarlier := appendBatch(t, store, details(c.id, 7.0, t0.Add(time.Second)))
		for _, b := range logOrder(c.inOrder, fetchedLater, fetchedEarlier) {
			must(t, h.HandleBatch(ctx, b))
		}
		m, err := reader.Get(ctx, c.id)
		if err != nil || m.ExternalScore == nil || *m.ExternalScore != 7.0 || !m.LastUpdatedAt.Equal(t0.Add(2*time.Second)) {
			t.Errorf("in log order %v: got %+v, %v; want the facts logged last (vote 7.0), last updated at the later fetch %v",
				c.inOrder, m, err, t0.Add(2*time.Second))
		}
	}
	wantListedCounted(t, pool, trend.LiveTable)
}

// TestAReplayIntoAnEmptyCopyBoundsItsBuckets: with no live buckets (a new
// or emptied live copy), the replay takes its floor from the log's last
// view, 48 hours before its minute, instead of none: without one it held
// every bucket of the log's history in memory.
func TestAReplayIntoAnEmptyCopyBoundsItsBuckets(t *testing.T) {
	t.Parallel()
	pool, store, _, _ := setup(t)
	ctx := t.Context()
	r, err := trend.Rebuildable{Params: trend.DefaultParams}.ForReplay(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !r.MinuteFloor().IsZero() {
		t.Errorf("no views at all: floor %v, want none", r.MinuteFloor())
	}
	last := t0.Add(90*time.Hour + 30*time.Second)
	appendBatch(t, store, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0})
	appendBatch(t, store, views(1, 3, t0)...)
	appendBatch(t, store, events.ViewRecorded{ViewID: uuid.New(), TMDBID: 1, ViewedAt: last})
	appendBatch(t, store, events.MovieRefreshRequested{TMDBID: 1, RequestedAt: last.Add(time.Hour)})
	r, err = trend.Rebuildable{Params: trend.DefaultParams}.ForReplay(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if want := last.Truncate(time.Minute).Add(-48 * time.Hour); !r.MinuteFloor().Equal(want) {
		t.Errorf("floor %v, want %v: 48 hours before the minute of the log's last view", r.MinuteFloor(), want)
	}
}
