// Package registry is the write model of registrations: which movies are
// tracked and whether TMDB removed them. The API decides 409 and 404 from
// it; the worker keeps it in step with the events it appends.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Statuses of a registration.
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusRemoved = "removed"
)

// Querier is what both a pool and a transaction offer.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Registration is one row of the write model.
type Registration struct {
	TMDBID       int64
	Status       string
	RegisteredAt time.Time
	UpdatedAt    time.Time
}

// ErrNotFound means the movie was never registered.
var ErrNotFound = errors.New("movie not registered")

// Register adds a registration and tells whether it is new. A movie that
// TMDB removed may be registered again (TMDB may know it by now).
func Register(ctx context.Context, q Querier, id int64, at time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `
		INSERT INTO movies (tmdb_id, status, registered_at, updated_at) VALUES ($1, 'pending', $2, $2)
		ON CONFLICT (tmdb_id) DO UPDATE SET status = 'pending', registered_at = $2, updated_at = $2
		WHERE movies.status = 'removed'`, id, at)
	if err != nil {
		return false, fmt.Errorf("register movie %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Get returns one registration.
func Get(ctx context.Context, q Querier, id int64) (Registration, error) {
	return read(ctx, q, id, "")
}

func read(ctx context.Context, q Querier, id int64, lock string) (Registration, error) {
	r := Registration{TMDBID: id}
	err := q.QueryRow(ctx, `SELECT status, registered_at, updated_at FROM movies WHERE tmdb_id = $1`+lock, id).
		Scan(&r.Status, &r.RegisteredAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read registration %d: %w", id, err)
	}
	r.RegisteredAt, r.UpdatedAt = r.RegisteredAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// trackedAmong selects the ids of the bigint[] parameter $N that are
// registered and not removed. It looks each id up in the primary key on
// purpose: `tmdb_id = ANY($N)` let PostgreSQL cache a generic plan that
// scans the whole table and compares every row with every id of the
// (unhashed, since it is a parameter) array, which it picks while the
// table has no statistics yet, as right after movies are registered:
// 0.25 ms instead of 0.07 for 40 ids among 1,000 movies, growing with the
// table, and the intake's commits spent most of their time there.
func trackedAmong(param string) string {
	return `SELECT x.id FROM unnest(` + param + `::bigint[]) AS x(id)
		WHERE (SELECT m.status <> 'removed' FROM movies m WHERE m.tmdb_id = x.id)`
}

// AllTracked is an SQL condition (for messaging.SendCommandIf) that holds
// when every id of the bigint[] parameter $4 is registered and not
// removed: Tracked's question, asked inside the statement that writes.
var AllTracked = `(SELECT count(*) FROM (` + trackedAmong("$4") + `) AS t) = cardinality($4::bigint[])`

// Tracked returns the subset of ids that are registered and not removed.
// ids may repeat (a worker passes one per view); each is looked up once.
func Tracked(ctx context.Context, q Querier, ids []int64) (map[int64]bool, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	rows, err := q.Query(ctx, trackedAmong("$1"), slices.Compact(ids))
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	m := make(map[int64]bool, len(found))
	for _, id := range found {
		m[id] = true
	}
	return m, nil
}

// Lock returns a movie's registration and holds its row against changes
// (FOR SHARE) until q's transaction ends: a removal that committed first
// is seen, and one that commits later logs its event after what q's
// transaction logs (SetStatus comes before the removal's event).
// ErrNotFound if it was never registered.
func Lock(ctx context.Context, q Querier, id int64) (Registration, error) {
	return read(ctx, q, id, " FOR SHARE")
}

// Answered tells whether TMDB's answer about movie id since time at is
// recorded already: its facts were fetched at or after at, or the movie
// was removed. Asking TMDB again would add nothing.
func Answered(ctx context.Context, q Querier, id int64, at time.Time) (bool, error) {
	var answered bool
	err := q.QueryRow(ctx, `SELECT status = 'removed' OR coalesce(facts_fetched_at >= $2, false) FROM movies WHERE tmdb_id = $1`, id, at).Scan(&answered)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read registration %d: %w", id, err)
	}
	return answered, nil
}

// SetStatus records what TMDB said about a tracked movie at time at (for
// "active", that its facts were fetched then), and tells whether the
// movie was tracked: a removed movie stays removed until it is registered
// again, and false says so. Either answer settles a refresh that was
// wanted (WantRefresh).
func SetStatus(ctx context.Context, q Querier, id int64, status string, at time.Time) (tracked bool, err error) {
	// Never back in time: two fetches of one movie (a registration and a
	// refresh, on two workers) may end in the other order.
	tag, err := q.Exec(ctx, `UPDATE movies SET status = $2, updated_at = greatest(updated_at, $3),
			facts_fetched_at = CASE WHEN $2 = 'active' THEN greatest(facts_fetched_at, $3) ELSE facts_fetched_at END,
			refresh_wanted_since = NULL
		WHERE tmdb_id = $1 AND status <> 'removed'`, id, status, at)
	if err != nil {
		return false, fmt.Errorf("set status of movie %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// WantRefresh records that fetching an active movie's facts failed at
// time at (TMDB down, throttling us, or refusing our key), so that the
// refresher asks again until SetStatus records an answer. The first
// failure is kept: the refresher's intervals grow from it. A pending
// movie needs no mark: the refresher asks again for every movie left
// pending.
func WantRefresh(ctx context.Context, q Querier, id int64, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE movies SET refresh_wanted_since = coalesce(refresh_wanted_since, $2)
		WHERE tmdb_id = $1 AND status = 'active'`, id, at)
	if err != nil {
		return fmt.Errorf("mark a refresh of movie %d as wanted: %w", id, err)
	}
	return nil
}
