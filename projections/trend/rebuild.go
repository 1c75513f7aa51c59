package trend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/replay"
)

// Rebuildable describes the trend projection (movies and their view
// buckets) to the replay.
type Rebuildable struct {
	Params Params
	// minuteFloor, set by ForReplay, skips buckets a replay would prune.
	minuteFloor time.Time
	// buckets gathers the view buckets of one replay in memory.
	buckets *Projection
}

// ForReplay returns the projection for one replay: minute buckets older
// than 48 hours before the live copy's newest view are not written, since
// the rebuilt copy would prune them (its newest view is at least as new).
func (r Rebuildable) ForReplay(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (Rebuildable, error) {
	var newest *time.Time
	err := db.QueryRow(ctx, `SELECT max(bucket) FROM `+pgx.Identifier{LiveTable + "_buckets"}.Sanitize()+` WHERE resolution = 'minute'`).Scan(&newest)
	if err != nil {
		return r, fmt.Errorf("newest view: %w", err)
	}
	if newest == nil {
		// No live buckets (a new or emptied live copy): the log's last view
		// bounds them instead. Without a floor, the replay would hold every
		// bucket of the log's whole history in memory. The rebuilt copy's
		// newest view is at least as new, so it prunes at least as much.
		var last time.Time
		err := db.QueryRow(ctx, `SELECT occurred_at FROM events WHERE type = $1 ORDER BY position DESC LIMIT 1`, events.TypeViewRecorded).Scan(&last)
		switch {
		case err == nil:
			minute := last.UTC().Truncate(time.Minute) // its bucket
			newest = &minute
		case !errors.Is(err, pgx.ErrNoRows):
			return r, fmt.Errorf("last view: %w", err)
		}
	}
	if newest != nil {
		r.minuteFloor = newest.Add(-minuteRetention)
	}
	p := New("", r.Params).WithBulkBuckets()
	r.buckets = &p
	return r, nil
}

// Name is what `trend replay --projection` takes.
func (Rebuildable) Name() string { return "trend" }

// Handler is the live handler whose handled batches the table reflects.
func (Rebuildable) Handler() string { return HandlerName }

// Tables lists the tables of the projection named base.
func (Rebuildable) Tables(base string) []string { return []string{base, base + "_buckets"} }

// Live is the base name the API reads.
func (Rebuildable) Live() string { return LiveTable }

// Apply folds evs into the projection named base, which holds the events
// applied says.
func (r Rebuildable) Apply(ctx context.Context, tx pgx.Tx, base string, evs []events.Envelope, applied replay.Applied) error {
	p := r.projection(base)
	p.rebuilt = &applied
	return p.Apply(ctx, tx, evs)
}

func (r Rebuildable) projection(base string) Projection {
	p := New(base, r.Params).WithDeferredPrune()
	if r.buckets != nil {
		p.bulk = r.buckets.bulk
	}
	if !r.minuteFloor.IsZero() {
		p = p.WithMinuteFloor(r.minuteFloor)
	}
	return p
}

// Flush writes the view buckets gathered in memory so far.
func (r Rebuildable) Flush(ctx context.Context, tx pgx.Tx, base string) error {
	return r.projection(base).FlushBuckets(ctx, tx)
}

// Finish writes the last view buckets and prunes them once, after the
// last batch, and gives every row a new change number: rows written early
// in the rebuild took numbers that live stream clients are past, and a
// rebuild may have corrected them.
func (r Rebuildable) Finish(ctx context.Context, tx pgx.Tx, base string) error {
	p := r.projection(base)
	if err := p.FlushBuckets(ctx, tx); err != nil {
		return err
	}
	if err := p.Prune(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE `+pgx.Identifier{base}.Sanitize()+` SET change_seq = nextval('trend_change_seq')`); err != nil {
		return err
	}
	// The count of listed movies, and the triggers that keep it from here
	// on: the copy takes them into the switch.
	_, err := tx.Exec(ctx, `SELECT trend_track_listed($1::regclass)`, pgx.Identifier{base}.Sanitize())
	return err
}

// Diff lists the differences between two copies of the projection, one
// line each, at most limit. Decayed attention is a floating-point sum
// whose last bits depend on how views were grouped, so it is compared to
// 1e-9 relative.
func (Rebuildable) Diff(ctx context.Context, tx pgx.Tx, a, b string, limit int) ([]string, error) {
	ta, tb := pgx.Identifier{a}.Sanitize(), pgx.Identifier{b}.Sanitize()
	ba, bb := pgx.Identifier{a + "_buckets"}.Sanitize(), pgx.Identifier{b + "_buckets"}.Sanitize()
	rows, err := tx.Query(ctx, `
		WITH x AS (SELECT * FROM `+ta+`), y AS (SELECT * FROM `+tb+`)
		SELECT coalesce(x.tmdb_id, y.tmdb_id), format('movie %s: %s', coalesce(x.tmdb_id, y.tmdb_id),
			CASE WHEN x.tmdb_id IS NULL THEN 'only in '||$1
			     WHEN y.tmdb_id IS NULL THEN 'only in '||$2
			     ELSE format('%s has %s, %s has %s', $2,
			         row(x.title, x.status, x.internal_views_count, x.external_score, x.vote_count, x.popularity, x.release_date,
			             x.poster_path, x.genres, x.final_trend_score, x.registered_at, x.last_updated_at, x.last_position,
			             x.facts_fetched_at, x.facts_position, x.removed_position, x.attention_day, x.attention_week),
			         $1,
			         row(y.title, y.status, y.internal_views_count, y.external_score, y.vote_count, y.popularity, y.release_date,
			             y.poster_path, y.genres, y.final_trend_score, y.registered_at, y.last_updated_at, y.last_position,
			             y.facts_fetched_at, y.facts_position, y.removed_position, y.attention_day, y.attention_week)) END)
		FROM x FULL JOIN y ON x.tmdb_id = y.tmdb_id
		WHERE x.tmdb_id IS NULL OR y.tmdb_id IS NULL
		   OR row(x.title, x.status, x.internal_views_count, x.external_score, x.vote_count, x.popularity, x.release_date,
		          x.poster_path, x.genres, x.final_trend_score, x.registered_at, x.last_updated_at, x.last_position, x.facts_fetched_at, x.facts_position, x.removed_position)
		      IS DISTINCT FROM
		      row(y.title, y.status, y.internal_views_count, y.external_score, y.vote_count, y.popularity, y.release_date,
		          y.poster_path, y.genres, y.final_trend_score, y.registered_at, y.last_updated_at, y.last_position, y.facts_fetched_at, y.facts_position, y.removed_position)
		   OR NOT trend_close(x.attention_day, y.attention_day) OR NOT trend_close(x.attention_week, y.attention_week)
		UNION ALL
		SELECT coalesce(p.tmdb_id, q.tmdb_id), format('movie %s: %s bucket %s: %s views in %s, %s in %s', coalesce(p.tmdb_id, q.tmdb_id),
			coalesce(p.resolution, q.resolution), coalesce(p.bucket, q.bucket), coalesce(p.views, 0), $2, coalesce(q.views, 0), $1)
		FROM `+ba+` p FULL JOIN `+bb+` q USING (tmdb_id, resolution, bucket)
		WHERE p.views IS DISTINCT FROM q.views
		ORDER BY 1, 2 LIMIT $3`, b, a, limit)
	if err != nil {
		return nil, fmt.Errorf("compare %s with %s: %w", a, b, err)
	}
	// By movie, as a number: sorted as text, "movie 1000" came before
	// "movie 999", and the limit kept that subset.
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var id int64
		var line string
		err := row.Scan(&id, &line)
		return line, err
	})
}
