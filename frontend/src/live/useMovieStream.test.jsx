import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SILENCE_MS, useMovieStream } from './useMovieStream.js';
import { createMovieStore } from './movieStore.js';
import { FakeEventSource, fakeApi, json, movie, problem, setVisibility } from '../test/fakes.js';

const syncStore = () => createMovieStore({ schedule: (fn) => fn() });

/** A stream under fake timers, over a list of one movie: its hook's result and the first EventSource. */
function streamOfOneMovie() {
  vi.useFakeTimers();
  fakeApi({ 'GET /api/movies': () => [movie(1)] });
  const store = syncStore();
  const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
  return { result, store, first: FakeEventSource.latest() };
}

describe('useMovieStream', () => {
  beforeEach(() => {
    FakeEventSource.reset();
    // No jitter in our back-off, so that the tests can tell its delays.
    vi.spyOn(Math, 'random').mockReturnValue(0);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('loads the ranking on ready, then merges changes', async () => {
    fakeApi({ 'GET /api/movies': () => [movie(1, { internal_views_count: 1 })] });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    expect(result.current.state).toBe('connecting');
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    expect(fetch.calls[0].query.get('limit')).toBe('1000');
    act(() => FakeEventSource.latest().emit('movies', [movie(1, { internal_views_count: 2, last_updated_at: '2026-01-01T00:00:01Z' })]));
    expect(store.getSnapshot().byId.get(1).movie.internal_views_count).toBe(2);
  });

  it('keeps changes that arrive while the list loads', async () => {
    let release;
    fakeApi({ 'GET /api/movies': () => new Promise((ok) => (release = ok)) });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('loading');
    act(() => FakeEventSource.latest().emit('movies', [movie(2, { last_updated_at: '2026-01-01T00:00:09Z' })]));
    await act(async () => release([movie(1)]));
    await waitFor(() => expect(result.current.state).toBe('live'));
    expect([...store.getSnapshot().byId.keys()].sort()).toEqual([1, 2]);
  });

  it('keeps only the newest change of each movie while the list loads', async () => {
    let release;
    fakeApi({ 'GET /api/movies': () => new Promise((ok) => (release = ok)) });
    const store = syncStore();
    const applyChanges = vi.spyOn(store, 'applyChanges');
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    // A slow load: many events, a few movies.
    for (let change = 1; change <= 100; change++) {
      act(() => FakeEventSource.latest().emit('movies', [movie(2 + (change % 2), { change, internal_views_count: change })]));
    }
    act(() => FakeEventSource.latest().emit('movies', [movie(3, { change: 7 })])); // older than the one kept
    await act(async () => release([movie(1, { change: 0 })]));
    await waitFor(() => expect(result.current.state).toBe('live'));
    expect(applyChanges).toHaveBeenCalledTimes(1);
    expect(applyChanges.mock.calls[0][0].map((m) => [m.tmdb_id, m.change])).toEqual([
      [3, 99],
      [2, 100],
    ]);
    expect(store.getSnapshot().byId.get(2).movie.internal_views_count).toBe(100);
  });

  it('reports removed movies', async () => {
    fakeApi({ 'GET /api/movies': () => [movie(1), movie(999)] });
    const onRemoved = vi.fn();
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { onRemoved, EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    act(() => FakeEventSource.latest().emit('movies', [movie(999, { status: 'removed', title: null })]));
    expect(onRemoved).toHaveBeenCalledWith([expect.objectContaining({ tmdb_id: 999 })]);
    expect(store.getSnapshot().byId.has(999)).toBe(false);
  });

  it('shows a dropped connection and reloads when the browser reconnects', async () => {
    fakeApi({ 'GET /api/movies': () => [movie(1)] });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    act(() => FakeEventSource.latest().drop());
    expect(result.current.state).toBe('reconnecting');
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    expect(fetch.calls.filter((c) => c.path === '/api/movies')).toHaveLength(2);
  });

  it('stays reconnecting when the connection drops while the list loads', async () => {
    let release;
    fakeApi({ 'GET /api/movies': () => new Promise((ok) => (release = ok)) });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('loading');
    act(() => FakeEventSource.latest().drop());
    await act(async () => release([movie(1)]));
    expect(store.getSnapshot().loaded).toBe(true);
    expect(result.current).toEqual({ state: 'reconnecting', error: 'Lost the connection to the server.' });
    // Back: the browser reconnected and the server said ready again.
    act(() => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('loading');
    await act(async () => release([movie(1)]));
    expect(result.current.state).toBe('live');
  });

  it('does not report removals of movies it never showed, as after a replay', async () => {
    fakeApi({ 'GET /api/movies': () => [movie(1)] });
    const onRemoved = vi.fn();
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { onRemoved, EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    // A replay re-sends every row, with the movies removed long ago.
    act(() => FakeEventSource.latest().emit('movies', [movie(1, { change: 50 }), movie(999, { status: 'removed', title: null, change: 51 })]));
    expect(onRemoved).not.toHaveBeenCalled();
    expect([...store.getSnapshot().byId.keys()]).toEqual([1]);
  });

  it('keeps a movie beyond the loaded thousand off the board', async () => {
    const top = [movie(1, { final_trend_score: 9 }), movie(2, { final_trend_score: 8 })];
    fakeApi({ 'GET /api/movies': () => new Response(JSON.stringify(top), { headers: { 'Content-Type': 'application/json', 'X-Total-Count': '1200' } }) });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    act(() => FakeEventSource.latest().emit('ready', {}));
    await waitFor(() => expect(result.current.state).toBe('live'));
    act(() => FakeEventSource.latest().emit('movies', [movie(1200, { final_trend_score: 1, internal_views_count: 1 })]));
    expect(store.getSnapshot()).toMatchObject({ count: 2, serverTotal: 1200 });
    expect(store.getSnapshot().byId.has(1200)).toBe(false);
  });

  it('opens a new stream itself when the server refused one', async () => {
    const { result, first } = streamOfOneMovie();
    act(() => first.refuse());
    expect(result.current).toMatchObject({ state: 'reconnecting', error: expect.stringMatching(/refused/) });
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(first.closed).toBe(true);
  });

  it('loads the list once per retry while the stream is refused before it ever loaded, without claiming live', async () => {
    const { result, store, first } = streamOfOneMovie();
    const listCalls = () => fetch.calls.filter((c) => c.path === '/api/movies');
    // Refused (too many streams): the list still answers, and the board shows it.
    await act(async () => first.refuse());
    expect(listCalls()).toHaveLength(1);
    expect(store.getSnapshot()).toMatchObject({ loaded: true, count: 1 });
    expect(result.current).toMatchObject({ state: 'reconnecting', error: expect.stringMatching(/refused/) });
    // The stream is still retried; loaded once, the list is not asked again.
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
    await act(async () => FakeEventSource.latest().refuse());
    expect(listCalls()).toHaveLength(1);
    // Accepted at last: the stream's `ready` reloads it, and now it is live.
    await act(async () => vi.advanceTimersByTime(2000));
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('live');
    expect(listCalls()).toHaveLength(2);
  });

  it('asks for the list at most once per retry of a refused stream while the list fails too', async () => {
    vi.useFakeTimers();
    fakeApi({ 'GET /api/movies': () => problem(503, 'the service cannot store or read data right now; retry shortly') });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    const listCalls = () => fetch.calls.filter((c) => c.path === '/api/movies');
    await act(async () => FakeEventSource.latest().refuse());
    expect(listCalls()).toHaveLength(1);
    expect(store.getSnapshot().loaded).toBe(false);
    expect(result.current).toMatchObject({ state: 'reconnecting', error: expect.stringMatching(/refused/) });
    await act(async () => vi.advanceTimersByTime(999));
    expect(listCalls()).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(listCalls()).toHaveLength(1);
    await act(async () => FakeEventSource.latest().refuse());
    expect(listCalls()).toHaveLength(2);
  });

  it('spreads its reconnects at random, up to half as long again', async () => {
    const { first } = streamOfOneMovie();
    Math.random.mockReturnValue(0.99);
    act(() => first.refuse());
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(495));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('backs off when the browser’s own reconnects keep failing', async () => {
    const { result, first } = streamOfOneMovie();
    act(() => first.drop());
    act(() => first.drop());
    expect(first.closed).toBe(false); // the browser's retries, for now
    expect(result.current.state).toBe('reconnecting');
    act(() => first.drop());
    expect(first.closed).toBe(true);
    // The first reason stays while reconnecting (see below).
    expect(result.current).toMatchObject({ state: 'reconnecting', error: 'Lost the connection to the server.' });
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
    // Failing again: the next waits twice as long.
    const second = FakeEventSource.latest();
    act(() => second.drop());
    act(() => second.drop());
    act(() => second.drop());
    await act(async () => vi.advanceTimersByTime(1999));
    expect(FakeEventSource.instances).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(1));
    expect(FakeEventSource.instances).toHaveLength(3);
  });

  it('keeps the first reason through every retry, so the badge is not re-announced each time', async () => {
    const { result } = streamOfOneMovie();
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('live');
    act(() => FakeEventSource.latest().drop());
    const down = result.current;
    expect(down).toEqual({ state: 'reconnecting', error: 'Lost the connection to the server.' });
    // Two rounds of the browser's retries and our back-off, then a refusal.
    for (let round = 0; round < 2; round++) {
      const source = FakeEventSource.latest();
      act(() => source.drop());
      act(() => source.drop());
      await act(async () => vi.advanceTimersByTime(60_000));
      expect(result.current).toBe(down);
    }
    act(() => FakeEventSource.latest().refuse());
    expect(result.current).toBe(down);
    // Live again: the next outage says its own reason. (The stream our
    // back-off opens connects at once: a wait past its watchdog would see
    // it taken for dead too.)
    const refused = FakeEventSource.latest();
    for (let waited = 0; FakeEventSource.latest() === refused && waited < 60_000; waited += 100) {
      await act(async () => vi.advanceTimersByTime(100));
    }
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    expect(result.current).toEqual({ state: 'live', error: null });
    act(() => FakeEventSource.latest().refuse());
    expect(result.current).toEqual({ state: 'reconnecting', error: 'The server refused the live stream.' });
  });

  it('takes a stream silent for too long for dead, and opens a new one', async () => {
    const { result, first } = streamOfOneMovie();
    await act(async () => first.emit('ready', {}));
    expect(result.current.state).toBe('live');
    // The server's pings (and any other event) keep it alive, for as long as they come.
    for (let i = 0; i < 10; i++) {
      await act(async () => vi.advanceTimersByTime(15_000));
      act(() => first.emit(i % 2 ? 'ping' : 'movies', i % 2 ? {} : []));
    }
    await act(async () => vi.advanceTimersByTime(SILENCE_MS - 1));
    expect(first.closed).toBe(false);
    expect(result.current.state).toBe('live');
    // Half-open: nothing more comes, and no error either.
    await act(async () => vi.advanceTimersByTime(1));
    expect(first.closed).toBe(true);
    expect(result.current).toEqual({ state: 'reconnecting', error: 'Lost the connection to the server.' });
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('live');
    expect(fetch.calls.filter((c) => c.path === '/api/movies')).toHaveLength(2);
  });

  it('takes a stream that never connects for dead too', async () => {
    const { result, first } = streamOfOneMovie();
    // A proxy took the connection and sends nothing: no event, no error.
    await act(async () => vi.advanceTimersByTime(SILENCE_MS - 1));
    expect(first.closed).toBe(false);
    await act(async () => vi.advanceTimersByTime(1));
    expect(first.closed).toBe(true);
    expect(result.current).toEqual({ state: 'reconnecting', error: 'Lost the connection to the server.' });
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('leaves the browser its own reconnect, unless that hangs for silenceMs', async () => {
    const { first } = streamOfOneMovie();
    await act(async () => first.emit('ready', {}));
    act(() => first.drop()); // the browser retries by itself
    // Its retry reached a proxy that accepted and sends nothing: no event,
    // no error, for ever, unless we give up on it.
    await act(async () => vi.advanceTimersByTime(SILENCE_MS - 1));
    expect(first.closed).toBe(false);
    expect(FakeEventSource.instances).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(first.closed).toBe(true);
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('counts the browser’s failed reconnects per stream', async () => {
    const { first } = streamOfOneMovie();
    act(() => first.drop());
    act(() => first.drop());
    act(() => first.refuse()); // closed: our reconnect
    await act(async () => vi.advanceTimersByTime(1000));
    const second = FakeEventSource.latest();
    expect(second).not.toBe(first);
    // Two failures of the new stream: still the browser's to retry.
    act(() => second.drop());
    act(() => second.drop());
    expect(second.closed).toBe(false);
    act(() => second.drop());
    expect(second.closed).toBe(true);
  });

  it('retries when the ranking cannot be loaded, saying why', async () => {
    vi.useFakeTimers();
    fakeApi({ 'GET /api/movies': () => problem(503, 'the service cannot store or read data right now; retry shortly') });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    await act(async () => {});
    expect(result.current.state).toBe('reconnecting');
    expect(result.current.error).toBe('Could not load the ranking: the service cannot store or read data right now; retry shortly');
    await act(async () => vi.advanceTimersByTime(1000));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('waits as long as a 503’s Retry-After asks before trying again', async () => {
    vi.useFakeTimers();
    const down = { type: '/problems/x', title: 'Problem', status: 503, detail: 'the service cannot store or read data right now; retry shortly' };
    fakeApi({ 'GET /api/movies': () => json(503, down, { 'Retry-After': '10' }) });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource }));
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    await act(async () => {});
    expect(result.current.state).toBe('reconnecting');
    await act(async () => vi.advanceTimersByTime(9999));
    expect(FakeEventSource.instances).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('closes the stream of a tab hidden for the grace period, and reloads when shown again', async () => {
    vi.useFakeTimers();
    let list = [movie(1)];
    fakeApi({ 'GET /api/movies': () => list });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource, hiddenGraceMs: 1000 }));
    const first = FakeEventSource.latest();
    await act(async () => first.emit('ready', {}));
    expect(result.current.state).toBe('live');

    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(999));
    expect(first.closed).toBe(false);
    await act(async () => vi.advanceTimersByTime(1));
    expect(first.closed).toBe(true);
    expect(result.current).toEqual({ state: 'paused', error: null });

    // Missed while paused: the reload brings it.
    list = [movie(1), movie(2)];
    act(() => setVisibility('visible'));
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(result.current).toEqual({ state: 'reconnecting', error: null });
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    expect(result.current.state).toBe('live');
    expect(fetch.calls.filter((c) => c.path === '/api/movies')).toHaveLength(2);
    expect([...store.getSnapshot().byId.keys()].sort()).toEqual([1, 2]);
  });

  it('keeps the stream of a tab hidden for less than the grace period', async () => {
    vi.useFakeTimers();
    fakeApi({ 'GET /api/movies': () => [movie(1)] });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource, hiddenGraceMs: 1000 }));
    await act(async () => FakeEventSource.latest().emit('ready', {}));
    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(900));
    act(() => setVisibility('visible'));
    // A second short absence starts the grace period afresh.
    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(900));
    act(() => setVisibility('visible'));
    await act(async () => vi.advanceTimersByTime(10_000));
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.latest().closed).toBe(false);
    expect(result.current.state).toBe('live');
  });

  it('pauses a tab opened in the background, and stops retrying while paused', async () => {
    vi.useFakeTimers();
    setVisibility('hidden');
    fakeApi({ 'GET /api/movies': () => [movie(1)] });
    const store = syncStore();
    const { result } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource, hiddenGraceMs: 500 }));
    act(() => FakeEventSource.latest().refuse());
    expect(result.current.state).toBe('reconnecting');
    await act(async () => vi.advanceTimersByTime(500));
    expect(result.current).toEqual({ state: 'paused', error: null });
    await act(async () => vi.advanceTimersByTime(60_000));
    expect(FakeEventSource.instances).toHaveLength(1);
    // Shown: no back-off left to wait for.
    act(() => setVisibility('visible'));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it('stops watching the page when unmounted', async () => {
    vi.useFakeTimers();
    fakeApi({});
    const store = syncStore();
    const { unmount } = renderHook(() => useMovieStream(store, { EventSourceImpl: FakeEventSource, hiddenGraceMs: 500 }));
    act(() => setVisibility('hidden'));
    unmount();
    await act(async () => vi.advanceTimersByTime(1000));
    act(() => setVisibility('visible'));
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('closes the stream when unmounted', () => {
    fakeApi({});
    const { unmount } = renderHook(() => useMovieStream(syncStore(), { EventSourceImpl: FakeEventSource }));
    unmount();
    expect(FakeEventSource.latest().closed).toBe(true);
  });
});
