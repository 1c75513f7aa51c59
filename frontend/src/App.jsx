import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { createMovieStore } from './live/movieStore.js';
import { useMovieStream } from './live/useMovieStream.js';
import { useRanking, useRankedMovie } from './live/useMovies.js';
import { useSelectedMovie } from './hooks/useSelectedMovie.js';
import { useTrendScores } from './hooks/useTrendScores.js';
import { recordView } from './api/endpoints.js';
import { describeError } from './api/client.js';
import { movieName } from './format.js';
import { ConnectionStatus } from './components/ConnectionStatus.jsx';
import { ErrorBoundary } from './components/ErrorBoundary.jsx';
import { NoticeList, NoticesProvider, useNotify } from './components/Notices.jsx';
import { MovieActions } from './components/MovieActions.jsx';
import { TrendingBoard } from './components/TrendingBoard.jsx';
import { MoviePanel } from './components/MoviePanel.jsx';
import { PipelinePanel } from './components/PipelinePanel.jsx';
import { AdminPanel } from './components/AdminPanel.jsx';

function Dashboard({ EventSourceImpl }) {
  const notify = useNotify();
  const store = useMemo(() => createMovieStore(), []);
  const [selectedId, select] = useSelectedMovie();

  const onRemoved = useCallback(
    (movies) => {
      for (const m of movies) notify({ kind: 'warning', text: `TMDB does not know movie ${m.tmdb_id}: removed` });
    },
    [notify],
  );
  const connection = useMovieStream(store, { onRemoved, EventSourceImpl });
  const ranking = useRanking(store);
  const selectedRow = useRankedMovie(store, selectedId);

  // "classic" orders by final_trend_score; "day"/"week" by the decayed score.
  const [rankBy, setRankBy] = useState('classic');
  // The decayed score shown next to the classic one: the ordering window, or the day.
  const trendWindow = rankBy === 'classic' ? 'day' : rankBy;
  const trend = useTrendScores(trendWindow, ranking.moviesVersion);
  const trendReady = trend.available && trend.window === trendWindow;
  // The ranking the board shows: the one chosen, once its scores are here;
  // until then the one before, so day <-> week does not flash the classic
  // order. The scores shown are the latest of any window (the board names it).
  // Ordered by a window, the board shows that window's top (its rows), not
  // the classic top re-sorted: with more than 1,000 movies they differ.
  // Each answer's total is the board's "1,000 of N" too, fresher than the
  // list's (a poll that began before a reload may bring an older count; the
  // next one mends it).
  const [orderedBy, setOrderedBy] = useState(rankBy);
  if (orderedBy !== rankBy && (rankBy === 'classic' || trendReady)) setOrderedBy(rankBy);
  const scoresWindow = trend.available ? trend.window : null;
  // Ordered by a window whose scores are not here, the failure is about the
  // order; otherwise the decayed column, shown in every ranking (the classic
  // one too), keeps its last scores through it: say how old they are.
  const trendError = rankBy !== 'classic' && !trendReady ? trend.error : null;
  const trendStale = scoresWindow && !trendError && trend.error ? { error: trend.error, since: trend.updatedAt } : null;
  useEffect(() => {
    store.setTrendScores(scoresWindow ? trend.scores : null, scoresWindow, scoresWindow ? { rows: trend.rows, total: trend.total } : undefined);
    store.setRankByTrend(orderedBy !== 'classic' && orderedBy === scoresWindow);
  }, [store, orderedBy, scoresWindow, trend.scores, trend.rows, trend.total]);

  const addView = useCallback(
    async (movie) => {
      try {
        await recordView(movie.tmdb_id);
      } catch (err) {
        notify({ kind: 'error', text: `Could not add a view to ${movieName(movie)}: ${describeError(err)}` });
      }
    },
    [notify],
  );
  const close = useCallback(() => select(null), [select]);

  // Closing a movie (Escape, Close, the back button) takes focus with the
  // panel: give it back to the movie's row, or to the board when that row
  // is not rendered, rather than leave keyboard users at the page's top.
  const openedId = useRef(selectedId);
  useLayoutEffect(() => {
    const closed = openedId.current;
    openedId.current = selectedId;
    if (selectedId != null || closed == null) return;
    const active = document.activeElement;
    if (active && active !== document.body) return; // the user put it somewhere
    const row = document.querySelector(`.board__table tr[data-tmdb-id="${closed}"] .row-open`);
    (row ?? document.getElementById('board-heading'))?.focus();
  }, [selectedId]);

  return (
    <>
      {/* Focuses the board without touching the URL's fragment, which
          holds the open movie. */}
      <a
        className="skip-link"
        href="#board-heading"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('board-heading')?.focus();
        }}
      >
        Skip to the ranking
      </a>
      <header className="top">
        <h1>Movie Trend Analyzer</h1>
        <ConnectionStatus state={connection.state} error={connection.error} />
      </header>
      <NoticeList />
      <main className="layout">
        <div className="layout__main">
          <MovieActions onRegistered={(movie) => movie && store.upsert(movie)} />
          <TrendingBoard
            ranking={ranking}
            selectedId={selectedId}
            onOpen={select}
            onView={addView}
            trendWindow={scoresWindow}
            trendError={trendError}
            trendStale={trendStale}
            rankBy={rankBy}
            orderedBy={orderedBy}
            onRankByChange={setRankBy}
          />
        </div>
        <div className="layout__side">
          {selectedId != null && <MoviePanel id={selectedId} row={selectedRow} onClose={close} />}
          <PipelinePanel />
          <AdminPanel />
        </div>
      </main>
    </>
  );
}

export function App({ EventSourceImpl = globalThis.EventSource }) {
  return (
    <ErrorBoundary>
      <NoticesProvider>
        <Dashboard EventSourceImpl={EventSourceImpl} />
      </NoticesProvider>
    </ErrorBoundary>
  );
}
