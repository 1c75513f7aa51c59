import { memo, useRef } from 'react';
import { formatInt, formatScore, movieName } from '../format.js';
import { useFlashOnChange } from '../hooks/useFlashOnChange.js';

function MoveBadge({ move }) {
  if (!move) return null;
  if (move.isNew) {
    return (
      <span key={move.seq} className="move move--new">
        new
      </span>
    );
  }
  const up = move.delta > 0;
  return (
    <span key={move.seq} className={`move move--${up ? 'up' : 'down'}`} title={`Moved ${up ? 'up' : 'down'} ${Math.abs(move.delta)}`}>
      <span aria-hidden="true">{up ? '▲' : '▼'}</span>
      <span className="visually-hidden">{up ? 'up' : 'down'} </span>
      {Math.abs(move.delta)}
    </span>
  );
}

/**
 * One movie of the trending board. Memoised: the store keeps a row's object
 * identity until that movie, its rank or its move changes, so a burst of
 * updates re-renders only the rows that changed.
 */
export const BoardRow = memo(function BoardRow({ row, index, selected, showTrend, onOpen, onView, onArrowKey, measureRef }) {
  const { movie, rank, move, trendScore } = row;
  const viewsRef = useRef(null);
  const scoreRef = useRef(null);
  useFlashOnChange(viewsRef, movie.internal_views_count);
  useFlashOnChange(scoreRef, movie.final_trend_score);
  const pending = movie.status === 'pending';
  const name = movieName(movie);
  const moved = move && !move.isNew ? (move.delta > 0 ? 'up' : 'down') : move?.isNew ? 'new' : null;

  return (
    <tr
      ref={measureRef}
      data-index={index}
      data-row-index={index}
      data-tmdb-id={movie.tmdb_id}
      aria-rowindex={index + 2}
      aria-current={selected ? 'true' : undefined}
      className={`board-row${selected ? ' board-row--selected' : ''}${moved ? ` board-row--moved-${moved}` : ''}`}
    >
      <td className="col-rank">
        <span className="rank">{rank}</span>
        <MoveBadge move={move} />
      </td>
      <th scope="row" className="col-title">
        {/* The accessible name starts with the visible text (WCAG 2.5.3). */}
        <button type="button" className="row-open" onClick={() => onOpen(movie.tmdb_id)} onKeyDown={(e) => onArrowKey(e, index)}>
          <span className="row-open__title">{name}</span>{' '}
          {pending ? (
            <span className="badge badge--pending">
              <span className="spinner" aria-hidden="true" />
              Fetching details…
            </span>
          ) : (
            movie.release_date && <span className="row-open__year">{movie.release_date.slice(0, 4)}</span>
          )}
          <span className="visually-hidden">, rank {rank}, show details</span>
        </button>
      </th>
      <td className="col-num" ref={viewsRef}>
        {formatInt(movie.internal_views_count)}
      </td>
      <td className="col-num col-optional">{formatScore(movie.external_score)}</td>
      <td className="col-num col-score" ref={scoreRef}>
        {formatScore(movie.final_trend_score)}
      </td>
      {showTrend && <td className="col-num col-score col-trend">{formatScore(trendScore)}</td>}
      <td className="col-action">
        <button type="button" className="button-small" onClick={() => onView(movie)}>
          +1<span className="wide-only"> view</span>
          <span className="visually-hidden"> for {name}</span>
        </button>
      </td>
    </tr>
  );
});
