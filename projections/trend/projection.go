package trend

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movietrend/trend/events"
)

// LiveTable is the table the API reads.
const LiveTable = "trend_movies"

// HandlerName names the projection's event handler group (and its queue).
const HandlerName = "trend-projection"

// DB is what Apply needs: a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Projection folds events into the tables of the trend projection: the
// movies table and its time buckets (<table>_buckets). The table is a
// parameter so that a replay can build a shadow copy.
type Projection struct {
	table   string // quoted identifiers
	buckets string
	params  Params
}

// New returns the projection writing to table (and table_buckets).
func New(table string, params Params) Projection {
	return Projection{
		table:   pgx.Identifier{table}.Sanitize(),
		buckets: pgx.Identifier{table + "_buckets"}.Sanitize(),
		params:  params,
	}
}

// Bucket resolutions and how long each is kept, measured back from the
// newest view applied (not the wall clock, so a replay prunes the same).
const (
	minuteRetention = 48 * time.Hour
	hourRetention   = 31 * 24 * time.Hour
)

type viewAgg struct {
	n       int64
	at      time.Time
	pos     int64
	day     float64 // LogAddExp of the views' day weights
	week    float64
	perMin  map[time.Time]int64
	perHour map[time.Time]int64
}

func newViewAgg() *viewAgg {
	return &viewAgg{day: math.Inf(-1), week: math.Inf(-1), perMin: map[time.Time]int64{}, perHour: map[time.Time]int64{}}
}

func (a *viewAgg) add(v *events.ViewRecorded, pos int64, p Params) {
	a.n++
	a.at = later(a.at, v.ViewedAt)
	a.pos = max(a.pos, pos)
	a.day = LogAddExp(a.day, LogViewWeight(v.ViewedAt, p.DayHalfLife))
	a.week = LogAddExp(a.week, LogViewWeight(v.ViewedAt, p.WeekHalfLife))
	a.perMin[v.ViewedAt.UTC().Truncate(time.Minute)]++
	a.perHour[v.ViewedAt.UTC().Truncate(time.Hour)]++
}

// Apply folds evs, in log order, into the table. Views are summed per
// movie first, so a batch of a thousand views costs two statements, not a
// thousand; a view total is flushed before any other event of the same
// movie so that order is kept where it matters (removal, re-registration).
// Everything it writes comes from the events, never from the wall clock,
// so a replay reproduces it exactly.
func (p Projection) Apply(ctx context.Context, db DB, evs []events.Envelope) error {
	pending := map[int64]*viewAgg{}
	for _, env := range evs {
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		if v, ok := ev.(*events.ViewRecorded); ok {
			a := pending[v.TMDBID]
			if a == nil {
				a = newViewAgg()
				pending[v.TMDBID] = a
			}
			a.add(v, env.Position, p.params)
			continue
		}
		if a, ok := pending[env.TMDBID]; ok {
			if err := p.addViews(ctx, db, map[int64]*viewAgg{env.TMDBID: a}); err != nil {
				return err
			}
			delete(pending, env.TMDBID)
		}
		if err := p.applyOne(ctx, db, env.Position, ev); err != nil {
			return fmt.Errorf("apply %s of movie %d: %w", env.Type, env.TMDBID, err)
		}
	}
	return p.addViews(ctx, db, pending)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (p Projection) applyOne(ctx context.Context, db DB, pos int64, ev events.Event) error {
	switch e := ev.(type) {
	case *events.MovieRegistered:
		// A movie registered again after TMDB removed it starts afresh.
		_, err := db.Exec(ctx, `DELETE FROM `+p.buckets+` b USING `+p.table+` t
			WHERE b.tmdb_id = $1 AND t.tmdb_id = $1 AND t.status = 'removed'`, e.TMDBID)
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, registered_at, last_updated_at, last_position)
			VALUES ($1, 'pending', $2, $2, $3)
			ON CONFLICT (tmdb_id) DO UPDATE SET
				status = CASE WHEN t.status = 'removed' THEN 'pending' ELSE t.status END,
				internal_views_count = CASE WHEN t.status = 'removed' THEN 0 ELSE t.internal_views_count END,
				final_trend_score = CASE WHEN t.status = 'removed' THEN 0 ELSE t.final_trend_score END,
				attention_day = CASE WHEN t.status = 'removed' THEN '-Infinity' ELSE t.attention_day END,
				attention_week = CASE WHEN t.status = 'removed' THEN '-Infinity' ELSE t.attention_week END,
				registered_at = excluded.registered_at,
				last_updated_at = greatest(t.last_updated_at, excluded.last_updated_at),
				last_position = greatest(t.last_position, excluded.last_position)`,
			e.TMDBID, e.RegisteredAt, pos)
		return err
	case *events.MovieDetailsFetched:
		genres, err := json.Marshal(nonNil(e.Genres))
		if err != nil {
			return err
		}
		var views int64
		err = db.QueryRow(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, title, external_score, vote_count, popularity,
				release_date, poster_path, genres, facts_fetched_at, last_updated_at, last_position, facts_position)
			VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10)
			ON CONFLICT (tmdb_id) DO UPDATE SET
				status = 'active', title = $2, external_score = $3, vote_count = $4, popularity = $5,
				release_date = $6, poster_path = $7, genres = $8, facts_fetched_at = $9,
				last_updated_at = greatest(t.last_updated_at, $9),
				last_position = greatest(t.last_position, $10), facts_position = $10
			WHERE t.status <> 'removed' AND t.facts_position < $10
			RETURNING internal_views_count`,
			e.TMDBID, e.Title, e.VoteAverage, e.VoteCount, e.Popularity, nullIfEmpty(e.ReleaseDate),
			e.PosterPath, genres, e.FetchedAt, pos).Scan(&views)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // removed meanwhile, or newer facts are shown already
		}
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, `UPDATE `+p.table+` SET final_trend_score = $2 WHERE tmdb_id = $1`,
			e.TMDBID, Score(e.VoteAverage, views))
		return err
	case *events.MovieRemoved:
		_, err := db.Exec(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, last_updated_at, last_position) VALUES ($1, 'removed', $2, $3)
			ON CONFLICT (tmdb_id) DO UPDATE SET status = 'removed',
				last_updated_at = greatest(t.last_updated_at, $2), last_position = greatest(t.last_position, $3)`,
			e.TMDBID, e.RemovedAt, pos)
		return err
	case *events.MovieRefreshRequested:
		return nil // the facts it leads to arrive as MovieDetailsFetched
	default:
		return fmt.Errorf("the trend projection does not know %T", ev)
	}
}

// addViews adds per-movie view totals, decayed attention and time buckets,
// and recomputes those movies' scores: an upsert that returns the new
// totals, one update of the scores, one upsert of the buckets, one prune.
func (p Projection) addViews(ctx context.Context, db DB, aggs map[int64]*viewAgg) error {
	if len(aggs) == 0 {
		return nil
	}
	// Rows are locked in id order so that concurrent batches cannot deadlock.
	ids := make([]int64, 0, len(aggs))
	for id := range aggs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := len(ids)
	ns, ats, poss, days, weeks := make([]int64, n), make([]time.Time, n), make([]int64, n), make([]float64, n), make([]float64, n)
	for i, id := range ids {
		a := aggs[id]
		ns[i], ats[i], poss[i], days[i], weeks[i] = a.n, a.at, a.pos, a.day, a.week
	}
	// Views of a movie not yet in the projection (its registration is still
	// on its way) create a pending row; views of a removed movie are dropped.
	rows, err := db.Query(ctx, `
		INSERT INTO `+p.table+` AS t (tmdb_id, status, internal_views_count, last_updated_at, last_position, attention_day, attention_week)
		SELECT d.id, 'pending', d.n, d.at, d.pos, d.day, d.week
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::float8[], $6::float8[]) AS d(id, n, at, pos, day, week)
		ORDER BY d.id
		ON CONFLICT (tmdb_id) DO UPDATE SET
			internal_views_count = t.internal_views_count + excluded.internal_views_count,
			attention_day = trend_logaddexp(t.attention_day, excluded.attention_day),
			attention_week = trend_logaddexp(t.attention_week, excluded.attention_week),
			last_updated_at = greatest(t.last_updated_at, excluded.last_updated_at),
			last_position = greatest(t.last_position, excluded.last_position)
		WHERE t.status <> 'removed'
		RETURNING t.tmdb_id, t.internal_views_count, coalesce(t.external_score, 0)`,
		ids, ns, ats, poss, days, weeks)
	if err != nil {
		return fmt.Errorf("add views: %w", err)
	}
	type total struct {
		id    int64
		views int64
		vote  float64
	}
	totals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (total, error) {
		var t total
		return t, r.Scan(&t.id, &t.views, &t.vote)
	})
	if err != nil {
		return fmt.Errorf("add views: %w", err)
	}
	slices.SortFunc(totals, func(a, b total) int { return cmp.Compare(a.id, b.id) })
	upd, scores := make([]int64, len(totals)), make([]float64, len(totals))
	for i, t := range totals {
		upd[i], scores[i] = t.id, Score(t.vote, t.views)
	}
	_, err = db.Exec(ctx, `
		UPDATE `+p.table+` AS t SET final_trend_score = d.score
		FROM unnest($1::bigint[], $2::float8[]) AS d(id, score) WHERE t.tmdb_id = d.id`, upd, scores)
	if err != nil {
		return fmt.Errorf("update scores: %w", err)
	}
	return p.addBuckets(ctx, db, upd, aggs)
}

// addBuckets counts the views of the movies in ids (those not removed)
// into minute and hour buckets, then prunes the buckets that aged out.
func (p Projection) addBuckets(ctx context.Context, db DB, ids []int64, aggs map[int64]*viewAgg) error {
	var bIDs []int64
	var bRes []string
	var bAt []time.Time
	var bN []int64
	for _, id := range ids {
		a := aggs[id]
		for _, res := range []struct {
			name string
			m    map[time.Time]int64
		}{{"minute", a.perMin}, {"hour", a.perHour}} {
			for at, n := range res.m {
				bIDs, bRes, bAt, bN = append(bIDs, id), append(bRes, res.name), append(bAt, at), append(bN, n)
			}
		}
	}
	if len(bIDs) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `
		INSERT INTO `+p.buckets+` AS b (tmdb_id, resolution, bucket, views)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[])
		ORDER BY 1, 2, 3
		ON CONFLICT (tmdb_id, resolution, bucket) DO UPDATE SET views = b.views + excluded.views`,
		bIDs, bRes, bAt, bN)
	if err != nil {
		return fmt.Errorf("add view buckets: %w", err)
	}
	// One range of the (resolution, bucket) index each: cheap when there
	// is nothing to prune, which is almost always.
	for _, r := range []struct {
		res  string
		keep time.Duration
	}{{"minute", minuteRetention}, {"hour", hourRetention}} {
		_, err = db.Exec(ctx, `
			DELETE FROM `+p.buckets+` WHERE resolution = $1 AND bucket < (
				SELECT max(bucket) FROM `+p.buckets+` WHERE resolution = 'minute') - $2::interval`,
			r.res, r.keep)
		if err != nil {
			return fmt.Errorf("prune view buckets: %w", err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
