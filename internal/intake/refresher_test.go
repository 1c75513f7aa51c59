package intake_test

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

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
		if err := registry.SetStatus(ctx, pool, id, registry.StatusActive, now.Add(-fetched)); err != nil {
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
	if n, _ := r.Tick(ctx); n != 0 {
		t.Errorf("with only fresh and just-registered movies left: got %d refreshes, want 0", n)
	}
	// Asked once per MaxAge: not again the next day unless still stale then.
	clock = now.Add(24 * time.Hour)
	if n, _ := r.Tick(ctx); n != 1 { // movie 2 is stale by now
		t.Errorf("a day later: got %d refreshes, want 1 (movie 2)", n)
	}
	clock = now.Add(25 * time.Hour)
	if n, _ := r.Tick(ctx); n != 1 { // movie 3 (asked 25h ago, facts never came), then 1 next tick
		t.Errorf("after MaxAge without an answer: got %d refreshes, want 1", n)
	}
}
