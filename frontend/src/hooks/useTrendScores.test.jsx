import { act, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTrendScores } from './useTrendScores.js';
import { fakeApi, movie, setVisibility } from '../test/fakes.js';

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
});
