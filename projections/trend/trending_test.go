package trend_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/projections/trend"
)

func TestWindowsAndHistoryCountViewsAtTheirOwnTime(t *testing.T) {
	t.Parallel()
	pool, store, h, _ := setup(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)
	ranker := trend.NewRanker(pool, trend.DefaultParams)
	must(t, h.HandleBatch(ctx, appendBatch(t, store, events.MovieRegistered{TMDBID: 1, RegisteredAt: now.Add(-10 * 24 * time.Hour)})))
	at := func(ago time.Duration, n int) []events.Event { return views(1, n, now.Add(-ago))[:n] }
	// views(…) spaces views one second apart, inside one minute for n < 60.
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(10*time.Minute, 3)...)))  // last hour
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(5*time.Hour, 4)...)))     // last day
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(3*24*time.Hour, 5)...)))  // last week
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(20*24*time.Hour, 6)...))) // older than a week
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(2*time.Minute, 1)...)))   // newest
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(30*time.Minute, 2)...)))  // late: arrives last, counts at its own time
	// Dated ahead by a client's fast clock (the API takes up to 5 minutes):
	// it counts in every window, as in the total, not only once its minute
	// comes.
	must(t, h.HandleBatch(ctx, appendBatch(t, store, at(-3*time.Minute, 1)...)))
	b, err := ranker.Explain(ctx, 1, "", now)
	must(t, err)
	if want := (trend.Windows{LastHour: 7, Last24h: 11, Last7d: 16}); b.Views != want {
		t.Errorf("windows: got %+v, want %+v", b.Views, want)
	}
	if b.Classic.Views != 22 {
		t.Errorf("total views: got %d, want 22", b.Classic.Views)
	}
	if b.HistoryResolution != "hour" || len(b.History) != 7*24 {
		t.Fatalf("history: got %s with %d points, want 168 hourly points", b.HistoryResolution, len(b.History))
	}
	byHour := map[time.Time]int64{}
	var sum int64
	for _, p := range b.History {
		byHour[p.At] = p.Views
		sum += p.Views
	}
	if sum != 16 || byHour[now.Add(-5*time.Hour).Truncate(time.Hour)] != 4 || byHour[now.Truncate(time.Hour)] != 7 {
		t.Errorf("history: got %d views in 7 days (%v in the 5-hours-ago bucket, %v in this hour), want 16, 4, 7", sum, byHour[now.Add(-5*time.Hour).Truncate(time.Hour)], byHour[now.Truncate(time.Hour)])
	}
	_, minutes, err := func() (string, []trend.Point, error) {
		b, err := ranker.Explain(ctx, 1, "minute", now)
		return b.HistoryResolution, b.History, err
	}()
	must(t, err)
	if len(minutes) != 48*60 || minutes[len(minutes)-1].At != now.Truncate(time.Minute) {
		t.Errorf("minute history: got %d points ending %v, want 2880 ending %v", len(minutes), minutes[len(minutes)-1].At, now)
	}
	if _, err := ranker.Explain(ctx, 999, "", now); err != trend.ErrNotFound {
		t.Errorf("unknown movie: got %v, want ErrNotFound", err)
	}
}

// TestTrendingMatchesBruteForce ranks random movies with random views and
// ratings through the index (threshold algorithm) and by brute force over
// every view.
func TestTrendingMatchesBruteForce(t *testing.T) {
	t.Parallel()
	pool, store, h, _ := setup(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	type truth struct {
		views      []time.Time
		vote       float64
		votes      int64
		hasDetails bool
	}
	movies := map[int64]*truth{}
	var evs []events.Event
	for id := int64(1); id <= 150; id++ {
		m := &truth{}
		movies[id] = m
		evs = append(evs, events.MovieRegistered{TMDBID: id, RegisteredAt: now.Add(-30 * 24 * time.Hour)})
		if rng.IntN(4) > 0 {
			m.hasDetails, m.vote, m.votes = true, float64(rng.IntN(90)+10)/10, int64(rng.IntN(5000))
			d := details(id, m.vote, now.Add(-29*24*time.Hour))
			d.VoteCount = m.votes
			evs = append(evs, d)
		}
		for range rng.IntN(30) {
			at := now.Add(-time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
			m.views = append(m.views, at)
			evs = append(evs, events.ViewRecorded{ViewID: uuid.New(), TMDBID: id, ViewedAt: at})
		}
	}
	for len(evs) > 0 {
		n := min(len(evs), 1+rng.IntN(200))
		must(t, h.HandleBatch(ctx, appendBatch(t, store, evs[:n]...)))
		evs = evs[n:]
	}
	var c float64
	var rated int
	for _, m := range movies {
		if m.hasDetails {
			c += m.vote
			rated++
		}
	}
	c /= float64(rated)
	ranker := trend.NewRanker(pool, trend.DefaultParams)
	for _, w := range []trend.Window{trend.Day, trend.Week} {
		hl := trend.DefaultParams.HalfLife(w)
		type scored struct {
			id        int64
			score     float64
			attention float64
		}
		var want []scored
		for id, m := range movies {
			a := 0.0
			for _, v := range m.views {
				a += math.Pow(2, -now.Sub(v).Hours()/hl.Hours())
			}
			wr := c
			if m.hasDetails {
				wr = trend.WeightedRating(m.vote, float64(m.votes), 500, c)
			}
			want = append(want, scored{id, a * wr / 10, a})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].score != want[j].score {
				return want[i].score > want[j].score
			}
			if want[i].attention != want[j].attention {
				return want[i].attention > want[j].attention
			}
			return want[i].id < want[j].id
		})
		for _, page := range []struct{ limit, offset int }{{10, 0}, {25, 5}, {150, 0}, {10, 145}} {
			got, total, err := ranker.Trending(ctx, w, page.limit, page.offset, now)
			must(t, err)
			if total != 150 {
				t.Errorf("total: got %d, want 150", total)
			}
			end := min(page.offset+page.limit, len(want))
			if len(got) != end-page.offset {
				t.Fatalf("%s limit %d offset %d: got %d movies, want %d", w, page.limit, page.offset, len(got), end-page.offset)
			}
			for i, g := range got {
				exp := want[page.offset+i]
				if math.Abs(g.TrendScore-exp.score) > 1e-9*max(1, exp.score) {
					t.Fatalf("%s rank %d: got movie %d score %v, want movie %d score %v", w, page.offset+i, g.TMDBID, g.TrendScore, exp.id, exp.score)
				}
				if g.TMDBID != exp.id && math.Abs(g.TrendScore-exp.score) > 1e-12 {
					t.Fatalf("%s rank %d: got movie %d, want movie %d", w, page.offset+i, g.TMDBID, exp.id)
				}
			}
		}
	}
}

// TestTrendingTopComesFromTheIndex shows the query plan of a trending page
// over 100,000 movies: an index scan on the attention, no scan of the table.
func TestTrendingTopComesFromTheIndex(t *testing.T) {
	t.Parallel()
	pool, _, _, _ := setup(t)
	ctx := t.Context()
	_, err := pool.Exec(ctx, `
		INSERT INTO trend_movies (tmdb_id, status, internal_views_count, last_updated_at, attention_day, attention_week)
		SELECT i, 'active', i % 100, now(), 1700 + random() * 10, 260 + random()
		FROM generate_series(1, 100000) AS i;
		ANALYZE trend_movies`)
	must(t, err)
	var plan string
	err = pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) SELECT tmdb_id FROM trend_movies
		WHERE status <> 'removed' AND attention_day <= 1705 AND (attention_day < 1705 OR tmdb_id > 42)
		ORDER BY attention_day DESC, tmdb_id LIMIT 100`).Scan(&plan)
	must(t, err)
	text := strings.Join(strings.Fields(plan), " ")
	// A later page starts inside the index (an index condition), not by
	// filtering the rows before it.
	if !strings.Contains(text, `"Index Name": "trend_movies_attention_day"`) || !strings.Contains(text, `"Index Cond": "(attention_day <= '1705'`) || strings.Contains(text, "Seq Scan") {
		t.Errorf("the top 100 of 100,000 movies is not read from the attention index:\n%s", text)
	}
	got, total, err := trend.NewRanker(pool, trend.DefaultParams).Trending(ctx, trend.Day, 50, 0, time.Now())
	must(t, err)
	if total != 100000 || len(got) != 50 {
		t.Errorf("got %d of %d, want 50 of 100000", len(got), total)
	}
	t.Logf("plan: %s", text)
}
