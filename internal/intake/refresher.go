package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/idgen"
)

// Refresher asks TMDB again, through RefreshMovie commands, for movies
// whose facts are older than MaxAge, and for movies still pending
// PendingAfter after their registration (TMDB was down or refused our key
// when they were registered) or whose refresh failed PendingAfter ago,
// then at growing intervals: a few movies per
// tick, oldest first, so that refreshes are spread over time and stay far
// below TMDB's rate limit.
type Refresher struct {
	pool *pgxpool.Pool
	wlog watermill.LoggerAdapter
	log  *slog.Logger
	cfg  RefresherConfig
}

// RefresherConfig tunes the Refresher.
type RefresherConfig struct {
	// MaxAge: facts older than this are fetched again; 0 turns that off.
	MaxAge time.Duration
	// PendingAfter: a movie still pending this long after its registration
	// (or still without the facts of a refresh that failed this long ago)
	// is asked for again (default 30s). After that, it is asked for again
	// once it has waited as long as it had been waiting at the last ask
	// (30 s, 1, 2, 4 minutes… after its registration), at most
	// PendingMaxWait apart (default 1h). A fixed pace would queue a
	// request per movie every 30 s through a long TMDB outage, each a TMDB
	// call once it is back, and a movie whose answer cannot be used would
	// add a dead letter every 30 s for ever.
	PendingAfter   time.Duration
	PendingMaxWait time.Duration
	// Every and PerTick bound the pace: at most PerTick refreshes every
	// Every (default 20 every 10s: 2 a second, TMDB allows about 50).
	Every   time.Duration
	PerTick int
	Now     func() time.Time
	// TickTimeout bounds one tick of Run (default 30s).
	TickTimeout time.Duration
	// OnRound, if set, is called after every tick, successful or not (a
	// liveness heartbeat of the worker process).
	OnRound func()
}

// NewRefresher returns a Refresher; MaxAge must be positive.
func NewRefresher(pool *pgxpool.Pool, log *slog.Logger, cfg RefresherConfig) (*Refresher, error) {
	if pool == nil || log == nil || cfg.MaxAge < 0 {
		return nil, errors.New("intake: refresher needs a pool, a logger and a MaxAge not negative")
	}
	if cfg.PendingAfter <= 0 {
		cfg.PendingAfter = 30 * time.Second
	}
	if cfg.PendingMaxWait <= 0 {
		cfg.PendingMaxWait = time.Hour
	}
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.PerTick <= 0 {
		cfg.PerTick = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TickTimeout <= 0 {
		cfg.TickTimeout = 30 * time.Second
	}
	return &Refresher{pool: pool, wlog: watermill.NewSlogLogger(log), log: log, cfg: cfg}, nil
}

// Run ticks until ctx ends.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Bounded: a PostgreSQL that stops answering without closing the
		// connection held a tick until TCP gave up (some 15 minutes), with
		// no round, so the worker's liveness check restarted it; a bounded
		// tick fails, is logged, and the next one tries again.
		tctx, cancel := context.WithTimeout(ctx, r.cfg.TickTimeout)
		n, err := r.Tick(tctx)
		cancel()
		if err != nil {
			r.log.Warn("stale-facts refresh", "error", err)
		} else if n > 0 {
			r.log.Info("asked TMDB for fresh facts of stale movies", "movies", n)
		}
		if r.cfg.OnRound != nil {
			r.cfg.OnRound()
		}
	}
}

// Tick sends RefreshMovie for up to PerTick stale movies and returns how
// many. A movie is asked for once per MaxAge however many workers tick:
// the rows are claimed with SKIP LOCKED and stamped in the transaction that
// writes the commands.
func (r *Refresher) Tick(ctx context.Context) (int, error) {
	now := r.cfg.Now().UTC()
	cutoff := now.Add(-r.cfg.MaxAge)
	pendingCutoff := now.Add(-r.cfg.PendingAfter)
	n := 0
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// Pending movies first: they show no facts at all, and with more
		// stale active movies than a tick takes, sorted by age alone they
		// would never come up (their registration is recent).
		// An active movie with no facts_fetched_at (one activated before
		// migration 00002 made the column) counts from its registration:
		// compared as NULL, it was never stale, never refreshed.
		// since: when the facts were first wanted and did not come, for a
		// movie left pending (its registration) or an active one whose
		// refresh failed (registry.WantRefresh); both are asked for again at
		// the same growing intervals.
		rows, err := tx.Query(ctx, `
			SELECT tmdb_id FROM movies,
			     LATERAL (SELECT CASE WHEN status = 'pending' THEN registered_at
			                          WHEN status = 'active' THEN refresh_wanted_since END AS since) AS w
			WHERE (status = 'active' AND $4 AND coalesce(facts_fetched_at, registered_at) < $1
			       AND (refresh_requested_at IS NULL OR refresh_requested_at < $1))
			   OR (w.since <= $3
			       AND (refresh_requested_at IS NULL OR refresh_requested_at
			            + least($7 * interval '1 microsecond', greatest($6 * interval '1 microsecond',
			                    refresh_requested_at - w.since)) <= $5))
			ORDER BY status = 'pending' DESC, coalesce(facts_fetched_at, registered_at) LIMIT $2 FOR UPDATE OF movies SKIP LOCKED`,
			cutoff, r.cfg.PerTick, pendingCutoff, r.cfg.MaxAge > 0, now,
			r.cfg.PendingAfter.Microseconds(), r.cfg.PendingMaxWait.Microseconds())
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE movies SET refresh_requested_at = $2 WHERE tmdb_id = ANY($1)`, ids, now); err != nil {
			return err
		}
		for _, id := range ids {
			cmd := commands.RefreshMovie{CommandID: idgen.New(), TMDBID: id, RequestedAt: now}
			if err := sendCommand(ctx, tx, r.wlog, cmd.CommandID, "", &cmd); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("refresh stale movies: %w", err)
	}
	return n, nil
}
