package trend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Movie is a movie as the read API shows it.
type Movie struct {
	TMDBID             int64      `json:"tmdb_id"`
	Title              *string    `json:"title"`
	Status             string     `json:"status"`
	InternalViewsCount int64      `json:"internal_views_count"`
	ExternalScore      *float64   `json:"external_score"`
	VoteCount          *int64     `json:"vote_count"`
	Popularity         *float64   `json:"popularity"`
	ReleaseDate        *string    `json:"release_date"`
	PosterPath         *string    `json:"poster_path"`
	Genres             []string   `json:"genres"`
	FinalTrendScore    float64    `json:"final_trend_score"`
	RegisteredAt       *time.Time `json:"registered_at"`
	LastUpdatedAt      time.Time  `json:"last_updated_at"`
	// Change orders the rows' changes: every write of a row gives it a
	// higher one (the live stream's cursor), and so does a replay (one
	// sequence for the live and the rebuilt tables). Clients get it to
	// tell which of two copies of a row (a list page, a stream event) is
	// newer; 0 is a movie the projection does not have yet.
	Change int64 `json:"change"`
}

// ErrNotFound means the projection has no such movie (or it was removed).
var ErrNotFound = errors.New("movie not found")

// Reader runs the read API's queries.
type Reader struct {
	pool  *pgxpool.Pool
	q     querier // pool, or the transaction of inSnapshot
	table string
}

// querier is what Reader reads through: the pool, or one transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// NewReader reads the live table.
func NewReader(pool *pgxpool.Pool) Reader {
	return Reader{pool: pool, q: pool, table: liveTable}
}

// inSnapshot runs fn with a Reader whose statements all see one snapshot
// (a read-only, repeatable-read transaction): a page and its total, or a
// ranking read page by page, agree with each other however the projection
// changes meanwhile.
func (r Reader) inSnapshot(ctx context.Context, fn func(Reader) error) error {
	return pgx.BeginTxFunc(ctx, r.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The table's lock before the snapshot (a LOCK takes none): a read
		// that waits on a replay's switch then sees the table switched in
		// as it is once the switch commits, not as it was before the
		// switch's last round, when its first query began.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+r.table+` IN ACCESS SHARE MODE`); err != nil {
			return err
		}
		in := r
		in.q = tx
		return fn(in)
	})
}

// count returns the number of ranked movies, which triggers keep in
// trend_listed (migration 00011): counting the rows read every one of
// them, and was most of the cost of a page. A table without its kept
// count (restored from a dump, which gives it a new oid; switched in by
// an older version's replay) is counted.
func (r Reader) count(ctx context.Context) (int64, error) {
	var n int64
	if err := r.q.QueryRow(ctx, `SELECT coalesce((SELECT listed FROM trend_listed WHERE relid = $1::regclass),
		(SELECT count(*) FROM `+r.table+` WHERE status <> 'removed'))`, r.table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count movies: %w", err)
	}
	return n, nil
}

const columns = `tmdb_id, title, status, internal_views_count, external_score, vote_count, popularity,
	release_date, poster_path, genres, final_trend_score, registered_at, last_updated_at, change_seq`

func scanMovie(r pgx.CollectableRow) (Movie, error) { return scanMovieWith(r) }

// scanMovieWith scans the columns, then extra columns into extra.
func scanMovieWith(r pgx.CollectableRow, extra ...any) (Movie, error) {
	var m Movie
	err := r.Scan(append([]any{&m.TMDBID, &m.Title, &m.Status, &m.InternalViewsCount, &m.ExternalScore, &m.VoteCount,
		&m.Popularity, &m.ReleaseDate, &m.PosterPath, &m.Genres, &m.FinalTrendScore, &m.RegisteredAt,
		&m.LastUpdatedAt, &m.Change}, extra...)...)
	if m.RegisteredAt != nil {
		t := m.RegisteredAt.UTC()
		m.RegisteredAt = &t
	}
	m.LastUpdatedAt = m.LastUpdatedAt.UTC()
	if m.Genres == nil {
		m.Genres = []string{}
	}
	return m, err
}

// List returns a page of the ranking (highest score first, then tmdb_id)
// and the number of ranked movies. Removed movies are not listed.
func (r Reader) List(ctx context.Context, limit, offset int) (movies []Movie, total int64, err error) {
	// In one snapshot: a removal committing between the page and the
	// count gave a total that disagreed with the page it came with.
	err = r.inSnapshot(ctx, func(r Reader) error {
		rows, err := r.q.Query(ctx, `SELECT `+columns+` FROM `+r.table+`
			WHERE status <> 'removed' ORDER BY final_trend_score DESC, tmdb_id LIMIT $1 OFFSET $2`, limit, offset)
		if err != nil {
			return fmt.Errorf("list movies: %w", err)
		}
		if movies, err = pgx.CollectRows(rows, scanMovie); err != nil {
			return fmt.Errorf("list movies: %w", err)
		}
		total, err = r.count(ctx)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return movies, total, nil
}

// Get returns one movie; a removed one is ErrNotFound.
func (r Reader) Get(ctx context.Context, id int64) (Movie, error) {
	rows, err := r.q.Query(ctx, `SELECT `+columns+` FROM `+r.table+` WHERE tmdb_id = $1 AND status <> 'removed'`, id)
	if err != nil {
		return Movie{}, fmt.Errorf("get movie %d: %w", id, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMovie)
	if errors.Is(err, pgx.ErrNoRows) {
		return Movie{}, ErrNotFound
	}
	if err != nil {
		return Movie{}, fmt.Errorf("get movie %d: %w", id, err)
	}
	return m, nil
}

// ChangedSince returns the rows (removed ones included, so that a client
// can drop them) changed after the change since, oldest change first.
func (r Reader) ChangedSince(ctx context.Context, since int64, limit int) ([]Movie, error) {
	rows, err := r.q.Query(ctx, `SELECT `+columns+` FROM `+r.table+`
		WHERE change_seq > $1 ORDER BY change_seq LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("changed movies: %w", err)
	}
	return pgx.CollectRows(rows, scanMovie)
}

// Head returns the newest change of the projection (see Movie.Change):
// while it stays the same, so do the rows.
func (r Reader) Head(ctx context.Context) (int64, error) {
	var p int64
	err := r.q.QueryRow(ctx, `SELECT coalesce(max(change_seq), 0) FROM `+r.table).Scan(&p)
	return p, err
}
