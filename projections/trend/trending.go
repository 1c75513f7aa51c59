package trend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Trending is a movie in the decayed ranking of one window.
type Trending struct {
	Movie
	Window Window `json:"window"`
	// TrendScore = Attention × WeightedRating / 10: recent attention,
	// scaled by how good the movie is, damped by how few votes it has.
	TrendScore     float64 `json:"trend_score"`
	Attention      float64 `json:"attention"`
	WeightedRating float64 `json:"weighted_rating"`
	Views          Windows `json:"views"`
}

// Windows are a movie's views in recent time windows (from its buckets:
// the hour and the day are counted in whole minutes, the week in whole
// hours, so a window may include up to one extra minute or hour).
type Windows struct {
	LastHour int64 `json:"last_hour"`
	Last24h  int64 `json:"last_24_hours"`
	Last7d   int64 `json:"last_7_days"`
}

// Ranker answers the decayed ranking.
type Ranker struct {
	reader Reader
	params Params

	mu       sync.Mutex
	mean     float64 // C
	maxVote  float64 // the highest vote_average: bounds every WR
	meanRead time.Time
}

// NewRanker ranks the live table.
func NewRanker(pool *pgxpool.Pool, params Params) *Ranker {
	return &Ranker{reader: NewReader(pool), params: params}
}

// votes returns C, the mean vote_average of the movies with TMDB facts,
// and the highest vote_average, cached for a few seconds (they move only
// when facts arrive).
func (r *Ranker) votes(ctx context.Context, now time.Time) (mean, highest float64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := now.Sub(r.meanRead); d < 5*time.Second && d >= 0 && !r.meanRead.IsZero() {
		return r.mean, r.maxVote, nil
	}
	err = r.reader.q.QueryRow(ctx, `SELECT coalesce(avg(external_score), 0), coalesce(max(external_score), 0)
		FROM `+r.reader.table+` WHERE status = 'active'`).Scan(&mean, &highest)
	if err != nil {
		return 0, 0, fmt.Errorf("mean vote: %w", err)
	}
	r.mean, r.maxVote, r.meanRead = mean, highest, now
	return mean, highest, nil
}

func (r *Ranker) rate(m Movie, s float64, w Window, c float64, now time.Time) Trending {
	var vote, votes float64
	if m.ExternalScore != nil {
		vote = *m.ExternalScore
	}
	if m.VoteCount != nil {
		votes = float64(*m.VoteCount)
	}
	wr := c
	if m.ExternalScore != nil {
		wr = WeightedRating(vote, votes, r.params.MinVotes, c)
	}
	a := Attention(s, r.params.HalfLife(w), now)
	// Capped as the attention is: near the largest float, × WR overflows.
	return Trending{Movie: m, Window: w, Attention: a, WeightedRating: wr, TrendScore: min(a*wr/10, math.MaxFloat64)}
}

func attentionColumn(w Window) string {
	if w == Week {
		return "attention_week"
	}
	return "attention_day"
}

// Trending returns the movies ranked by trend score in window w (ties by
// attention, then tmdb_id), and how many movies are ranked. A weighted
// rating lies between a movie's own vote and C, so it is at most
// max(highest vote, C), and a movie's score is at most its attention times
// that over 10: the index on attention is read in pages until the next
// attention cannot beat the last score kept (a threshold algorithm), so
// the top N of any number of movies costs a few index pages, not a scan.
func (r *Ranker) Trending(ctx context.Context, w Window, limit, offset int, now time.Time) (out []Trending, total int64, err error) {
	c, highest, err := r.votes(ctx, now)
	if err != nil {
		return nil, 0, err
	}
	// In one snapshot: read page by page as views came in, a movie whose
	// attention rose above the pages already read was in none of them.
	err = r.reader.inSnapshot(ctx, func(rd Reader) error {
		out, total, err = r.trending(ctx, rd, w, limit, offset, now, c, highest)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func (r *Ranker) trending(ctx context.Context, rd Reader, w Window, limit, offset int, now time.Time, c, highest float64) ([]Trending, int64, error) {
	// The bound must never be too low: highest is cached for a few seconds,
	// and facts arriving meanwhile may bring a higher vote, which would end
	// the reading before a movie that belongs in the top. TMDB's votes are
	// at most 10, so 10 bounds them whatever the cache says (and C, a mean
	// of votes, is at most the highest).
	maxFactor := max(highest, 10) / 10
	need := offset + limit
	col := attentionColumn(w)
	page := max(2*need, 100)
	var kept []Trending
	lastKey, lastID := math.Inf(1), int64(-1)
	for {
		rows, err := rd.q.Query(ctx, `SELECT `+columns+`, `+col+` FROM `+rd.table+`
			WHERE status <> 'removed' AND `+col+` <= $1 AND (`+col+` < $1 OR tmdb_id > $2)
			ORDER BY `+col+` DESC, tmdb_id LIMIT $3`, lastKey, lastID, page)
		if err != nil {
			return nil, 0, fmt.Errorf("trending: %w", err)
		}
		type keyed struct {
			m Movie
			s float64
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (keyed, error) {
			var k keyed
			m, err := scanMovieWith(row, &k.s)
			k.m = m
			return k, err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("trending: %w", err)
		}
		for _, k := range got {
			kept = append(kept, r.rate(k.m, k.s, w, c, now))
		}
		sortTrending(kept)
		kept = kept[:min(len(kept), need)]
		if len(got) < page {
			break
		}
		last := got[len(got)-1]
		lastKey, lastID = last.s, last.m.TMDBID
		// Every later movie has at most the attention of the last one read,
		// and loses a tie on score to it: stop once it cannot enter the top.
		bound := Attention(last.s, r.params.HalfLife(w), now) * maxFactor
		if len(kept) >= need && bound <= kept[need-1].TrendScore {
			break
		}
	}
	total, err := rd.count(ctx)
	if err != nil {
		return nil, 0, err
	}
	if offset >= len(kept) {
		return []Trending{}, total, nil
	}
	out := kept[offset:min(need, len(kept))]
	if err := rd.fillWindows(ctx, out, now); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func sortTrending(ts []Trending) {
	slices.SortStableFunc(ts, func(a, b Trending) int {
		if c := cmp.Compare(b.TrendScore, a.TrendScore); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Attention, a.Attention); c != 0 {
			return c
		}
		return cmp.Compare(a.TMDBID, b.TMDBID)
	})
}

// fillWindows reads the view windows of the movies in ts.
func (r Reader) fillWindows(ctx context.Context, ts []Trending, now time.Time) error {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.TMDBID
	}
	ws, err := r.windows(ctx, ids, now)
	if err != nil {
		return err
	}
	for i := range ts {
		ts[i].Views = ws[ts[i].TMDBID]
	}
	return nil
}

// windows has no upper bound: a view dated a little ahead (the API takes
// a client's clock up to 5 minutes fast) counts at once in every window,
// as it does in the total and the score, not only once its minute comes.
func (r Reader) windows(ctx context.Context, ids []int64, now time.Time) (map[int64]Windows, error) {
	rows, err := r.q.Query(ctx, `
		SELECT tmdb_id,
			coalesce(sum(views) FILTER (WHERE resolution = 'minute' AND bucket > $2::timestamptz - interval '1 hour' - interval '1 minute'), 0),
			coalesce(sum(views) FILTER (WHERE resolution = 'minute' AND bucket > $2::timestamptz - interval '24 hours' - interval '1 minute'), 0),
			coalesce(sum(views) FILTER (WHERE resolution = 'hour' AND bucket > $2::timestamptz - interval '7 days' - interval '1 hour'), 0)
		FROM `+r.buckets()+`
		WHERE tmdb_id = ANY($1) AND bucket > $2::timestamptz - interval '7 days' - interval '1 hour'
		GROUP BY tmdb_id`, ids, now)
	if err != nil {
		return nil, fmt.Errorf("view windows: %w", err)
	}
	out := map[int64]Windows{}
	for rows.Next() {
		var id int64
		var w Windows
		if err := rows.Scan(&id, &w.LastHour, &w.Last24h, &w.Last7d); err != nil {
			return nil, err
		}
		out[id] = w
	}
	return out, rows.Err()
}

func (r Reader) buckets() string {
	return pgx.Identifier{LiveTable + "_buckets"}.Sanitize()
}

// Point is the views of one time bucket.
type Point struct {
	At    time.Time `json:"at"`
	Views int64     `json:"views"`
}

// Breakdown explains both scores of one movie term by term.
type Breakdown struct {
	TMDBID  int64              `json:"tmdb_id"`
	Title   *string            `json:"title"`
	Classic ClassicTerms       `json:"classic"`
	Trend   map[Window]Decayed `json:"trending"`
	Views   Windows            `json:"views"`
	// History is the views per hour over the last 7 days (per minute over
	// the last 48 hours with resolution=minute), oldest first, with empty
	// buckets included so that charts get an even time axis.
	HistoryResolution string  `json:"history_resolution"`
	History           []Point `json:"history"`
}

// ClassicTerms are the terms of final_trend_score.
type ClassicTerms struct {
	VoteAverage     float64 `json:"vote_average"`
	VoteTerm        float64 `json:"vote_term"` // vote_average × 0.7
	Views           int64   `json:"views"`
	ViewsNormalized float64 `json:"views_normalized"` // min(views/100, 1) × 10
	ViewsTerm       float64 `json:"views_term"`       // views_normalized × 0.3
	FinalTrendScore float64 `json:"final_trend_score"`
}

// Decayed are the terms of trend_score in one window.
type Decayed struct {
	HalfLifeHours float64 `json:"half_life_hours"`
	Attention     float64 `json:"attention"`
	// WeightedRating = v/(v+m)·R + m/(v+m)·C.
	R              float64 `json:"r"`
	V              float64 `json:"v"`
	M              float64 `json:"m"`
	C              float64 `json:"c"`
	WeightedRating float64 `json:"weighted_rating"`
	TrendScore     float64 `json:"trend_score"`
}

// Explain returns the breakdown of one movie; ErrNotFound if unknown or
// removed.
func (r *Ranker) Explain(ctx context.Context, id int64, resolution string, now time.Time) (Breakdown, error) {
	var day, week float64
	rows, err := r.reader.q.Query(ctx, `SELECT `+columns+`, attention_day, attention_week FROM `+r.reader.table+`
		WHERE tmdb_id = $1 AND status <> 'removed'`, id)
	if err != nil {
		return Breakdown{}, fmt.Errorf("explain movie %d: %w", id, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Movie, error) { return scanMovieWith(row, &day, &week) })
	if errors.Is(err, pgx.ErrNoRows) {
		return Breakdown{}, ErrNotFound
	}
	if err != nil {
		return Breakdown{}, fmt.Errorf("explain movie %d: %w", id, err)
	}
	return r.explain(ctx, m, day, week, resolution, now)
}

// Pending explains a movie the projection does not have yet (registered a
// moment ago) as Explain will once it has it with no views and no TMDB
// facts: both scores 0, the same terms.
func (r *Ranker) Pending(ctx context.Context, id int64, resolution string, now time.Time) (Breakdown, error) {
	// -Inf is the stored attention of a movie without views.
	return r.explain(ctx, Movie{TMDBID: id}, math.Inf(-1), math.Inf(-1), resolution, now)
}

// explain builds m's breakdown from its row and stored attentions.
func (r *Ranker) explain(ctx context.Context, m Movie, day, week float64, resolution string, now time.Time) (Breakdown, error) {
	id := m.TMDBID
	c, _, err := r.votes(ctx, now)
	if err != nil {
		return Breakdown{}, err
	}
	b := Breakdown{TMDBID: m.TMDBID, Title: m.Title, Trend: map[Window]Decayed{}}
	vote := 0.0
	if m.ExternalScore != nil {
		vote = *m.ExternalScore
	}
	n := math.Min(float64(m.InternalViewsCount)/100, 1) * 10
	b.Classic = ClassicTerms{VoteAverage: vote, VoteTerm: vote * 0.7, Views: m.InternalViewsCount, ViewsNormalized: n, ViewsTerm: n * 0.3, FinalTrendScore: m.FinalTrendScore}
	for w, s := range map[Window]float64{Day: day, Week: week} {
		t := r.rate(m, s, w, c, now)
		d := Decayed{HalfLifeHours: r.params.HalfLife(w).Hours(), Attention: t.Attention, R: vote, M: r.params.MinVotes, C: c, WeightedRating: t.WeightedRating, TrendScore: t.TrendScore}
		if m.VoteCount != nil {
			d.V = float64(*m.VoteCount)
		}
		b.Trend[w] = d
	}
	ws, err := r.reader.windows(ctx, []int64{id}, now)
	if err != nil {
		return Breakdown{}, err
	}
	b.Views = ws[id]
	b.HistoryResolution, b.History, err = r.reader.history(ctx, id, resolution, now)
	return b, err
}

func (r Reader) history(ctx context.Context, id int64, resolution string, now time.Time) (string, []Point, error) {
	step, span := time.Hour, 7*24*time.Hour
	if resolution == "minute" {
		step, span = time.Minute, 48*time.Hour
	} else {
		resolution = "hour"
	}
	end := now.UTC().Truncate(step)
	start := end.Add(-span + step)
	rows, err := r.q.Query(ctx, `SELECT bucket, views FROM `+r.buckets()+`
		WHERE tmdb_id = $1 AND resolution = $2 AND bucket >= $3 AND bucket <= $4 ORDER BY bucket`, id, resolution, start, end)
	if err != nil {
		return "", nil, fmt.Errorf("view history: %w", err)
	}
	got := map[time.Time]int64{}
	for rows.Next() {
		var at time.Time
		var n int64
		if err := rows.Scan(&at, &n); err != nil {
			return "", nil, err
		}
		got[at.UTC()] = n
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	points := make([]Point, 0, int(span/step))
	for at := start; !at.After(end); at = at.Add(step) {
		points = append(points, Point{At: at, Views: got[at]})
	}
	return resolution, points, nil
}
