package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/handlers"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/internal/tmdb"
)

var (
	quiet = slog.New(slog.DiscardHandler)
	now   = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
)

type source struct {
	mu    sync.Mutex
	calls int
	movie tmdb.Movie
	err   error
	// stop, if set, is called during the request: the worker's shutdown
	// cancelling the message's context while TMDB is being asked.
	stop context.CancelFunc
	// hang makes the request last until its context ends (TMDB holding
	// the call through retries and Retry-After waits).
	hang bool
}

func (s *source) Movie(ctx context.Context, id int64) (tmdb.Movie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.hang {
		<-ctx.Done()
		return tmdb.Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, ctx.Err())
	}
	if s.stop != nil {
		s.stop()
		return tmdb.Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, ctx.Err())
	}
	m := s.movie
	m.ID = id
	return m, s.err
}

type fixture struct {
	store *eventlog.Store
	pool  *pgxpool.Pool
	t     *testing.T
}

func newFixture(t *testing.T) fixture {
	pool := testenv.Pool(t)
	store, err := eventlog.NewStore(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{store, pool, t}
}

func (f fixture) log() []events.Envelope {
	f.t.Helper()
	evs, err := f.store.Read(f.t.Context(), 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// logged returns the events of type typ in the log, in order.
func (f fixture) logged(typ string) []events.Envelope {
	f.t.Helper()
	var out []events.Envelope
	for _, e := range f.log() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// registerMovieHandler is the RegisterMovie handler over f's store.
func (f fixture) registerMovieHandler() *handlers.RegisterMovieHandler {
	f.t.Helper()
	h, err := handlers.NewRegisterMovieHandler(f.store)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f fixture) registerRow(id int64) {
	f.t.Helper()
	err := f.store.Once(f.t.Context(), "setup", uuid.New(), "", func(ctx context.Context, tx *eventlog.Tx) error {
		_, err := registry.Register(ctx, tx, id, now)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestRecordViewsKeepsTrackedMoviesAndEachViewOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.registerRow(1)
	h, err := handlers.NewRecordViewsHandler(f.store, quiet)
	if err != nil {
		t.Fatal(err)
	}
	repeated := uuid.New()
	cmd := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{
		{ViewID: repeated, TMDBID: 1, ViewedAt: now},
		{ViewID: uuid.New(), TMDBID: 2, ViewedAt: now}, // not registered
		{ViewID: uuid.New(), TMDBID: 1, ViewedAt: now},
	}}
	for range 2 { // a redelivery
		if err := h.Handle(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	again := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{{ViewID: repeated, TMDBID: 1, ViewedAt: now}}}
	if err := h.Handle(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if got := len(f.log()); got != 2 {
		t.Errorf("got %d ViewRecorded events, want 2 (movie 2 untracked, view %s once)", got, repeated)
	}
	if err := h.Handle(t.Context(), &commands.RecordViews{CommandID: uuid.New()}); !messaging.Permanent(err) {
		t.Errorf("empty RecordViews: got %v, want a permanent error", err)
	}
	// Nil ids, a malformed producer's: recorded once, they would have made
	// every later one a repeat, dropped in silence.
	nilView := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{{TMDBID: 1, ViewedAt: now}}}
	nilCommand := &commands.RecordViews{Views: []commands.View{{ViewID: uuid.New(), TMDBID: 1, ViewedAt: now}}}
	for name, cmd := range map[string]*commands.RecordViews{"a view without an id": nilView, "a command without an id": nilCommand} {
		if err := h.Handle(t.Context(), cmd); !messaging.Permanent(err) {
			t.Errorf("%s: got %v, want a permanent error", name, err)
		}
	}
	if got := len(f.log()); got != 2 {
		t.Errorf("got %d ViewRecorded events after the nil ids, want still 2", got)
	}
}

// Views of movies not tracked (never registered, or removed while the
// views were in flight) are dropped with one warning a command, naming
// the movies once each: an ingest batch of a removed movie wrote a line a
// view.
func TestDroppedViewsAreLoggedOnceACommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.registerRow(1)
	var logs testenv.Buffer
	h, err := handlers.NewRecordViewsHandler(f.store, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := &commands.RecordViews{CommandID: uuid.New()}
	for _, id := range []int64{3, 2, 1, 3, 3, 2} {
		cmd.Views = append(cmd.Views, commands.View{ViewID: uuid.New(), TMDBID: id, ViewedAt: now})
	}
	if err := h.Handle(t.Context(), cmd); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "count=5") || !strings.Contains(lines[0], "tmdb_ids=\"[2 3]\"") {
		t.Errorf("log:\n%s\nwant one warning, count=5, tmdb_ids=[2 3]", logs.String())
	}
}

func TestRecordViewsOfManyCommandsInOneTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.registerRow(1)
	f.registerRow(3)
	h, err := handlers.NewRecordViewsHandler(f.store, quiet)
	if err != nil {
		t.Fatal(err)
	}
	shared := uuid.New()
	view := func(id int64) commands.View { return commands.View{ViewID: uuid.New(), TMDBID: id, ViewedAt: now} }
	a := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{view(1), {ViewID: shared, TMDBID: 3, ViewedAt: now}}}
	b := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{view(2), view(3)}} // movie 2 untracked
	c := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{{ViewID: shared, TMDBID: 3, ViewedAt: now}, view(1)}}
	// a twice in one transaction, then the whole group redelivered.
	for range 2 {
		if err := h.HandleAll(t.Context(), []*commands.RecordViews{a, b, a, c}); err != nil {
			t.Fatal(err)
		}
	}
	evs := f.log()
	if len(evs) != 4 {
		t.Fatalf("got %d ViewRecorded events, want 4 (a: 2, b: 1, c: 1 new, the shared view once)", len(evs))
	}
	batches := map[string]int{}
	for _, env := range evs {
		var batch string
		if err := f.pool.QueryRow(t.Context(), `SELECT batch_id::text FROM events WHERE position = $1`, env.Position).Scan(&batch); err != nil {
			t.Fatal(err)
		}
		batches[batch]++
	}
	if len(batches) != 1 {
		t.Errorf("events in %d batches, want 1: the transaction's", len(batches))
	}
	if err := h.HandleAll(t.Context(), []*commands.RecordViews{a, {CommandID: uuid.New()}}); err == nil {
		t.Error("a group holding an empty RecordViews: got nil error, want a permanent error")
	}
}

func batchOf(t *testing.T, evs ...events.Event) *events.Batch {
	b := &events.Batch{BatchID: uuid.New()}
	for _, ev := range evs {
		env, err := events.Seal(ev, "")
		if err != nil {
			t.Fatal(err)
		}
		b.Events = append(b.Events, env)
	}
	return b
}

func TestEnrichment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		stopping   bool // the worker stops while TMDB is asked
		hang       bool // TMDB holds the call past FetchTimeout
		refresh    bool // the movie is active, a refresh is asked for
		wanted     bool // an earlier refresh of it failed
		wantErr    bool
		wantEvent  string
		wantStatus string
		wantWanted bool // the movie is marked for the refresher to ask again
		gone       bool // the movie was removed before the event is handled
		// fetchedSince: its facts were fetched after the event was logged.
		fetchedSince bool
		quiet        bool // nothing logged at warning level or above
	}{
		{name: "facts", wantEvent: events.TypeMovieDetailsFetched, wantStatus: registry.StatusActive},
		{name: "TMDB does not know it", err: tmdb.ErrNotFound, wantEvent: events.TypeMovieRemoved, wantStatus: registry.StatusRemoved},
		// TMDB down or refusing the key: the message is done, the movie stays
		// pending, and the refresher asks again later.
		{name: "bad key", err: &tmdb.APIError{HTTPStatus: 401, Code: 7}, wantStatus: registry.StatusPending},
		{name: "TMDB down", err: &tmdb.APIError{HTTPStatus: 503}, wantStatus: registry.StatusPending},
		// A call held past FetchTimeout ends, and the movie is asked for again.
		{name: "TMDB holding the call", hang: true, wantStatus: registry.StatusPending},
		{name: "TMDB holding a refresh", refresh: true, hang: true, wantStatus: registry.StatusActive, wantWanted: true},
		// Not TMDB's own 404 (a wrong TMDB_BASE_URL): no removal.
		{name: "a 404 of something else", err: &tmdb.APIError{HTTPStatus: 404}, wantStatus: registry.StatusPending},
		// An answer that will not change if asked again: a permanent error
		// (the dead letters, to be requeued once TMDB is fixed).
		{name: "an answer that cannot be used", err: &tmdb.APIError{HTTPStatus: 422, Code: 26}, wantErr: true, wantStatus: registry.StatusPending},
		// The message must go back to its queue: an error, nothing logged.
		{name: "the worker stops", stopping: true, wantErr: true, wantStatus: registry.StatusPending},
		// A refresh of an active movie that fails is not lost: the movie is
		// marked, and the refresher asks again (TestRefresherAsksAgainAtGrowingIntervals)
		// until an answer comes.
		{name: "a refresh while TMDB is down", refresh: true, err: &tmdb.APIError{HTTPStatus: 503}, wantStatus: registry.StatusActive, wantWanted: true},
		// The client refused the call after TMDB's failures: as TMDB down.
		{name: "the circuit open", err: fmt.Errorf("tmdb: movie 27205: %w", tmdb.ErrCircuitOpen), wantStatus: registry.StatusPending, quiet: true},
		{name: "a refresh with the circuit open", refresh: true, err: fmt.Errorf("tmdb: movie 27205: %w", tmdb.ErrCircuitOpen), wantStatus: registry.StatusActive, wantWanted: true},
		// Called during a pause TMDB asked for: as the circuit open, and
		// not a warning a message for up to 15 minutes.
		{name: "a pause TMDB asked for", err: fmt.Errorf("tmdb: movie 27205: %w", tmdb.ErrPaused), wantStatus: registry.StatusPending, quiet: true},
		{name: "a refresh with a bad key", refresh: true, err: &tmdb.APIError{HTTPStatus: 401, Code: 7}, wantStatus: registry.StatusActive, wantWanted: true},
		{name: "a refresh, again while TMDB is down", refresh: true, wanted: true, err: &tmdb.APIError{HTTPStatus: 503}, wantStatus: registry.StatusActive, wantWanted: true},
		{name: "a refresh that succeeds after failing", refresh: true, wanted: true, wantEvent: events.TypeMovieDetailsFetched, wantStatus: registry.StatusActive},
		{name: "a refresh that finds the movie gone after failing", refresh: true, wanted: true, err: tmdb.ErrNotFound, wantEvent: events.TypeMovieRemoved, wantStatus: registry.StatusRemoved},
		// Removed since the event was logged (its registration's 404 came
		// first): nothing more is logged, neither facts taken for a later
		// registration's nor a second removal.
		{name: "facts of a movie removed meanwhile", gone: true, wantStatus: registry.StatusRemoved},
		{name: "a 404 for a movie removed meanwhile", gone: true, err: tmdb.ErrNotFound, wantStatus: registry.StatusRemoved},
		// Facts fetched since the refresh was asked for (another request's):
		// TMDB is not asked again.
		{name: "a refresh answered meanwhile", refresh: true, fetchedSince: true, wantStatus: registry.StatusActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.registerRow(27205)
			// An earlier failure, a day before this one: the mark keeps it.
			firstFailure := now.Add(-24 * time.Hour)
			if c.refresh {
				if _, err := registry.SetStatus(t.Context(), f.pool, 27205, registry.StatusActive, now.Add(-48*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if c.wanted {
				if err := registry.WantRefresh(t.Context(), f.pool, 27205, firstFailure); err != nil {
					t.Fatal(err)
				}
			}
			if c.gone {
				if _, err := registry.SetStatus(t.Context(), f.pool, 27205, registry.StatusRemoved, now.Add(-time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			if c.fetchedSince {
				if _, err := registry.SetStatus(t.Context(), f.pool, 27205, registry.StatusActive, now.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			src := &source{movie: tmdb.Movie{Title: "Inception", VoteAverage: 8.1, VoteCount: 13752, Genres: []tmdb.Genre{{ID: 28, Name: "Action"}}}, err: c.err, hang: c.hang}
			var logs bytes.Buffer
			h, err := handlers.NewEnrichment(f.store, f.pool, src, func() time.Time { return now }, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			h.FetchTimeout = 100 * time.Millisecond
			ctx := t.Context()
			if c.stopping {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				src.stop = cancel
			}
			var asked events.Event = events.MovieRegistered{TMDBID: 27205, RegisteredAt: now}
			if c.refresh {
				asked = events.MovieRefreshRequested{TMDBID: 27205, RequestedAt: now}
			}
			b := batchOf(t, events.ViewRecorded{ViewID: uuid.New(), TMDBID: 27205, ViewedAt: now}, asked)
			err = h.HandleBatch(ctx, b)
			if (err != nil) != c.wantErr {
				t.Fatalf("got error %v, want error: %v", err, c.wantErr)
			}
			if !c.wantErr {
				if err := h.HandleBatch(t.Context(), b); err != nil { // a redelivery
					t.Fatal(err)
				}
				if c.wantEvent != "" && src.calls != 1 {
					t.Errorf("TMDB called %d times for one registration delivered twice, want 1", src.calls)
				}
				if (c.gone || c.fetchedSince) && src.calls != 0 {
					t.Errorf("TMDB called %d times for a request an answer since has settled, want none", src.calls)
				}
			}
			evs := f.log()
			var types []string
			for _, e := range evs {
				types = append(types, e.Type)
			}
			if c.wantEvent == "" && len(evs) != 0 || c.wantEvent != "" && (len(evs) != 1 || evs[0].Type != c.wantEvent) {
				t.Errorf("log: got %v, want [%s]", types, c.wantEvent)
			}
			if c.wantEvent == events.TypeMovieDetailsFetched {
				ev, _ := evs[0].Decode()
				d := ev.(*events.MovieDetailsFetched)
				if d.Title != "Inception" || d.VoteAverage != 8.1 || len(d.Genres) != 1 || d.Genres[0] != "Action" || !d.FetchedAt.Equal(now) {
					t.Errorf("details: got %+v", d)
				}
			}
			// The facts fetched are logged (what an operator watches the
			// worker's log for), only when they were.
			fetched := strings.Contains(logs.String(), `msg="TMDB facts fetched"`)
			if want := c.wantEvent == events.TypeMovieDetailsFetched; fetched != want || want && !strings.Contains(logs.String(), "title=Inception vote_average=8.1") {
				t.Errorf("log lines: got\n%s\nwant a \"TMDB facts fetched\" line with the title and vote: %v", logs.String(), want)
			}
			if loud := strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR"); c.quiet && loud {
				t.Errorf("log lines: got\n%s\nwant none at warning level or above", logs.String())
			}
			reg, err := registry.Get(t.Context(), f.pool, 27205)
			if err != nil {
				t.Fatal(err)
			}
			if reg.Status != c.wantStatus {
				t.Errorf("registration status: got %s, want %s", reg.Status, c.wantStatus)
			}
			var since *time.Time
			if err := f.pool.QueryRow(t.Context(), `SELECT refresh_wanted_since FROM movies WHERE tmdb_id = 27205`).Scan(&since); err != nil {
				t.Fatal(err)
			}
			wantSince := now
			if c.wanted {
				wantSince = firstFailure
			}
			if c.wantWanted && (since == nil || !since.Equal(wantSince)) || !c.wantWanted && since != nil {
				t.Errorf("refresh wanted since %v; want %v: %v", since, wantSince, c.wantWanted)
			}
		})
	}
}

// A registration whose movie was removed before its command was handled
// (a refresh asked for while it was pending, handled first, TMDB's 404)
// is recorded as handled but not logged: logged after the removal, it
// would bring the movie back in the projection while the write model
// says removed.
func TestARegistrationRemovedBeforeItIsHandledIsNotLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	h := f.registerMovieHandler()
	f.registerRow(1)
	f.registerRow(2)
	if _, err := registry.SetStatus(ctx, f.pool, 2, registry.StatusRemoved, now); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2} {
		if err := h.Handle(ctx, &commands.RegisterMovie{CommandID: uuid.New(), TMDBID: id, RequestedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var logged []int64
	for _, e := range f.logged(events.TypeMovieRegistered) {
		logged = append(logged, e.TMDBID)
	}
	if len(logged) != 1 || logged[0] != 1 {
		t.Errorf("registrations logged for movies %v, want [1] (2 was removed before its command was handled)", logged)
	}
}

// A registration handled after its movie was removed and registered again
// (it waited as a dead letter, say) is not logged either: logged after the
// newer registration, it gave the projection its older registered_at, or
// not, by delivery order. The newer registration's command is logged, as
// is one of an older version whose time carries nanoseconds.
func TestARegistrationSupersededBeforeItIsHandledIsNotLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	h := f.registerMovieHandler()
	f.registerRow(1) // registered at now
	again := now.Add(time.Minute)
	if _, err := registry.SetStatus(ctx, f.pool, 1, registry.StatusRemoved, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if isNew, err := registry.Register(ctx, f.pool, 1, again); err != nil || !isNew {
		t.Fatalf("register again: %t, %v", isNew, err)
	}
	for _, at := range []time.Time{now, again.Add(500 * time.Nanosecond)} {
		if err := h.Handle(ctx, &commands.RegisterMovie{CommandID: uuid.New(), TMDBID: 1, RequestedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	var logged []time.Time
	for _, e := range f.logged(events.TypeMovieRegistered) {
		var r events.MovieRegistered
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		logged = append(logged, r.RegisteredAt)
	}
	if len(logged) != 1 || !logged[0].Truncate(time.Microsecond).Equal(again) {
		t.Errorf("registrations logged at %v, want only the newer one, at %v", logged, again)
	}
}

// A refresh asked for while an earlier fetch of the movie was in flight
// (after it was sent, before its answer was recorded) is not settled by
// that answer: TMDB is asked again. facts_fetched_at had recorded the
// answer's time, later than the refresh, and the refresh cost no call.
func TestARefreshAskedDuringAFetchIsNotSettledByIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.registerRow(27205)
	sent, refreshed, answered := now.Add(time.Second), now.Add(2*time.Second), now.Add(3*time.Second)
	calls := 0
	clock := func() time.Time { // the first reading is when TMDB is asked
		calls++
		if calls == 1 {
			return sent
		}
		return answered
	}
	src := &source{movie: tmdb.Movie{Title: "Inception", VoteAverage: 8.1, VoteCount: 13752}}
	h, err := handlers.NewEnrichment(f.store, f.pool, src, clock, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.HandleBatch(t.Context(), batchOf(t, events.MovieRegistered{TMDBID: 27205, RegisteredAt: now})); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleBatch(t.Context(), batchOf(t, events.MovieRefreshRequested{TMDBID: 27205, RequestedAt: refreshed})); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != 2 {
		t.Errorf("TMDB asked %d times, want 2: the refresh came after the first request was sent", src.calls)
	}
}

// A view handled while its movie's removal is committing is not logged
// after the removal: the removal holds RemovalLock (as the enrichment
// does after marking the movie removed), the views wait for it, then read
// the movie as removed and drop the view. (Before, they read the movie as
// tracked first, and the view was logged after the removal.)
func TestAViewDuringARemovalIsNotLoggedAfterIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.registerRow(1)
	h, err := handlers.NewRecordViewsHandler(f.store, quiet)
	if err != nil {
		t.Fatal(err)
	}
	removal := f.holding(`UPDATE movies SET status = 'removed' WHERE tmdb_id = 1`,
		fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, handlers.RemovalLock))
	cmd := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{{ViewID: uuid.New(), TMDBID: 1, ViewedAt: now}}}
	waitsFor(t, f.pool, "the views were handled while the removal held RemovalLock",
		func() error { return h.Handle(ctx, cmd) }, func() error { return removal.Commit(ctx) })
	for _, e := range f.log() {
		if e.Type == events.TypeViewRecorded {
			t.Errorf("a view of movie %d was logged after its removal", e.TMDBID)
		}
	}
}

// The removal's side of the same rule: it waits for a views transaction
// that may have read the movie as tracked (one holding RemovalLock
// shared) before it logs the removal.
func TestARemovalWaitsForTheViewsInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	h, b := f.aRemoval()
	views := f.holding(fmt.Sprintf(`SELECT pg_advisory_xact_lock_shared(%d)`, handlers.RemovalLock))
	waitsFor(t, f.pool, "the removal was logged while a views transaction was in flight",
		func() error { return h.HandleBatch(ctx, b) }, func() error { return views.Commit(ctx) })
	f.wantOnlyTheRemoval()
}

// waitsFor runs handle, fails t with early if it ends before it waits
// for a lock in this test's database (it should wait for what release
// ends), then calls release and fails t unless handle then ends without
// an error. The wait is seen in pg_locks, so a slow start of handle cannot
// pass for a wait.
func waitsFor(t *testing.T, pool *pgxpool.Pool, early string, handle, release func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- handle() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var waiting bool
		if err := pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("%s (error %v)", early, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: it neither ended nor waited for a lock in 30 s", early)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A removal does not wait for a VACUUM or ANALYZE of the log (they hold
// it in SHARE UPDATE EXCLUSIVE mode for their whole run): a lock on the
// events table strong enough to wait for the appends would have, and held
// every append behind it meanwhile.
func TestARemovalDoesNotWaitForAVacuumOfTheLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, b := f.aRemoval()
	f.holding(`LOCK TABLE events IN SHARE UPDATE EXCLUSIVE MODE`)
	wait, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.HandleBatch(wait, b); err != nil {
		t.Fatalf("the removal, while the log is being vacuumed: %v", err)
	}
	f.wantOnlyTheRemoval()
}

// aRemoval returns an enrichment that TMDB answers 404, and the batch
// that registers movie 27205 (registered in the write model): handled,
// it removes the movie.
func (f fixture) aRemoval() (*handlers.Enrichment, *events.Batch) {
	f.t.Helper()
	f.registerRow(27205)
	h, err := handlers.NewEnrichment(f.store, f.pool, &source{err: tmdb.ErrNotFound}, func() time.Time { return now }, quiet)
	if err != nil {
		f.t.Fatal(err)
	}
	return h, batchOf(f.t, events.MovieRegistered{TMDBID: 27205, RegisteredAt: now})
}

// holding begins a transaction that runs stmts and holds what they took
// until the test commits it or ends.
func (f fixture) holding(stmts ...string) pgx.Tx {
	f.t.Helper()
	tx, err := f.pool.Begin(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { tx.Rollback(context.Background()) })
	for _, sql := range stmts {
		if _, err := tx.Exec(f.t.Context(), sql); err != nil {
			f.t.Fatal(err)
		}
	}
	return tx
}

// wantOnlyTheRemoval fails the test unless the log holds the removal
// alone.
func (f fixture) wantOnlyTheRemoval() {
	f.t.Helper()
	if evs := f.log(); len(evs) != 1 || evs[0].Type != events.TypeMovieRemoved {
		f.t.Errorf("log: got %d events, want the removal", len(evs))
	}
}
