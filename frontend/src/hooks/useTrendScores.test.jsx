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

    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(30_000));
    expect(trendingCalls()).toHaveLength(1);

    await act(async () => setVisibility('visible'));
    expect(trendingCalls()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(5000));
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
});
