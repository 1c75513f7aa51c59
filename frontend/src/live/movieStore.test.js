import { describe, expect, it } from 'vitest';
import { createMovieStore, MOVE_VISIBLE_MS } from './movieStore.js';
import { movie } from '../test/fakes.js';

/** A store whose frames and timers the test runs by hand. */
function manualStore() {
  let frames = [];
  let timers = [];
  let clock = 1000;
  const store = createMovieStore({
    schedule: (fn) => frames.push(fn),
    now: () => clock,
    setTimer: (fn, ms) => {
      timers.push({ fn, at: clock + ms });
      return timers.length;
    },
  });
  return {
    store,
    frame() {
      const f = frames;
      frames = [];
      f.forEach((fn) => fn());
      return store.getSnapshot();
    },
    pendingFrames: () => frames.length,
    advance(ms) {
      clock += ms;
      const due = timers.filter((t) => t.at <= clock);
      timers = timers.filter((t) => t.at > clock);
      due.forEach((t) => t.fn());
    },
  };
}

const ids = (snap) => snap.rows.map((r) => r.id);

describe('movie store', () => {
  it('ranks by score descending, then by id, like the server', () => {
    const { store, frame } = manualStore();
    store.reset([movie(3, { final_trend_score: 5 }), movie(1, { final_trend_score: 5 }), movie(2, { final_trend_score: 9 })]);
    const snap = frame();
    expect(ids(snap)).toEqual([2, 1, 3]);
    expect(snap.rows.map((r) => r.rank)).toEqual([1, 2, 3]);
    expect(snap.loaded).toBe(true);
    // A reload does not mark anything as moved.
    expect(snap.rows.every((r) => r.move === null)).toBe(true);
  });

  it('publishes many changes in one frame', () => {
    const { store, frame, pendingFrames } = manualStore();
    store.reset([movie(1), movie(2)]);
    frame();
    for (let i = 0; i < 100; i++) store.applyChanges([movie(1, { internal_views_count: i })]);
    expect(pendingFrames()).toBe(1);
    expect(frame().byId.get(1).movie.internal_views_count).toBe(99);
  });

  it('keeps the row objects of movies that did not change', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 }), movie(3, { final_trend_score: 1 })]);
    const before = frame();
    store.applyChanges([movie(3, { final_trend_score: 2, internal_views_count: 4 })]);
    const after = frame();
    expect(after.rows[0]).toBe(before.rows[0]);
    expect(after.rows[1]).toBe(before.rows[1]);
    expect(after.rows[2]).not.toBe(before.rows[2]);
  });

  it('marks rows that moved, and clears the marks later', () => {
    const h = manualStore();
    h.store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 })]);
    h.frame();
    h.store.applyChanges([movie(2, { final_trend_score: 9.5 })]);
    let snap = h.frame();
    expect(ids(snap)).toEqual([2, 1]);
    expect(snap.byId.get(2).move).toMatchObject({ delta: 1, isNew: false });
    expect(snap.byId.get(1).move).toMatchObject({ delta: -1 });
    h.advance(MOVE_VISIBLE_MS + 5);
    snap = h.frame();
    expect(snap.byId.get(2).move).toBeNull();
  });

  it('marks movies that arrive live as new', () => {
    const h = manualStore();
    h.store.reset([movie(1)]);
    h.frame();
    h.store.applyChanges([movie(2, { status: 'pending', title: null, final_trend_score: 0 })]);
    expect(h.frame().byId.get(2).move).toMatchObject({ isNew: true });
  });

  it('drops removed movies and reports them', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1), movie(2)]);
    frame();
    const removed = store.applyChanges([movie(2, { status: 'removed' })]);
    expect(removed.map((m) => m.tmdb_id)).toEqual([2]);
    expect(ids(frame())).toEqual([1]);
  });

  it('ignores changes older than the reloaded list when asked to', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1, { internal_views_count: 5, last_updated_at: '2026-01-01T00:00:05Z' })]);
    store.applyChanges([movie(1, { internal_views_count: 3, last_updated_at: '2026-01-01T00:00:03Z' })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(5);
    store.applyChanges([movie(1, { internal_views_count: 6, last_updated_at: '2026-01-01T00:00:06Z' })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
  });

  it('reports only removals of movies that were on the board', () => {
    // A replay re-sends every row, removed ones included: those were never shown.
    const { store, frame } = manualStore();
    store.reset([movie(1), movie(2)]);
    frame();
    expect(store.applyChanges([movie(7, { status: 'removed' }), movie(2, { status: 'removed' })]).map((m) => m.tmdb_id)).toEqual([2]);
    expect(store.applyChanges([movie(2, { status: 'removed' })])).toEqual([]);
    expect(store.applyChanges([movie(8, { status: 'removed' })], { onlyIfNewer: true })).toEqual([]);
    expect(ids(frame())).toEqual([1]);
  });

  it('orders versions of a row by its change number when both carry one', () => {
    const { store, frame } = manualStore();
    const at = '2026-01-01T00:00:05Z';
    store.reset([movie(1, { internal_views_count: 5, change: 10, last_updated_at: at })]);
    // Same timestamp, older change: the list's row stays.
    store.applyChanges([movie(1, { internal_views_count: 4, change: 9, last_updated_at: at })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(5);
    // Equal change: the current row stays.
    store.applyChanges([movie(1, { internal_views_count: 4, change: 10, last_updated_at: at })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(5);
    // Newer change with an older timestamp (an old viewed_at): it wins.
    store.applyChanges([movie(1, { internal_views_count: 6, change: 11, last_updated_at: '2026-01-01T00:00:01Z' })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
    // A stale row from the stream never overwrites a newer one.
    store.applyChanges([movie(1, { internal_views_count: 3, change: 8, last_updated_at: at })]);
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
    // Nor from a 202; a newer one does, whatever its timestamp.
    store.upsert(movie(1, { internal_views_count: 2, change: 7, last_updated_at: '2026-01-01T00:00:09Z' }));
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
    store.upsert(movie(1, { internal_views_count: 7, change: 12, last_updated_at: at }));
    expect(frame().byId.get(1).movie.internal_views_count).toBe(7);
  });

  it('falls back to last_updated_at when a row has no change number', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1, { internal_views_count: 5, change: 10, last_updated_at: '2026-01-01T00:00:05Z' })]);
    store.applyChanges([movie(1, { internal_views_count: 3, last_updated_at: '2026-01-01T00:00:03Z' })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(5);
    store.applyChanges([movie(1, { internal_views_count: 6, last_updated_at: '2026-01-01T00:00:06Z' })], { onlyIfNewer: true });
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
    store.upsert(movie(1, { internal_views_count: 2, last_updated_at: '2026-01-01T00:00:06Z' }));
    expect(frame().byId.get(1).movie.internal_views_count).toBe(6);
    // Only one of the two rows has a number: a live row is taken as it comes.
    store.applyChanges([movie(1, { internal_views_count: 8, change: 20, last_updated_at: '2026-01-01T00:00:06Z' })]);
    expect(frame().byId.get(1).movie.internal_views_count).toBe(8);
  });

  it('keeps to the loaded window when the server has more movies than were loaded', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 })], 1500);
    frame();
    // Ranked 1,200th on the server: not ours to show.
    store.applyChanges([movie(1200, { final_trend_score: 1 })]);
    expect(ids(frame())).toEqual([1, 2]);
    store.upsert(movie(1201, { status: 'pending', final_trend_score: 0 }));
    expect(ids(frame())).toEqual([1, 2]);
    // Beats the lowest loaded: it enters, and the lowest leaves.
    store.applyChanges([movie(3, { final_trend_score: 7 })]);
    let snap = frame();
    expect(ids(snap)).toEqual([1, 3]);
    expect(snap.serverTotal).toBe(1500);
    // Ties go by id, as on the server: 4 ranks below 3.
    store.applyChanges([movie(4, { final_trend_score: 7 })]);
    expect(ids(frame())).toEqual([1, 3]);
    // Movies already on the board still change, whatever their score.
    store.applyChanges([movie(3, { final_trend_score: 0.5 })]);
    snap = frame();
    expect(ids(snap)).toEqual([1, 3]);
    expect(snap.byId.get(3).movie.final_trend_score).toBe(0.5);
  });

  it('adds new movies when the whole list was loaded', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 })], 2);
    frame();
    store.applyChanges([movie(3, { status: 'pending', final_trend_score: 0 })]);
    const snap = frame();
    expect(ids(snap)).toEqual([1, 2, 3]);
    expect(snap.serverTotal).toBe(3);
  });

  it('keeps the server total in step with removals', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1), movie(2), movie(3)], 3);
    frame();
    store.applyChanges([movie(3, { status: 'removed' })]);
    let snap = frame();
    expect(snap.count).toBe(2);
    expect(snap.serverTotal).toBe(2);
    // Removed again (a replay re-sends it): counted once.
    store.applyChanges([movie(3, { status: 'removed' })]);
    expect(frame().serverTotal).toBe(2);

    store.reset([movie(1), movie(2)], 10);
    store.applyChanges([movie(2, { status: 'removed' })]);
    snap = frame();
    expect(snap.count).toBe(1);
    expect(snap.serverTotal).toBe(9);
  });

  it('ranks by the decayed score when asked, without marking rows as moved', () => {
    const h = manualStore();
    h.store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 })]);
    h.frame();
    h.store.setTrendScores(new Map([[1, 0.5], [2, 3.2]]), 'day');
    let snap = h.frame();
    expect(ids(snap)).toEqual([1, 2]); // still classic: the scores are only shown
    expect(snap.byId.get(2).trendScore).toBe(3.2);
    h.store.setRankByTrend(true);
    snap = h.frame();
    expect(ids(snap)).toEqual([2, 1]);
    expect(snap.rows.every((r) => r.move === null)).toBe(true);
  });

  it('counts reloads and changes of ranking, not moves within one ranking', () => {
    const h = manualStore();
    const version = () => h.frame().orderVersion;
    h.store.reset([movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 5 })]);
    const loaded = version();
    h.store.applyChanges([movie(2, { final_trend_score: 10 })]);
    h.store.setTrendScores(new Map([[1, 1], [2, 2]]), 'day'); // shown, not ranked by
    expect(version()).toBe(loaded);
    h.store.setRankByTrend(true);
    const byDay = version();
    expect(byDay).toBeGreaterThan(loaded);
    h.store.setTrendScores(new Map([[1, 3], [2, 2]]), 'day'); // a poll: the same ranking
    expect(version()).toBe(byDay);
    h.store.setTrendScores(new Map([[1, 1], [2, 4]]), 'week');
    const byWeek = version();
    expect(byWeek).toBeGreaterThan(byDay);
    h.store.reset([movie(1), movie(2)]); // after a reconnect
    expect(version()).toBeGreaterThan(byWeek);
  });

  /** The decayed ranking's answer: its rows, and the scores the store takes from them. */
  const trending = (store, rows, total, window = 'day') =>
    store.setTrendScores(new Map(rows.map((m) => [m.tmdb_id, m.trend_score])), window, { rows, total });

  /** Movies 1 to 3 of 5 by the classic score, loaded; 4 and 5 rank beyond. */
  function partialLoad() {
    const h = manualStore();
    h.store.reset([movie(1, { final_trend_score: 9, change: 1 }), movie(2, { final_trend_score: 8, change: 1 }), movie(3, { final_trend_score: 7, change: 1 })], 5);
    h.frame();
    return h;
  }

  it('ranked by a decayed score after a partial load, shows that ranking’s top, not the classic window re-sorted', () => {
    const h = partialLoad();
    // By the day's score 5 leads, 1 follows, then 4; 2 and 3 are not in its top 3.
    const day = (fields = {}) => [
      movie(5, { final_trend_score: 1, change: 1, trend_score: 6, ...fields }),
      movie(1, { final_trend_score: 9, change: 1, trend_score: 4 }),
      movie(4, { final_trend_score: 2, change: 1, trend_score: 3 }),
    ];
    trending(h.store, day(), 5);
    let snap = h.frame();
    expect(ids(snap)).toEqual([1, 2, 3]); // classic: the scores are only shown
    expect(snap.byId.get(1).trendScore).toBe(4);

    h.store.setRankByTrend(true);
    snap = h.frame();
    expect(ids(snap)).toEqual([5, 1, 4]);
    expect(snap).toMatchObject({ count: 3, serverTotal: 5 });
    expect(snap.byId.get(5)).toMatchObject({ rank: 1, trendScore: 6, move: null });

    // The stream keeps them current, though they rank beyond the classic window.
    h.store.applyChanges([movie(5, { final_trend_score: 1.5, internal_views_count: 9, change: 3 })]);
    expect(h.frame().byId.get(5).movie.internal_views_count).toBe(9);
    // An answer that raced with that change does not undo it.
    trending(h.store, day({ internal_views_count: 8, change: 2 }), 5);
    expect(h.frame().byId.get(5).movie.internal_views_count).toBe(9);

    // Back to the classic score: the classic window, as loaded.
    h.store.setRankByTrend(false);
    snap = h.frame();
    expect(ids(snap)).toEqual([1, 2, 3]);
    expect(snap.count).toBe(3);
  });

  it('follows the decayed top from answer to answer, and the stream’s removals', () => {
    const h = partialLoad();
    h.store.setRankByTrend(true);
    trending(h.store, [movie(5, { change: 1, trend_score: 6 }), movie(1, { change: 1, trend_score: 4 })], 5);
    expect(ids(h.frame())).toEqual([5, 1]);
    // 4 enters the top and 5 leaves it.
    trending(h.store, [movie(4, { change: 1, trend_score: 7 }), movie(1, { change: 1, trend_score: 4 })], 5);
    let snap = h.frame();
    expect(ids(snap)).toEqual([4, 1]);
    expect(snap.byId.get(4).move).toMatchObject({ isNew: true });
    // 5 is no longer held: its removal is none of the board's business.
    expect(h.store.applyChanges([movie(5, { status: 'removed', change: 2 })])).toEqual([]);
    // Removed: gone from the board and the count, and reported.
    expect(h.store.applyChanges([movie(4, { status: 'removed', change: 2 })]).map((m) => m.tmdb_id)).toEqual([4]);
    snap = h.frame();
    expect(ids(snap)).toEqual([1]);
    expect(snap.serverTotal).toBe(4);
  });

  it('keeps a movie of the decayed top that leaves the classic window, and lets one it brought first join that window', () => {
    const h = partialLoad();
    trending(h.store, [movie(3, { final_trend_score: 7, change: 1, trend_score: 5 }), movie(4, { final_trend_score: 8.2, change: 4, trend_score: 2 })], 5);
    // 6 beats 3, the lowest of the classic window, which makes room.
    h.store.applyChanges([movie(6, { final_trend_score: 8.5, change: 1 })]);
    expect(ids(h.frame())).toEqual([1, 6, 2]);
    h.store.setRankByTrend(true);
    expect(ids(h.frame())).toEqual([3, 4]); // 3 is still the day's first
    // The answer brought 4's latest version (it now beats 2) before the
    // stream did: the stream's copy, no newer, still puts 4 in the window.
    h.store.applyChanges([movie(4, { final_trend_score: 8.2, change: 4 })]);
    h.store.setRankByTrend(false);
    expect(ids(h.frame())).toEqual([1, 6, 4]);
  });

  it('keeps the decayed top whole through a reload', () => {
    const h = partialLoad();
    h.store.setRankByTrend(true);
    trending(h.store, [movie(5, { change: 1, trend_score: 6 }), movie(2, { final_trend_score: 8, change: 1, trend_score: 4 })], 5);
    expect(ids(h.frame())).toEqual([5, 2]);
    // While the stream was down, 2 fell out of the classic top 3.
    h.store.reset([movie(1, { final_trend_score: 9, change: 2 }), movie(3, { final_trend_score: 7, change: 2 }), movie(4, { final_trend_score: 6, change: 2 })], 5);
    expect(ids(h.frame())).toEqual([5, 2]);
    h.store.setRankByTrend(false);
    expect(ids(h.frame())).toEqual([1, 3, 4]);
  });

  it('ranked by a decayed score that ranks every movie, shows every movie, as before', () => {
    const h = manualStore();
    h.store.reset([movie(1, { final_trend_score: 9, change: 1 }), movie(2, { final_trend_score: 5, change: 1 })], 2);
    h.frame();
    h.store.setRankByTrend(true);
    trending(h.store, [movie(2, { final_trend_score: 5, change: 1, trend_score: 3 }), movie(1, { final_trend_score: 9, change: 1, trend_score: 1 })], 2);
    expect(ids(h.frame())).toEqual([2, 1]);
    // Registered since that answer: shown, last, until the next one ranks it.
    h.store.applyChanges([movie(3, { status: 'pending', final_trend_score: 0, change: 1 })]);
    const snap = h.frame();
    expect(ids(snap)).toEqual([2, 1, 3]);
    expect(snap.byId.get(3).trendScore).toBeNull();
    expect(snap.serverTotal).toBe(3);
  });

  it('takes a later count from the server after a partial load, not after a complete one', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1), movie(2)], 1500);
    frame();
    // A movie registered since ranks beyond the window: only the count says so.
    store.applyChanges([movie(1501, { status: 'pending', final_trend_score: 0 })]);
    expect(frame().serverTotal).toBe(1500);
    store.setTrendScores(new Map(), 'day', { total: 1501 }); // a poll's count
    expect(frame()).toMatchObject({ count: 2, serverTotal: 1501 });

    // After a complete load the store counts every movie itself.
    store.reset([movie(1), movie(2)], 2);
    frame();
    store.setTrendScores(new Map(), 'day', { total: 5 });
    expect(frame().serverTotal).toBe(2);
  });

  it('counts the server total when only the first 1,000 were loaded', () => {
    const { store, frame } = manualStore();
    store.reset([movie(1), movie(2)], 1500);
    const snap = frame();
    expect(snap.count).toBe(2);
    expect(snap.serverTotal).toBe(1500);
  });

  // Its speed is the end-to-end test's to measure (frames a second, reported
  // on every run): a unit test asserts what the ranking holds, not how fast.
  it('keeps 1,000 movies ranked through a second of 100 updates a second', () => {
    const { store, frame } = manualStore();
    const want = new Map(Array.from({ length: 1000 }, (_, i) => [i + 1, { score: ((i * 7919) % 100) / 10, views: 0 }]));
    store.reset([...want].map(([id, w]) => movie(id, { final_trend_score: w.score })));
    frame();
    // One second of traffic at 100 updates/s, published at 60 frames/s.
    let snap;
    for (let f = 0; f < 60; f++) {
      for (let u = 0; u < 2; u++) {
        const id = 1 + ((f * 31 + u * 17) % 1000);
        const score = ((f + u) % 100) / 10;
        store.applyChanges([movie(id, { final_trend_score: score, internal_views_count: f, last_updated_at: new Date(Date.UTC(2026, 0, 1, 0, 1, f, u)).toISOString() })]);
        want.set(id, { score, views: f });
      }
      snap = frame();
    }
    expect(snap.rows).toHaveLength(1000);
    const expected = [...want].sort(([a, x], [b, y]) => y.score - x.score || a - b).map(([id]) => id);
    expect(ids(snap)).toEqual(expected);
    for (const r of snap.rows) {
      expect([r.movie.final_trend_score, r.movie.internal_views_count]).toEqual([want.get(r.id).score, want.get(r.id).views]);
    }
  });
});
