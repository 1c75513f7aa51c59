// The dashboard's copy of the ranking, fed by the list endpoint and the live
// stream. Built for 1,000 movies and 100 updates a second: changes are
// merged into a Map as they arrive (cheap), and the ranking is re-sorted and
// published at most once per animation frame. Rows that did not change keep
// their object identity, so memoised row components skip re-rendering.

/** How long a row shows that it moved. */
export const MOVE_VISIBLE_MS = 4000;

const defaultSchedule = (fn) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(fn) : setTimeout(fn, 16);

/** Same order as the server: score descending, then tmdb_id ascending. */
function byScoreThenId(scoreOf) {
  return (a, b) => scoreOf(b) - scoreOf(a) || a.tmdb_id - b.tmdb_id;
}

/** The order of GET /api/movies, which decides which movies a partial load holds. */
const serverOrder = byScoreThenId((m) => m.final_trend_score);

/**
 * Whether `row` is a newer version than `current`, a row of the same movie.
 * The server's `change` grows with every change of a row, replays included
 * (equal: the same version). last_updated_at does not (an old viewed_at,
 * batches out of order), so `fallback(rowTime, currentTime)` decides only
 * when a row lacks `change` (an older server).
 */
function isNewer(row, current, fallback) {
  if (Number.isFinite(row.change) && Number.isFinite(current.change)) return row.change > current.change;
  return fallback(Date.parse(row.last_updated_at), Date.parse(current.last_updated_at));
}

/**
 * @param {{schedule?: (fn: () => void) => unknown, now?: () => number, setTimer?: typeof setTimeout}} [deps]
 */
export function createMovieStore({ schedule = defaultSchedule, now = () => Date.now(), setTimer = setTimeout } = {}) {
  // The classic window: the top by final_trend_score (every movie, after a
  // complete load).
  const movies = new Map();
  let trendScores = null; // Map<id, number>: time-decayed scores, when the server has them
  let trendWindow = null; // which window they are for ("day", "week")
  let trendTotal = null; // how many movies that ranking ranks, when the server said
  // After a partial load, the movies of the decayed top (trendScores) beyond
  // the classic window, kept current by the stream like those in it: ranked
  // by a decayed score, the board shows that top, not the classic window
  // re-sorted. Never holds a movie `movies` holds.
  const trendOnly = new Map();
  let rankByTrend = false;
  let rankOf = new Map(); // the ranks last published, to tell who moved
  const moves = new Map(); // id -> {delta, isNew, seq, until}
  let rowCache = new Map();
  let seq = 0;
  let serverTotal = 0;
  // Set when the last load held only the top `windowSize` of more movies:
  // then a movie seen live joins only if it ranks within them.
  let windowSize = null;
  let loaded = false;
  let quietNextRanking = true; // after a reload or a change of ranking, nothing "moved"
  let scheduled = false;
  let expiryTimer = null;
  let moviesVersion = 0; // counts changes to the movies themselves (not to the order)
  // Counts reloads and changes of what orders the rows (not moves within
  // one order): a board holding its order takes a fresh one when it changes.
  let orderVersion = 0;
  let snapshot = { rows: [], byId: new Map(), count: 0, serverTotal: 0, loaded: false, moviesVersion, orderVersion };
  const listeners = new Set();

  const scoreOf = (m) => (rankByTrend ? trendScores?.get(m.tmdb_id) ?? 0 : m.final_trend_score);
  const held = (id) => movies.get(id) ?? trendOnly.get(id);

  /**
   * The movies on the board: the classic window; ranked by a decayed score,
   * that ranking's top, or every movie held when it ranked them all (then
   * one registered since it answered still shows, as it would classically).
   */
  function shown() {
    if (!rankByTrend || !trendScores) return [...movies.values()];
    if (!(trendTotal > trendScores.size)) return [...movies.values(), ...trendOnly.values()];
    return [...trendScores.keys()].flatMap((id) => held(id) ?? []);
  }

  function publish() {
    scheduled = false;
    const t = now();
    const ordered = shown().sort(byScoreThenId(scoreOf));
    const nextRankOf = new Map();
    const nextCache = new Map();
    let nextExpiry = Infinity;
    const rows = ordered.map((movie, i) => {
      const id = movie.tmdb_id;
      const rank = i + 1;
      nextRankOf.set(id, rank);
      const prev = rankOf.get(id);
      if (!quietNextRanking && prev !== rank) {
        moves.set(id, { delta: prev === undefined ? 0 : prev - rank, isNew: prev === undefined, seq: ++seq, until: t + MOVE_VISIBLE_MS });
      }
      let move = moves.get(id) ?? null;
      if (move && move.until <= t) {
        moves.delete(id);
        move = null;
      }
      if (move) nextExpiry = Math.min(nextExpiry, move.until);
      const trendScore = trendScores ? trendScores.get(id) ?? null : null;
      const old = rowCache.get(id);
      const row =
        old && old.movie === movie && old.rank === rank && old.move === move && old.trendScore === trendScore
          ? old
          : { id, movie, rank, move, trendScore };
      nextCache.set(id, row);
      return row;
    });
    for (const id of moves.keys()) if (!nextRankOf.has(id)) moves.delete(id);
    rankOf = nextRankOf;
    rowCache = nextCache;
    quietNextRanking = false;
    snapshot = { rows, byId: nextCache, count: rows.length, serverTotal: Math.max(serverTotal, rows.length), loaded, moviesVersion, orderVersion };
    // Clear the "moved" marks when they expire, even if nothing else changes.
    if (expiryTimer !== null) clearTimeout(expiryTimer);
    expiryTimer = Number.isFinite(nextExpiry) ? setTimer(() => ((expiryTimer = null), invalidate()), nextExpiry - t + 1) : null;
    for (const l of listeners) l();
  }

  /** The movie of the classic window that ranks last on the server, or undefined. */
  function lowestLoaded() {
    let lowest;
    for (const m of movies.values()) if (!lowest || serverOrder(m, lowest) > 0) lowest = m;
    return lowest;
  }

  /**
   * Whether a movie not in the classic window joins it. After a partial
   * load, only if it beats the lowest loaded: one beyond the window (rank
   * 1,200, say) is not ours to show. After a complete load every new movie
   * is new.
   */
  function admits(m) {
    if (windowSize === null) return true;
    const lowest = lowestLoaded();
    return !lowest || serverOrder(m, lowest) < 0;
  }

  /** Keeps `m`, out of the classic window, while it is in the decayed top. */
  function keepIfTrending(m) {
    if (trendScores?.has(m.tmdb_id)) trendOnly.set(m.tmdb_id, m);
  }

  /**
   * Puts a movie not in the classic window in it, if it belongs there.
   * After a complete load it is a new movie, so the total grows; after a
   * partial one it may have been counted already, and the lowest makes room.
   */
  function add(m) {
    trendOnly.delete(m.tmdb_id);
    if (!admits(m)) return keepIfTrending(m);
    movies.set(m.tmdb_id, m);
    if (windowSize === null) serverTotal++;
    else if (movies.size > windowSize) {
      const lowest = lowestLoaded();
      movies.delete(lowest.tmdb_id);
      keepIfTrending(lowest);
    }
  }

  /** A reload or another ranking: nothing "moved", and the order starts anew. */
  function newOrder() {
    quietNextRanking = true;
    orderVersion++;
  }

  function invalidate() {
    if (scheduled) return;
    scheduled = true;
    schedule(publish);
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => snapshot,

    /** Replaces everything with a fresh list (after `ready`, also on reconnect). */
    reset(list, total = list.length) {
      // Movies of the decayed top that leave the classic window stay, so
      // that top stays whole until its next answer (which the reload's
      // change asks for) brings what changed meanwhile.
      for (const m of movies.values()) keepIfTrending(m);
      movies.clear();
      for (const m of list) if (m.status !== 'removed') movies.set(m.tmdb_id, m);
      serverTotal = total;
      windowSize = total > movies.size ? movies.size : null;
      if (windowSize === null) trendOnly.clear(); // the list holds every movie
      else for (const id of movies.keys()) trendOnly.delete(id);
      loaded = true;
      newOrder();
      moviesVersion++;
      invalidate();
    },

    /**
     * Merges rows from the stream. Returns the movies that were removed.
     * @param {object[]} changed
     * @param {{onlyIfNewer?: boolean}} [opts] onlyIfNewer: skip rows older
     *   than what we hold (for changes that raced with a list reload)
     */
    applyChanges(changed, { onlyIfNewer = false } = {}) {
      const removed = [];
      for (const m of changed) {
        const current = held(m.tmdb_id);
        // Without `change`, a live row is taken as it comes (the stream sends
        // them in order), and one that raced with a reload unless older.
        if (current && !isNewer(m, current, (t, currentT) => !onlyIfNewer || t >= currentT)) {
          // The decayed ranking's answer may have brought this version
          // first: the stream's word still decides the classic window.
          if (trendOnly.has(m.tmdb_id)) add(current);
          continue;
        }
        if (m.status === 'removed') {
          // Only movies the board held (in either ranking): a replay
          // re-sends every removed row, and the user never saw most of them.
          if (movies.delete(m.tmdb_id) || trendOnly.delete(m.tmdb_id)) {
            removed.push(m);
            serverTotal = Math.max(0, serverTotal - 1);
          }
        } else if (movies.has(m.tmdb_id)) {
          movies.set(m.tmdb_id, m);
        } else {
          add(m);
        }
      }
      if (changed.length) {
        moviesVersion++;
        invalidate();
      }
      return removed;
    },

    /** Adds or updates one movie we learnt about outside the stream (e.g. a 202). */
    upsert(movie) {
      const current = held(movie.tmdb_id);
      if (current && !isNewer(movie, current, (t, currentT) => t > currentT)) return;
      if (movies.has(movie.tmdb_id)) movies.set(movie.tmdb_id, movie);
      else add(movie);
      moviesVersion++;
      invalidate();
    },

    /**
     * Shows time-decayed scores (Map id -> score, or null), for the window
     * named `window`. A new window's scores re-order the board without
     * marking rows as moved: the user asked for another order.
     * `rows`: the movies of that ranking's top (GET /api/trending), and
     * `total`: how many it ranks, so that ranked by it, the board shows
     * its top rather than the classic window's movies.
     */
    setTrendScores(scores, window = null, { rows = [], total = null } = {}) {
      if (scores === trendScores) return;
      if (window !== trendWindow && rankByTrend) newOrder();
      trendScores = scores;
      trendWindow = window;
      trendTotal = total;
      // The same count as the list's, fresher: after a partial load a movie
      // first seen live may be new or one beyond the window, and only the
      // server can tell. After a complete load every new movie comes
      // through the stream, so the store counts them itself.
      if (windowSize !== null && Number.isFinite(total)) serverTotal = total;
      for (const id of trendOnly.keys()) if (!scores?.has(id)) trendOnly.delete(id);
      // The newer of each row wins, as for a 202: the answer may have raced
      // with the stream. Not counted in moviesVersion, which asks for the
      // next answer: these rows are no news to the ranking they came from.
      for (const m of rows) {
        const current = held(m.tmdb_id);
        if (current) {
          if (isNewer(m, current, (t, currentT) => t > currentT)) (movies.has(m.tmdb_id) ? movies : trendOnly).set(m.tmdb_id, m);
        } else if (windowSize !== null && m.status !== 'removed') {
          // After a complete load the stream brings every movie (and only
          // it can say a movie is new); after a partial one, this is beyond.
          trendOnly.set(m.tmdb_id, m);
        }
      }
      invalidate();
    },

    /** Orders by the decayed score (true) or the classic one (false). */
    setRankByTrend(on) {
      if (on === rankByTrend) return;
      rankByTrend = on;
      newOrder();
      invalidate();
    },
  };
}
