package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/internal/tmdb"
)

// EnrichmentName names the enrichment handler group (and its queue).
const EnrichmentName = "tmdb-enrichment"

// EnrichmentEventTypes are the events enrichment acts on; it ignores the
// others (views above all), and the worker acknowledges batches holding
// none of these without decoding them.
var EnrichmentEventTypes = []string{events.TypeMovieRegistered, events.TypeMovieRefreshRequested}

// MovieSource is where movie facts come from (TMDB).
type MovieSource interface {
	Movie(ctx context.Context, id int64) (tmdb.Movie, error)
}

// Enrichment is a process manager: when a movie is registered or a refresh
// is asked for, it fetches the facts from TMDB and records the answer as
// an event (MovieDetailsFetched, or MovieRemoved when TMDB says 404), so
// that a replay never has to call TMDB.
type Enrichment struct {
	uow    UnitOfWork
	db     registry.Querier
	source MovieSource
	now    func() time.Time
	log    *slog.Logger
	// FetchTimeout bounds one movie's TMDB call, its retries and its 404's
	// confirmation included (default DefaultFetchTimeout): the enrichment
	// takes one message at a time, and a TMDB asking for a minute's wait
	// on every retry held the queue for several minutes a message. A call
	// cut short is asked for again by the refresher.
	FetchTimeout time.Duration
}

// DefaultFetchTimeout is Enrichment.FetchTimeout's default: five attempts
// of 10 s and their backoff fit in it.
const DefaultFetchTimeout = 90 * time.Second

// NewEnrichment refuses nil dependencies. db is where a fetch that failed
// for a while is marked to be asked for again (registry.WantRefresh).
func NewEnrichment(uow UnitOfWork, db registry.Querier, source MovieSource, now func() time.Time, log *slog.Logger) (*Enrichment, error) {
	if uow == nil || db == nil || source == nil || now == nil || log == nil {
		return nil, errors.New("handlers: nil dependency")
	}
	return &Enrichment{uow: uow, db: db, source: source, now: now, log: log}, nil
}

// HandleBatch reacts to the registrations and refresh requests in b.
func (e *Enrichment) HandleBatch(ctx context.Context, b *events.Batch) error {
	for _, env := range b.Events {
		if !slices.Contains(EnrichmentEventTypes, env.Type) {
			continue
		}
		if err := e.enrich(ctx, env); err != nil {
			return err
		}
	}
	return nil
}

func (e *Enrichment) enrich(ctx context.Context, env events.Envelope) error {
	// Checked before calling TMDB too, so that a redelivered batch costs no
	// TMDB request; Once below is what guarantees a single effect.
	if done, err := e.uow.Handled(ctx, EnrichmentName, env.EventID); err != nil || done {
		return err
	}
	// A registration or refresh that an answer since has settled (another
	// request's fetch, a removal) costs no TMDB call: a backlog of
	// repeated refreshes of one movie is one call, not one each. Its
	// event is recorded as handled, with nothing logged.
	if answered, err := registry.Answered(ctx, e.db, env.TMDBID, env.OccurredAt); err != nil {
		return err
	} else if answered {
		return e.uow.Once(ctx, EnrichmentName, env.EventID, env.CorrelationID, func(context.Context, *eventlog.Tx) error { return nil })
	}
	timeout := e.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	// When TMDB was asked: what the movie's facts_fetched_at records, so
	// that a refresh asked for while this call was in flight (after it was
	// sent) is not taken as settled by its answer (Answered above).
	asked := e.now().UTC()
	fetchCtx, cancel := context.WithTimeout(ctx, timeout)
	movie, err := e.source.Movie(fetchCtx, env.TMDBID)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		// The worker is stopping: TMDB's answer is unknown, so the message
		// goes back to its queue (an error) rather than be done with.
		return fmt.Errorf("fetch movie %d from TMDB: %w", env.TMDBID, err)
	case errors.Is(err, tmdb.ErrNotFound):
		e.log.InfoContext(ctx, "TMDB does not know the movie: removing it", "tmdb_id", env.TMDBID)
	// TMDB down or refusing our key: the movie stays as it is (pending, or
	// active with its old facts, marked as wanting a refresh) and the
	// worker's refresher asks again later, so neither the registration nor
	// the refresh asked for is lost, and the queue is not held through
	// retries nor the message sent to the dead letters.
	case errors.Is(err, tmdb.ErrUnauthorized), err != nil && tmdb.Retryable(err):
		switch {
		case errors.Is(err, tmdb.ErrUnauthorized):
			e.log.ErrorContext(ctx, "TMDB refused our credentials (HTTP 401): check TMDB_API_KEY or TMDB_READ_TOKEN; the movie is asked for again later", "tmdb_id", env.TMDBID)
		case errors.Is(err, tmdb.ErrCircuitOpen):
			// The client said so once, when the circuit opened: a backlog
			// drained meanwhile would be a warning a message.
			e.log.DebugContext(ctx, "TMDB not asked (circuit open); the movie is asked for again later", "tmdb_id", env.TMDBID)
		case errors.Is(err, tmdb.ErrPaused):
			// The answer that asked for the pause was warned of: the calls
			// during it (up to 15 minutes of a backlog) are not.
			e.log.DebugContext(ctx, "TMDB not asked (a pause it asked for runs); the movie is asked for again later", "tmdb_id", env.TMDBID, "error", err)
		default:
			e.log.WarnContext(ctx, "TMDB is unavailable; the movie is asked for again later", "tmdb_id", env.TMDBID, "error", err)
		}
		return registry.WantRefresh(ctx, e.db, env.TMDBID, e.now().UTC())
	case err != nil:
		return messaging.PermanentError(fmt.Errorf("fetch movie %d from TMDB: %w", env.TMDBID, err))
	}
	removed := errors.Is(err, tmdb.ErrNotFound)
	now := e.now().UTC()
	status := registry.StatusActive
	if removed {
		status = registry.StatusRemoved
	}
	tracked := false
	err = e.uow.Once(ctx, EnrichmentName, env.EventID, env.CorrelationID, func(ctx context.Context, tx *eventlog.Tx) error {
		// A movie removed since the event (its registration's 404 came
		// first, say) gets nothing more logged: facts or a second removal
		// logged after the removal would be taken for a later
		// registration's.
		var err error
		if tracked, err = registry.SetStatus(ctx, tx, env.TMDBID, status, asked); err != nil || !tracked {
			return err
		}
		if removed {
			// Waits for the views transactions that may have read the movie
			// as tracked (they hold RemovalLock shared), and holds back new
			// ones until the removal commits, so their views are logged
			// before it or not at all. After SetStatus: a registration
			// holding the movie's row (FOR SHARE) must be able to append
			// before this waits on it.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, RemovalLock); err != nil {
				return err
			}
			_, err := tx.Append(ctx, events.MovieRemoved{TMDBID: env.TMDBID, Reason: "TMDB does not know this movie (404)", RemovedAt: now})
			return err
		}
		genres := make([]string, 0, len(movie.Genres))
		for _, g := range movie.Genres {
			genres = append(genres, g.Name)
		}
		_, err = tx.Append(ctx, events.MovieDetailsFetched{
			TMDBID: env.TMDBID, Title: movie.Title, VoteAverage: movie.VoteAverage, VoteCount: movie.VoteCount,
			Popularity: movie.Popularity, ReleaseDate: movie.ReleaseDate, PosterPath: movie.PosterPath,
			Genres: genres, FetchedAt: now,
		})
		return err
	})
	switch {
	case err != nil:
	case !tracked:
		e.log.InfoContext(ctx, "movie removed since it was asked for: TMDB's answer not recorded", "tmdb_id", env.TMDBID)
	case !removed:
		// What an operator watches the worker's log for (the Python
		// system's workers printed it too): the facts a score is made of.
		e.log.InfoContext(ctx, "TMDB facts fetched", "tmdb_id", env.TMDBID, "title", movie.Title,
			"vote_average", movie.VoteAverage, "vote_count", movie.VoteCount)
	}
	return err
}
