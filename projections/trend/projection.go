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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/replay"
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
	// bucketsName is the buckets table's name, unquoted.
	bucketsName string
	params      Params
	// minuteFloor: minute buckets older than this are not written (a
	// replay knows they would be pruned anyway); zero writes all.
	minuteFloor int64
	// deferPrune leaves pruning to one Prune call at the end (replays).
	deferPrune bool
	// bulk, when set, gathers the view buckets in memory, to be written
	// with one COPY by FlushBuckets (replays).
	bulk *bucketBuffer
	// rebuilt, when set, is what a replay's copy holds of the log: a
	// removal it applies late is repaired from that, as the live one is
	// from the batches handled.
	rebuilt *replay.Applied
}

// bucketBuffer is view buckets gathered in memory during a replay, by
// movie, then minute or hour (Unix): a removal forgets one movie's.
type bucketBuffer struct {
	minutes map[int64]map[int64]int64
	hours   map[int64]map[int64]int64
	// flushed: the table has buckets of this buffer already. Until then it
	// is empty (a replay's new table) and the first flush copies straight
	// into it.
	flushed bool
}

func newBucketBuffer() *bucketBuffer {
	return &bucketBuffer{minutes: map[int64]map[int64]int64{}, hours: map[int64]map[int64]int64{}}
}

func (b *bucketBuffer) add(m map[int64]map[int64]int64, movie, at, n int64) {
	byAt := m[movie]
	if byAt == nil {
		byAt = map[int64]int64{}
		m[movie] = byAt
	}
	byAt[at] += n
}

func (b *bucketBuffer) forget(movie int64) {
	delete(b.minutes, movie)
	delete(b.hours, movie)
}

func (b *bucketBuffer) empty() bool { return len(b.minutes)+len(b.hours) == 0 }

func (b *bucketBuffer) reset() {
	b.minutes, b.hours = map[int64]map[int64]int64{}, map[int64]map[int64]int64{}
}

// WithBulkBuckets returns p that gathers view buckets in memory until
// FlushBuckets: a replay writes hundreds of thousands of buckets, and one
// COPY does that many times faster than upserts chunk by chunk. Its prune
// is deferred too.
func (p Projection) WithBulkBuckets() Projection {
	p.bulk = newBucketBuffer()
	p.deferPrune = true
	return p
}

// FlushBuckets writes the gathered buckets (added to any already in the
// table) and empties the buffer. The first flush goes into the replay's
// new, empty table: one COPY, in key order. Later ones (the last events,
// under the switch's lock) are added to what is there: one COPY into a
// temporary table, one INSERT ... ON CONFLICT from it. Prune is left to
// the caller.
func (p Projection) FlushBuckets(ctx context.Context, db interface {
	DB
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}) error {
	if p.bulk == nil || p.bulk.empty() {
		return nil
	}
	var src [][]any
	for _, r := range []struct {
		name string
		unit int64
		m    map[int64]map[int64]int64
	}{{"minute", 60, p.bulk.minutes}, {"hour", 3600, p.bulk.hours}} {
		for movie, byAt := range r.m {
			for at, n := range byAt {
				src = append(src, []any{movie, r.name, time.Unix(at*r.unit, 0).UTC(), n})
			}
		}
	}
	if !p.bulk.flushed {
		// Key order: the primary key's index grows at its right edge.
		slices.SortFunc(src, func(a, b []any) int {
			return cmp.Or(cmp.Compare(a[0].(int64), b[0].(int64)), cmp.Compare(a[1].(string), b[1].(string)),
				a[2].(time.Time).Compare(b[2].(time.Time)))
		})
		if _, err := db.CopyFrom(ctx, pgx.Identifier{p.bucketsName}, []string{"tmdb_id", "resolution", "bucket", "views"}, pgx.CopyFromRows(src)); err != nil {
			return fmt.Errorf("write view buckets: %w", err)
		}
		p.bulk.flushed = true
		p.bulk.reset()
		return nil
	}
	if _, err := db.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS trend_bucket_staging
		(tmdb_id bigint, resolution text, bucket timestamptz, views bigint) ON COMMIT DELETE ROWS`); err != nil {
		return err
	}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"trend_bucket_staging"}, []string{"tmdb_id", "resolution", "bucket", "views"}, pgx.CopyFromRows(src)); err != nil {
		return fmt.Errorf("write view buckets: %w", err)
	}
	_, err := db.Exec(ctx, `
		INSERT INTO `+p.buckets+` AS b (tmdb_id, resolution, bucket, views)
		SELECT * FROM trend_bucket_staging ORDER BY 1, 2, 3
		ON CONFLICT (tmdb_id, resolution, bucket) DO UPDATE SET views = b.views + excluded.views`)
	if err != nil {
		return fmt.Errorf("write view buckets: %w", err)
	}
	if _, err := db.Exec(ctx, `TRUNCATE trend_bucket_staging`); err != nil {
		return err
	}
	p.bulk.reset()
	return nil
}

// New returns the projection writing to table (and table_buckets).
func New(table string, params Params) Projection {
	return Projection{
		table:   pgx.Identifier{table}.Sanitize(),
		buckets: pgx.Identifier{table + "_buckets"}.Sanitize(),
		// For COPY, which quotes it itself.
		bucketsName: table + "_buckets",
		params:      params,
	}
}

// WithMinuteFloor returns p that skips minute buckets before floor, and
// hour buckets before the matching hour retention. Only a replay uses it,
// with a floor no later than where pruning will end: it saves writing
// buckets that the prune would delete.
func (p Projection) WithMinuteFloor(floor time.Time) Projection {
	p.minuteFloor = floorDiv(floor.Unix(), 60)
	return p
}

// WithDeferredPrune returns p that does not prune after each batch; the
// caller calls Prune once at the end (a replay, which writes many batches
// in a row).
func (p Projection) WithDeferredPrune() Projection {
	p.deferPrune = true
	return p
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
	perMin  map[int64]int64 // Unix minute -> views
	perHour map[int64]int64 // Unix hour -> views
}

func newViewAgg() *viewAgg {
	return &viewAgg{day: math.Inf(-1), week: math.Inf(-1), perMin: map[int64]int64{}, perHour: map[int64]int64{}}
}

func (a *viewAgg) add(viewedAt time.Time, pos int64, p Params) {
	a.n++
	a.at = later(a.at, viewedAt)
	a.pos = max(a.pos, pos)
	a.day = LogAddExp(a.day, LogViewWeight(viewedAt, p.DayHalfLife))
	a.week = LogAddExp(a.week, LogViewWeight(viewedAt, p.WeekHalfLife))
	unix := viewedAt.Unix()
	a.perMin[floorDiv(unix, 60)]++
	a.perHour[floorDiv(unix, 3600)]++
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Apply folds evs, in log order, into the table. Views are summed per
// movie first, so a batch of a thousand views costs two statements, not a
// thousand; a view total is flushed before any other event of the same
// movie so that order is kept where it matters (removal, re-registration).
// Everything it writes comes from the events, never from the wall clock,
// so a replay reproduces it exactly.
func (p Projection) Apply(ctx context.Context, db DB, evs []events.Envelope) error {
	removedAt, err := p.removals(ctx, db, evs)
	if err != nil {
		return err
	}
	pending := map[int64]*viewAgg{}
	for i, env := range evs {
		// A ViewRecorded (version 1) is all in its envelope: the movie, and
		// occurred_at, which is viewed_at. Folding it without decoding its
		// JSON is what makes a replay of millions of views fast.
		if env.Type == events.TypeViewRecorded && env.Version == 1 {
			if env.Position < removedAt[env.TMDBID] {
				continue // logged before the movie's removal
			}
			a := pending[env.TMDBID]
			if a == nil {
				a = newViewAgg()
				pending[env.TMDBID] = a
			}
			a.add(env.OccurredAt, env.Position, p.params)
			continue
		}
		ev, err := env.Decode()
		if err != nil {
			return err
		}
		if a, ok := pending[env.TMDBID]; ok {
			if err := p.addViews(ctx, db, map[int64]*viewAgg{env.TMDBID: a}); err != nil {
				return err
			}
			delete(pending, env.TMDBID)
		}
		var late int64 // the row's newest event, if logged after this removal
		if env.Type == events.TypeMovieRemoved && (p.table == liveTable || p.rebuilt != nil) {
			if err := p.lockForWriting(ctx, db); err != nil {
				return err
			}
			if late, err = p.appliedAfter(ctx, db, env.TMDBID, env.Position); err != nil {
				return err
			}
		}
		if err := p.applyOne(ctx, db, env.Position, ev); err != nil {
			return fmt.Errorf("apply %s of movie %d: %w", env.Type, env.TMDBID, err)
		}
		if env.Type == events.TypeMovieRemoved {
			removedAt[env.TMDBID] = max(removedAt[env.TMDBID], env.Position)
		}
		if late > 0 {
			if err := p.reapply(ctx, db, env.TMDBID, env.Position, late, evs[:i], evs[i+1:]); err != nil {
				return fmt.Errorf("apply again what movie %d logged after its removal: %w", env.TMDBID, err)
			}
		}
	}
	return p.addViews(ctx, db, pending)
}

// lockForWriting takes the lock the writes take anyway, for a
// transaction about to read the table before it writes: one that held the
// table for reading while it waited to write deadlocked with a replay's
// switch (which locks the table against writes, then renames it), and the
// replay lost its rebuild. Taken again in one transaction, it costs no wait.
func (p Projection) lockForWriting(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, `LOCK TABLE `+p.table+` IN ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock %s: %w", p.table, err)
	}
	return nil
}

// liveTable is LiveTable as Projection keeps it.
var liveTable = pgx.Identifier{LiveTable}.Sanitize()

// appliedAfter returns the position of the newest event movie's row holds
// if it was logged after pos, else 0. Live, batches are applied in the
// order they are delivered (several subscriptions, a group retried message
// by message), so a removal can come after a registration that followed
// it, its views and its facts.
func (p Projection) appliedAfter(ctx context.Context, db DB, movie, pos int64) (last int64, err error) {
	err = db.QueryRow(ctx, `SELECT coalesce((SELECT last_position FROM `+p.table+` WHERE tmdb_id = $1), 0)`, movie).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("read movie %d: %w", movie, err)
	}
	if last <= pos {
		return 0, nil
	}
	return last, nil
}

// reapply applies again, in log order, what movie logged after its
// removal at pos and the table had applied before the removal wiped it,
// but for those of after (the events Apply takes after the removal, which
// it applies anyway): the row ends as if the removal had come first, as
// the log has it. The live table holds the events of the batches the
// projection handled, before (the events Apply took before the removal)
// among them, since it takes them in log order. A replay's copy holds
// what p.rebuilt says, and before, which it takes in transaction order.
// Rare (a removal and a new registration within the projection's lag),
// and it reads the log from pos to last (the row's newest event), which
// has no index by movie.
func (p Projection) reapply(ctx context.Context, db DB, movie, pos, last int64, before, after []events.Envelope) error {
	// Not nil: pgx sends nil as NULL, and "<> ALL (NULL)" is never true.
	earlier, rest := positionsAfter(before, movie, pos), positionsAfter(after, movie, pos)
	// The row now holds nothing logged after the removal.
	if _, err := db.Exec(ctx, `UPDATE `+p.table+` SET last_position = $2 WHERE tmdb_id = $1`, movie, pos); err != nil {
		return err
	}
	// Which of the movie's later events the table holds.
	holds := `EXISTS (SELECT 1 FROM handled_messages h WHERE h.handler = $5 AND h.message_id = e.batch_id)`
	args := []any{movie, pos, rest, last, HandlerName}
	if a := p.rebuilt; a != nil {
		// Handled too: the final round reads past running transactions,
		// so one that commits meanwhile can hold events at or before the
		// copy's cursor that it never read (their batch unhandled yet).
		holds = `((e.transaction_id, e.position) <= ($5::text::xid8, $6)
		       AND (e.batch_id IS NULL OR (e.batch_id <> ALL($7::uuid[])
		            AND EXISTS (SELECT 1 FROM handled_messages h WHERE h.handler = $9 AND h.message_id = e.batch_id))))
		  OR e.position = ANY($8::bigint[])`
		through, held := cmp.Or(a.ThroughX, "0"), []uuid.UUID{}
		if a.Held != nil {
			held = a.Held()
		}
		args = []any{movie, pos, rest, last, through, a.ThroughP, postgres.UUIDs(held), earlier, HandlerName}
	}
	rows, err := db.Query(ctx, `SELECT `+eventlog.EnvelopeColumns+` FROM events e
		WHERE e.position > $2 AND e.position <= $4 AND e.tmdb_id = $1 AND e.position <> ALL($3::bigint[])
		  AND (`+holds+`)
		ORDER BY e.position`, args...)
	if err != nil {
		return err
	}
	later, err := pgx.CollectRows(rows, eventlog.ScanEnvelope)
	if err != nil || len(later) == 0 {
		return err
	}
	return p.Apply(ctx, db, later)
}

// positionsAfter returns the positions of the events of movie in evs
// logged after pos (never nil).
func positionsAfter(evs []events.Envelope, movie, pos int64) []int64 {
	out := []int64{}
	for _, e := range evs {
		if e.TMDBID == movie && e.Position > pos {
			out = append(out, e.Position)
		}
	}
	return out
}

// removals returns the log position of the latest removal of each movie
// that evs has views of and that was ever removed. Views logged before a
// movie's removal belong to the registration TMDB removed, and never
// count after it, whatever order they arrive in: live, a view in flight
// while TMDB removed the movie, or a batch redelivered, comes after the
// removal; a replay reads the log by transaction, and a transaction's
// views can be logged before a removal that an earlier transaction
// wrote. Each id is looked up in the primary key (see registry's
// trackedAmong for why not = ANY).
func (p Projection) removals(ctx context.Context, db DB, evs []events.Envelope) (map[int64]int64, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, env := range evs {
		if env.Type == events.TypeViewRecorded && !seen[env.TMDBID] {
			seen[env.TMDBID] = true
			ids = append(ids, env.TMDBID)
		}
	}
	removedAt := map[int64]int64{}
	if len(ids) == 0 {
		return removedAt, nil
	}
	if err := p.lockForWriting(ctx, db); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `
		SELECT x.id, coalesce((SELECT t.removed_position FROM `+p.table+` t WHERE t.tmdb_id = x.id), 0)
		FROM unnest($1::bigint[]) AS x(id)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read removals: %w", err)
	}
	var id, at int64
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		if at > 0 {
			removedAt[id] = at
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read removals: %w", err)
	}
	return removedAt, nil
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
		// A movie registered again after TMDB removed it keeps what its
		// row counted since the removal: the views of the new registration,
		// which can reach the log before this event does (they travel on
		// another queue), and the facts fetched for it, which can be
		// applied before this event (its batch retried meanwhile): then it
		// is active at once. A registration logged before the removal, come
		// late, leaves the movie removed.
		_, err := db.Exec(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, registered_at, last_updated_at, last_position)
			VALUES ($1, 'pending', $2, $2, $3)
			ON CONFLICT (tmdb_id) DO UPDATE SET
				status = CASE WHEN t.status = 'removed' AND $3 > t.removed_position
				              THEN CASE WHEN t.facts_position > t.removed_position THEN 'active' ELSE 'pending' END
				              ELSE t.status END,
				registered_at = CASE WHEN $3 > t.removed_position THEN excluded.registered_at ELSE t.registered_at END,
				last_updated_at = greatest(t.last_updated_at, excluded.last_updated_at),
				last_position = greatest(t.last_position, excluded.last_position),
				change_seq = nextval('trend_change_seq')`,
			e.TMDBID, e.RegisteredAt, pos)
		return err
	case *events.MovieDetailsFetched:
		genres, err := json.Marshal(nonNil(e.Genres))
		if err != nil {
			return err
		}
		// Facts logged after a removal belong to a registration that
		// followed it, even if that registration is applied later: they are
		// kept, and the movie stays removed until it is.
		var views int64
		err = db.QueryRow(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, title, external_score, vote_count, popularity,
				release_date, poster_path, genres, facts_fetched_at, last_updated_at, last_position, facts_position)
			VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10)
			ON CONFLICT (tmdb_id) DO UPDATE SET
				status = CASE WHEN t.status = 'removed' THEN 'removed' ELSE 'active' END, title = $2, external_score = $3, vote_count = $4, popularity = $5,
				release_date = $6, poster_path = $7, genres = $8, facts_fetched_at = $9,
				last_updated_at = greatest(t.last_updated_at, $9),
				last_position = greatest(t.last_position, $10), facts_position = $10,
				change_seq = nextval('trend_change_seq')
			WHERE t.facts_position < $10 AND $10 > t.removed_position
			RETURNING internal_views_count`,
			e.TMDBID, e.Title, e.VoteAverage, e.VoteCount, e.Popularity, nullIfEmpty(e.ReleaseDate),
			e.PosterPath, genres, e.FetchedAt, pos).Scan(&views)
		if errors.Is(err, pgx.ErrNoRows) {
			// Removed meanwhile, or newer facts are shown already. Facts
			// logged after the removal but applied after newer ones still
			// count in last_updated_at, as when they come in log order (a
			// replay): the later fetch may carry the earlier position.
			_, err = db.Exec(ctx, `UPDATE `+p.table+` SET last_updated_at = $2, change_seq = nextval('trend_change_seq')
				WHERE tmdb_id = $1 AND $3 > removed_position AND last_updated_at < $2`, e.TMDBID, e.FetchedAt, pos)
			return err
		}
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, `UPDATE `+p.table+` SET final_trend_score = $2 WHERE tmdb_id = $1`,
			e.TMDBID, Score(e.VoteAverage, views))
		return err
	case *events.MovieRemoved:
		// A removed movie is no longer shown, and what it counted, its
		// facts and its registration's time go with it (a registration
		// logged before the removal and applied after it leaves none
		// either): a registration after the removal starts from
		// the views logged after it (removed_position keeps out the views
		// logged before it, whenever they arrive), and from new facts. Its
		// row is locked (the upsert) before its buckets are touched: every
		// writer takes the movies, then the buckets, and so does a
		// replay's switch (the other order deadlocked with it).
		_, err := db.Exec(ctx, `
			INSERT INTO `+p.table+` AS t (tmdb_id, status, last_updated_at, last_position, removed_position)
			VALUES ($1, 'removed', $2, $3, $3)
			ON CONFLICT (tmdb_id) DO UPDATE SET status = 'removed',
				internal_views_count = 0, final_trend_score = 0,
				attention_day = '-Infinity', attention_week = '-Infinity',
				title = NULL, external_score = NULL, vote_count = NULL, popularity = NULL,
				release_date = NULL, poster_path = NULL, genres = '[]', facts_fetched_at = NULL, facts_position = 0,
				registered_at = NULL,
				last_updated_at = greatest(t.last_updated_at, $2), last_position = greatest(t.last_position, $3),
				removed_position = greatest(t.removed_position, $3),
				change_seq = nextval('trend_change_seq')`,
			e.TMDBID, e.RemovedAt, pos)
		if err != nil {
			return err
		}
		if _, err := db.Exec(ctx, `DELETE FROM `+p.buckets+` WHERE tmdb_id = $1`, e.TMDBID); err != nil {
			return err
		}
		if p.bulk != nil {
			p.bulk.forget(e.TMDBID)
		}
		return nil
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
	// on its way) create a pending row. Views of a removed movie logged
	// after its removal count on its hidden row, from zero: they are a new
	// registration's, logged before its MovieRegistered, which keeps them.
	// Apply left out the views logged before the removal (one writer at a
	// time: no removal can commit between its read and this upsert).
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
			last_position = greatest(t.last_position, excluded.last_position),
			change_seq = nextval('trend_change_seq')
		RETURNING t.tmdb_id, t.internal_views_count, coalesce(t.external_score, 0), t.final_trend_score`,
		ids, ns, ats, poss, days, weeks)
	if err != nil {
		return fmt.Errorf("add views: %w", err)
	}
	type total struct {
		id    int64
		views int64
		vote  float64
		score float64
	}
	totals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (total, error) {
		var t total
		return t, r.Scan(&t.id, &t.views, &t.vote, &t.score)
	})
	if err != nil {
		return fmt.Errorf("add views: %w", err)
	}
	slices.SortFunc(totals, func(a, b total) int { return cmp.Compare(a.id, b.id) })
	counted := make([]int64, len(totals))
	var upd []int64
	var scores []float64
	for i, t := range totals {
		counted[i] = t.id
		// Views move the score only until a movie has 100 of them: past
		// that, most batches change no score, and rewriting the row (a
		// second non-HOT update, five index entries) would be wasted.
		if s := Score(t.vote, t.views); s != t.score {
			upd, scores = append(upd, t.id), append(scores, s)
		}
	}
	if len(upd) > 0 {
		_, err = db.Exec(ctx, `
			UPDATE `+p.table+` AS t SET final_trend_score = d.score
			FROM unnest($1::bigint[], $2::float8[]) AS d(id, score) WHERE t.tmdb_id = d.id`, upd, scores)
		if err != nil {
			return fmt.Errorf("update scores: %w", err)
		}
	}
	return p.addBuckets(ctx, db, counted, aggs)
}

// addBuckets counts the views of the movies in ids into minute and hour
// buckets, then prunes the buckets that aged out.
func (p Projection) addBuckets(ctx context.Context, db DB, ids []int64, aggs map[int64]*viewAgg) error {
	hourFloor := floorDiv(p.minuteFloor*60-int64((hourRetention-minuteRetention).Seconds()), 3600)
	for _, res := range []struct {
		name  string
		unit  int64
		floor int64
		of    func(*viewAgg) map[int64]int64
	}{
		{"minute", 60, p.minuteFloor, func(a *viewAgg) map[int64]int64 { return a.perMin }},
		{"hour", 3600, hourFloor, func(a *viewAgg) map[int64]int64 { return a.perHour }},
	} {
		var bIDs, bAt, bN []int64
		for _, id := range ids {
			for at, n := range res.of(aggs[id]) {
				if p.minuteFloor != 0 && at < res.floor {
					continue
				}
				if p.bulk != nil {
					m := p.bulk.hours
					if res.unit == 60 {
						m = p.bulk.minutes
					}
					p.bulk.add(m, id, at, n)
					continue
				}
				bIDs, bAt, bN = append(bIDs, id), append(bAt, at*res.unit), append(bN, n)
			}
		}
		if len(bIDs) == 0 {
			continue
		}
		_, err := db.Exec(ctx, `
			INSERT INTO `+p.buckets+` AS b (tmdb_id, resolution, bucket, views)
			SELECT d.id, $1, to_timestamp(d.at), d.n FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS d(id, at, n)
			ORDER BY 1, 3
			ON CONFLICT (tmdb_id, resolution, bucket) DO UPDATE SET views = b.views + excluded.views`,
			res.name, bIDs, bAt, bN)
		if err != nil {
			return fmt.Errorf("add view buckets: %w", err)
		}
	}
	if p.deferPrune {
		return nil
	}
	return p.Prune(ctx, db)
}

// Prune deletes the buckets that aged out: one range of the (resolution,
// bucket) index each, cheap when there is nothing to prune, which is
// almost always.
func (p Projection) Prune(ctx context.Context, db DB) error {
	for _, r := range []struct {
		res  string
		keep time.Duration
	}{{"minute", minuteRetention}, {"hour", hourRetention}} {
		_, err := db.Exec(ctx, `
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
