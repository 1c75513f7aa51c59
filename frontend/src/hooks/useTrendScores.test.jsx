import { act, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTrendScores } from './useTrendScores.js';
import { fakeApi, movie, problem, setVisibility } from '../test/fakes.js';

const trendingCalls = () => fetch.calls.filter((c) => c.path === '/api/trending');

describe('useTrendScores', () => {
  afterEach(() => vi.useRealTimers());

  it('stops polling while the page is hidden, and asks at once when it is shown', async () => {
    vi.useFakeTimers();
    fakeApi({ 'GET /api/trending': () => [{ ...movie(1), trend_score: 3.5 }] });
    const { result } = renderHook(({ changed }) => useTrendScores('day', changed), { initialProps: { changed: 0 } });
    await act(async () => {});
    expect(result.current.scores.get(1)).toBe(3.5);
    expect(result.current.rows).toEqual([{ ...movie(1), trend_score: 3.5 }]);

    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(30_000));
    expect(trendingCalls()).toHaveLength(1);

    await act(async () => setVisibility('visible'));
    expect(trendingCalls()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(5000));
    expect(trendingCalls()).toHaveLength(3);
  });

  it('asks again soon after a poll that was in flight when the movies changed', async () => {
    vi.useFakeTimers();
    let release = null;
    fakeApi({
      'GET /api/trending': () => (trendingCalls().length === 2 ? new Promise((ok) => (release = ok)) : [{ ...movie(1), trend_score: 3.5 }]),
    });
    const { result, rerender } = renderHook(({ changed }) => useTrendScores('day', changed), { initialProps: { changed: 0 } });
    await act(async () => {});
    expect(trendingCalls()).toHaveLength(1);
    // The second poll (at 5 s) is in flight when the movies change.
    await act(async () => vi.advanceTimersByTime(5000));
    expect(trendingCalls()).toHaveLength(2);
    rerender({ changed: 1 });
    await act(async () => vi.advanceTimersByTime(100));
    await act(async () => release([{ ...movie(1), trend_score: 3.6 }]));
    expect(result.current.scores.get(1)).toBe(3.6);
    // Its answer may predate the change: asked again 1.5 s after it began, not 5 s after it ended.
    await act(async () => vi.advanceTimersByTime(1399));
    expect(trendingCalls()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(1));
    expect(trendingCalls()).toHaveLength(3);
  });

  it('keeps the last scores through failures, says why, and asks less often while they last', async () => {
    vi.useFakeTimers();
    let down = false;
    fakeApi({ 'GET /api/trending': () => (down ? problem(503, 'down for a moment') : [{ ...movie(1), trend_score: 3.5 }]) });
    const { result, rerender } = renderHook(({ changed }) => useTrendScores('day', changed), { initialProps: { changed: 0 } });
    await act(async () => {});
    expect(result.current.error).toBe(null);

    down = true;
    await act(async () => vi.advanceTimersByTime(5000));
    expect(trendingCalls()).toHaveLength(2);
    expect(result.current.error).toBe('down for a moment');
    expect(result.current.scores.get(1)).toBe(3.5);
    // A change nudges no call while failing; the next waits 10 s, not 5.
    rerender({ changed: 1 });
    await act(async () => vi.advanceTimersByTime(9999));
    expect(trendingCalls()).toHaveLength(2);
    down = false;
    await act(async () => vi.advanceTimersByTime(1));
    expect(trendingCalls()).toHaveLength(3);
    expect(result.current.error).toBe(null);
  });

  it('does not give one window’s error as the next window’s', async () => {
    fakeApi({ 'GET /api/trending': ({ query }) => (query.get('window') === 'week' ? problem(503, 'week is down') : new Promise(() => {})) });
    const dayErrors = []; // what every render for the day gave, the first one included
    const { result, rerender } = renderHook(
      ({ window }) => {
        const state = useTrendScores(window, 0);
        if (window === 'day') dayErrors.push(state.error);
        return state;
      },
      { initialProps: { window: 'week' } },
    );
    await act(async () => {});
    expect(result.current.error).toBe('week is down');
    // The day's scores are still on their way: nothing is known to be wrong with them.
    rerender({ window: 'day' });
    await act(async () => {});
    expect(dayErrors.length).toBeGreaterThan(0);
    expect(dayErrors.every((e) => e === null)).toBe(true);
    // Back to the week: its old error waits for the new answer.
    rerender({ window: 'week' });
    expect(result.current.error).toBe(null);
    await act(async () => {});
    expect(result.current.error).toBe('week is down');
  });
});
