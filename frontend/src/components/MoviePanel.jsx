import { useEffect, useRef, useState } from 'react';
import { getMovie, recordView, refreshMovie } from '../api/endpoints.js';
import { describeError } from '../api/client.js';
import { formatDate, formatDateTime, formatInt, formatNumber, formatScore, movieName } from '../format.js';
import { classicBreakdown } from '../score.js';
import { useMovieTrend } from '../hooks/useMovieTrend.js';
import { usePolling } from '../hooks/usePolling.js';
import { useNotify } from './Notices.jsx';
import { ScoreBreakdown } from './ScoreBreakdown.jsx';
import { ViewsChart } from './ViewsChart.jsx';

const POSTER_BASE = 'https://image.tmdb.org/t/p/w185';
const RECENT_MS = 6 * 3600 * 1000;

/** How often a movie that is not on the board is read again. */
export const OUTSIDE_BOARD_POLL_MS = 5000;

/**
 * A movie that is not on the board (a link to one beyond the first 1,000,
 * or one that is gone): the live stream does not carry it, so it is read
 * from the server, and again every few seconds, so that its views, a
 * refresh's facts or the end of "pending" show.
 */
function useMovieOutsideBoard(id, onBoard) {
  const enabled = !onBoard && id != null;
  const polled = usePolling(
    (signal) =>
      getMovie(id, { signal }).then(
        (movie) => ({ id, movie }),
        (err) => {
          err.movieId = id;
          throw err;
        },
      ),
    OUTSIDE_BOARD_POLL_MS,
    { enabled },
  );
  const { refresh } = polled;
  // Another movie opened: read it now, not at the next tick.
  const shownId = useRef(id);
  useEffect(() => {
    if (shownId.current === id) return;
    shownId.current = id;
    if (enabled) refresh();
  }, [id, enabled, refresh]);
  if (!enabled) return { movie: null, error: null, stale: null };
  // A 404 says the movie is gone (TMDB removed it): its last copy is not
  // kept, as it is for a blip.
  const failed = polled.errorObject?.movieId === id;
  const gone = failed && polled.errorObject?.status === 404;
  const movie = !gone && polled.data?.id === id ? polled.data.movie : null;
  return {
    movie,
    error: !movie && failed ? polled.error : null,
    // The last copy kept through a blip: say it is not current, and since when.
    stale: movie && failed ? { error: polled.error, since: polled.updatedAt } : null,
  };
}

function MovieFacts({ movie }) {
  return (
    <dl className="facts">
      <div className="facts__pair">
        <dt>Released</dt>
        <dd>{formatDate(movie.release_date)}</dd>
      </div>
      <div className="facts__pair">
        <dt>Genres</dt>
        <dd>{movie.genres?.length ? movie.genres.join(', ') : '—'}</dd>
      </div>
      <div className="facts__pair">
        <dt>TMDB vote average</dt>
        <dd>
          {formatNumber(movie.external_score)}
          {movie.vote_count != null && <span className="hint"> ({formatInt(movie.vote_count)} votes)</span>}
        </dd>
      </div>
      <div className="facts__pair">
        <dt>TMDB popularity</dt>
        <dd>{formatNumber(movie.popularity)}</dd>
      </div>
      <div className="facts__pair">
        <dt>Views here</dt>
        <dd>{formatInt(movie.internal_views_count)}</dd>
      </div>
      <div className="facts__pair">
        <dt>Last updated</dt>
        <dd>{formatDateTime(movie.last_updated_at)}</dd>
      </div>
      <div className="facts__pair">
        <dt>TMDB id</dt>
        <dd>
          <a href={`https://www.themoviedb.org/movie/${movie.tmdb_id}`} target="_blank" rel="noreferrer">
            {movie.tmdb_id}
            <span className="visually-hidden"> (opens themoviedb.org in a new tab)</span>
          </a>
        </dd>
      </div>
    </dl>
  );
}

function MovieCommands({ movie }) {
  const notify = useNotify();
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const name = movieName(movie);

  async function run(kind) {
    setBusy(kind);
    setError(null);
    try {
      if (kind === 'view') await recordView(movie.tmdb_id);
      else {
        await refreshMovie(movie.tmdb_id);
        notify({ kind: 'success', text: `Asked TMDB for fresh facts about ${name}.` });
      }
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="movie-commands">
      <button type="button" onClick={() => run('view')} disabled={busy !== null}>
        {busy === 'view' ? 'Adding…' : 'Add a view'}
      </button>
      <button type="button" onClick={() => run('refresh')} disabled={busy !== null}>
        {busy === 'refresh' ? 'Asking TMDB…' : 'Refresh TMDB facts'}
      </button>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * The server's classic terms while they describe the movie as the board
 * shows it; between two fetches of the explanation (at most every 2 s) the
 * same terms computed from the live row, so the panel never contradicts itself.
 */
function currentClassic(fromServer, movie) {
  const fresh =
    fromServer && fromServer.views === movie.internal_views_count && fromServer.final_trend_score === movie.final_trend_score;
  return fresh ? fromServer : classicBreakdown(movie);
}

/** Everything about one movie: facts, score explained, views over time. */
export function MoviePanel({ id, row, onClose }) {
  const headingRef = useRef(null);
  // Read on its own until it is on the board: also while the board loads,
  // which it may never do (a deep link while the list answers 503).
  const outside = useMovieOutsideBoard(id, Boolean(row));
  const movie = row?.movie ?? outside.movie;
  // A movie registered lately is charted per minute (the server keeps 48
  // hours of those); otherwise per hour over 7 days.
  const recent = movie?.registered_at && Date.now() - Date.parse(movie.registered_at) < RECENT_MS;
  const resolution = recent ? 'minute' : 'hour';
  // `change` grows with every change of the row; last_updated_at does not
  // (an old viewed_at), so it is only the fallback for older servers.
  const version = movie?.change ?? movie?.last_updated_at;
  const { trend, missing, error: trendError } = useMovieTrend(movie ? id : null, version, resolution);

  // Opening a movie moves focus to it, so keyboard and screen reader users
  // land where the content appeared (below the board on a phone).
  useEffect(() => {
    headingRef.current?.focus();
  }, [id]);

  const title = movie ? movieName(movie) : `Movie ${id}`;
  return (
    <section className="panel movie-panel" aria-labelledby="movie-heading" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div className="panel__head">
        <h2 id="movie-heading" ref={headingRef} tabIndex={-1}>
          {title}
        </h2>
        {row && <span className="hint">rank {row.rank}</span>}
        <button type="button" className="button-small panel__close" onClick={onClose} aria-label={`Close ${title}`}>
          Close
        </button>
      </div>
      {!movie && !outside.error && <p role="status">Loading…</p>}
      {!movie && outside.error && <p role="alert">{outside.error}</p>}
      {movie && (
        <>
          {movie.status === 'pending' && (
            <p className="badge badge--pending" role="status">
              <span className="spinner" aria-hidden="true" /> Fetching details from TMDB…
            </p>
          )}
          {outside.stale && (
            <p className="warning" role="status">
              This movie could not be read again ({outside.stale.error}); showing it as of {formatDateTime(outside.stale.since)}.
            </p>
          )}
          <div className="movie-panel__top">
            {movie.poster_path && <img className="poster" src={POSTER_BASE + movie.poster_path} alt={`Poster of ${title}`} width="92" />}
            <MovieFacts movie={movie} />
          </div>
          {/* One per movie: an error or a request in flight under one movie
              must not show under the next one opened. */}
          <MovieCommands key={`commands-${movie.tmdb_id}`} movie={movie} />
          <ScoreBreakdown
            classic={currentClassic(trend?.classic, movie)}
            trending={trend?.trending}
            recentViews={trend?.views}
            computedHere={missing}
          />
          {trendError && <p className="hint">The server could not explain this score: {trendError}</p>}
          <ViewsChart
            key={id}
            history={trend?.history}
            historyMissing={missing}
            historyError={trendError}
            resolution={trend?.history_resolution ?? resolution}
            views={movie.internal_views_count}
            name={title}
          />
        </>
      )}
    </section>
  );
}
