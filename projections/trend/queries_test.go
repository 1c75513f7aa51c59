package trend_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/projections/trend"
)

// TestPendingExplainsAsTheProjectionWill: a movie registered a moment ago,
// which the projection has not got yet, is explained as Explain explains
// it once the projection has it: no views, no facts, both scores 0, and
// the terms (half-lives, m, C) of the ranking.
func TestPendingExplainsAsTheProjectionWill(t *testing.T) {
	t.Parallel()
	pool, store, h, _ := setup(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)
	ranker := trend.NewRanker(pool, trend.DefaultParams)
	// A movie with facts, so that C (their mean vote) is not 0.
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 1, RegisteredAt: now.Add(-time.Hour)}, details(1, 8.1, now.Add(-time.Hour)))))
	pending := map[string]trend.Breakdown{}
	for _, res := range []string{"", "minute"} {
		b, err := ranker.Pending(ctx, 2, res, now)
		must(t, err)
		pending[res] = b
	}
	if b := pending[""]; b.TMDBID != 2 || b.Trend[trend.Day].C != 8.1 || b.Trend[trend.Day].M != 500 ||
		b.Trend[trend.Day].HalfLifeHours != 24 || b.Trend[trend.Week].HalfLifeHours != 168 || b.Trend[trend.Week].TrendScore != 0 ||
		b.HistoryResolution != "hour" || len(b.History) != 168 {
		t.Errorf("pending movie 2: got %+v, want C 8.1, m 500, half-lives 24 and 168, scores 0, 168 hours of history", b)
	}

	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 2, RegisteredAt: now})))
	for res, want := range pending {
		got, err := ranker.Explain(ctx, 2, res, now)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("resolution %q: Pending gave %+v, Explain gives %+v once the projection has the movie", res, want, got)
		}
	}
}

// A live table without its kept count (restored from a dump under a new
// oid, or switched in by an older replay) is counted, not refused.
func TestATableWithoutItsKeptCountIsCounted(t *testing.T) {
	t.Parallel()
	pool, store, h, reader := setup(t)
	ctx := t.Context()
	for _, id := range []int64{1, 2, 3} {
		must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: id, RegisteredAt: t0})))
	}
	if _, err := pool.Exec(ctx, `DELETE FROM trend_listed`); err != nil {
		t.Fatal(err)
	}
	if _, total, err := reader.List(ctx, 10, 0); err != nil || total != 3 {
		t.Errorf("without a kept count: total %d, %v; want 3 counted", total, err)
	}
}
