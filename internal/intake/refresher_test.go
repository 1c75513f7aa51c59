package intake_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/internal/testenv"
)

func TestRefresherAsksForStaleFactsOnly(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for id, fetched := range map[int64]time.Duration{1: 30 * time.Hour, 2: time.Hour, 3: 50 * time.Hour} {
		if _, err := registry.Register(ctx, pool, id, now.Add(-60*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := registry.SetStatus(ctx, pool, id, registry.StatusActive, now.Add(-fetched)); err != nil {
			t.Fatal(err)
		}
	}
	// A movie still pending long after its registration (TMDB was down) is
	// asked for again too.
	if _, err := registry.Register(ctx, pool, 4, now.Add(-60*time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock := now
	r, err := intake.NewRefresher(pool, slog.New(slog.DiscardHandler), intake.RefresherConfig{MaxAge: 24 * time.Hour, PerTick: 1, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	for range 3 {
		n, err := r.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			t.Errorf("a tick sent %d refreshes, want at most PerTick = 1", n)
		}
	}
	for _, m := range testenv.Outbox(t, pool) {
		var cmd commands.RefreshMovie
		if err := json.Unmarshal(m.Payload, &cmd); err != nil || m.Topic != "commands.RefreshMovie" {
			t.Fatalf("unexpected message %s: %v", m.Topic, err)
		}
		order = append(order, cmd.TMDBID)
	}
	if len(order) != 3 || order[0] != 4 || order[1] != 3 || order[2] != 1 {
		t.Errorf("refreshed %v, want [4 3 1]: the long-pending movie and the stale ones, oldest first, not movie 2 (fresh)", order)
	}
	// A movie registered a moment ago is not asked for again yet.
	if _, err := registry.Register(ctx, pool, 5, now.Add(-10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Tick(ctx); err != nil || n != 0 {
		t.Errorf("with only fresh and just-registered movies left: got %d refreshes, %v; want 0, nil", n, err)
	}
	// Asked once per MaxAge: not again the next day unless still stale then.
	clock = now.Add(24 * time.Hour)
	if n, err := r.Tick(ctx); err != nil || n != 1 { // movie 2 is stale by now
		t.Errorf("a day later: got %d refreshes, %v; want 1 (movie 2), nil", n, err)
	}
	clock = now.Add(25 * time.Hour)
	if n, err := r.Tick(ctx); err != nil || n != 1 { // movie 3 (asked 25h ago, facts never came), then 1 next tick
		t.Errorf("after MaxAge without an answer: got %d refreshes, %v; want 1, nil", n, err)
	}
}

// An active movie with no facts_fetched_at (activated before migration
// 00002 added the column) is stale by its registration's age, not never.
func TestRefresherAsksForAnActiveMovieWithNoFetchTime(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if _, err := registry.Register(ctx, pool, 7, now.Add(-60*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE movies SET status = 'active', facts_fetched_at = NULL WHERE tmdb_id = 7`); err != nil {
		t.Fatal(err)
	}
	r, err := intake.NewRefresher(pool, slog.New(slog.DiscardHandler), intake.RefresherConfig{MaxAge: 24 * time.Hour, PerTick: 5, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Tick(ctx); err != nil || n != 1 {
		t.Errorf("got %d refreshes, %v; want 1 (movie 7), nil", n, err)
	}
}

// TestRefresherAsksForPendingMoviesFirst: a movie whose first fetch
// failed comes before stale active movies, however many of those there
// are: sorted by age alone it came after every one of them.
func TestRefresherAsksForPendingMoviesFirst(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for id := int64(1); id <= 3; id++ {
		if _, err := registry.Register(ctx, pool, id, now.Add(-60*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := registry.SetStatus(ctx, pool, id, registry.StatusActive, now.Add(-50*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := registry.Register(ctx, pool, 9, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, err := intake.NewRefresher(pool, slog.New(slog.DiscardHandler), intake.RefresherConfig{MaxAge: 24 * time.Hour, PerTick: 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("tick: %d, %v", n, err)
	}
	var cmd commands.RefreshMovie
	if out := testenv.Outbox(t, pool); len(out) != 1 || json.Unmarshal(out[0].Payload, &cmd) != nil || cmd.TMDBID != 9 {
		t.Errorf("the first tick asked for %+v, want the pending movie 9", cmd)
	}
}

// TestRefresherAsksAgainAtGrowingIntervals: a movie left pending is asked
// for 30 s after its registration, and an active movie whose refresh
// failed (TMDB down, or refusing our key) 30 s after that failure; then
// each time it has waited as long as it had been waiting (1, 2, 4
// minutes… after), at most PendingMaxWait apart: not every 30 s, which
// queued a request per movie every 30 s through a TMDB outage and a dead
// letter every 30 s for a movie whose answer cannot be used. An answer
// ends the asking.
func TestRefresherAsksAgainAtGrowingIntervals(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		// waiting makes movie 7 wait for its facts from since.
		waiting func(ctx context.Context, pool *pgxpool.Pool) error
	}{
		{name: "pending since its registration", waiting: func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := registry.Register(ctx, pool, 7, since)
			return err
		}},
		{name: "active, its refresh failed", waiting: func(ctx context.Context, pool *pgxpool.Pool) error {
			if _, err := registry.Register(ctx, pool, 7, since.Add(-48*time.Hour)); err != nil {
				return err
			}
			if _, err := registry.SetStatus(ctx, pool, 7, registry.StatusActive, since.Add(-time.Hour)); err != nil {
				return err
			}
			// The refresh that failed was asked for by the refresher.
			if _, err := pool.Exec(ctx, `UPDATE movies SET refresh_requested_at = $1 WHERE tmdb_id = 7`, since.Add(-time.Second)); err != nil {
				return err
			}
			return registry.WantRefresh(ctx, pool, 7, since)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pool := testenv.Pool(t)
			ctx := t.Context()
			if err := c.waiting(ctx, pool); err != nil {
				t.Fatal(err)
			}
			var clock time.Time
			r, err := intake.NewRefresher(pool, slog.New(slog.DiscardHandler), intake.RefresherConfig{
				MaxAge: 24 * time.Hour, PendingMaxWait: 10 * time.Minute, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			// Ticks every 5 s for an hour; the asks that came out of them.
			var asked []time.Duration
			for at := time.Duration(0); at <= time.Hour; at += 5 * time.Second {
				clock = since.Add(at)
				n, err := r.Tick(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					asked = append(asked, at)
				}
			}
			var want []time.Duration
			for at := 30 * time.Second; at <= time.Hour; {
				want = append(want, at)
				at += min(max(at, 30*time.Second), 10*time.Minute)
			}
			// 30s 1m 2m 4m 8m 16m, then every 10 minutes.
			if !slices.Equal(asked, want) {
				t.Errorf("asked again after %v, want %v", asked, want)
			}
			if got := len(testenv.Outbox(t, pool)); got != len(want) {
				t.Errorf("%d RefreshMovie commands in the outbox, want %d", got, len(want))
			}
			// The facts came: no more asks until they are MaxAge old.
			if _, err := registry.SetStatus(ctx, pool, 7, registry.StatusActive, clock); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(2 * time.Hour)
			if n, err := r.Tick(ctx); err != nil || n != 0 {
				t.Errorf("after the facts came: got %d refreshes, %v; want 0, nil", n, err)
			}
		})
	}
}

// A PostgreSQL that accepts connections and never answers does not hold a
// tick for good: each ends at its TickTimeout, and the loop goes on
// beating (a stuck one stops, and the worker's liveness check restarts
// the process).
func TestRefresherTicksEndWhenPostgreSQLStopsAnswering(t *testing.T) {
	t.Parallel()
	rounds := testenv.NewRounds()
	r, err := intake.NewRefresher(testenv.SilentPool(t), slog.New(slog.DiscardHandler), intake.RefresherConfig{
		Every: 10 * time.Millisecond, TickTimeout: 100 * time.Millisecond, OnRound: rounds.Beat,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	rounds.Wait(t, 3, "a tick waits on the silent server")
}
