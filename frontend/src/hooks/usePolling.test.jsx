import { act, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BACKOFF_MS, nextDelay, usePolling } from './usePolling.js';
import { ApiError } from '../api/client.js';
import { setVisibility } from '../test/fakes.js';

describe('usePolling', () => {
  afterEach(() => vi.useRealTimers());

  it('asks nothing while the page is hidden, and asks at once when it is shown', async () => {
    vi.useFakeTimers();
    const load = vi.fn(async () => 'data');
    const { result } = renderHook(() => usePolling(load, 1000));
    await act(async () => {});
    expect(result.current.data).toBe('data');
    await act(async () => vi.advanceTimersByTime(1000));
    expect(load).toHaveBeenCalledTimes(2);

    act(() => setVisibility('hidden'));
    await act(async () => vi.advanceTimersByTime(10_000));
    expect(load).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0); // nothing ticking in a background tab

    await act(async () => setVisibility('visible'));
    expect(load).toHaveBeenCalledTimes(3);
    await act(async () => vi.advanceTimersByTime(1000));
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('does not ask twice when shown again before the next call is due', async () => {
    vi.useFakeTimers();
    const load = vi.fn(async () => 'data');
    renderHook(() => usePolling(load, 1000));
    await act(async () => {});
    act(() => setVisibility('hidden'));
    await act(async () => setVisibility('visible'));
    await act(async () => vi.advanceTimersByTime(999));
    expect(load).toHaveBeenCalledTimes(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('waits longer after each failure, and the interval again after a success', async () => {
    vi.useFakeTimers();
    let fail = true;
    const load = vi.fn(async () => {
      if (fail) throw new ApiError('down', { status: 503 });
      return 'data';
    });
    const { result } = renderHook(() => usePolling(load, 1000));
    await act(async () => {});
    expect(load).toHaveBeenCalledTimes(1);
    expect(result.current.error).toBe('down');
    // Failed once: the next call after 2 s, then 4 s.
    await act(async () => vi.advanceTimersByTime(1999));
    expect(load).toHaveBeenCalledTimes(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(load).toHaveBeenCalledTimes(2);
    await act(async () => vi.advanceTimersByTime(3999));
    expect(load).toHaveBeenCalledTimes(2);
    fail = false;
    await act(async () => vi.advanceTimersByTime(1));
    expect(load).toHaveBeenCalledTimes(3);
    expect(result.current.data).toBe('data');
    expect(result.current.error).toBe(null);
    await act(async () => vi.advanceTimersByTime(1000));
    expect(load).toHaveBeenCalledTimes(4);
  });

  it("waits at least the server's Retry-After", async () => {
    vi.useFakeTimers();
    const load = vi.fn(async () => {
      throw new ApiError('slow down', { status: 429, retryAfter: 30 });
    });
    renderHook(() => usePolling(load, 1000));
    await act(async () => {});
    await act(async () => vi.advanceTimersByTime(29_999));
    expect(load).toHaveBeenCalledTimes(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('backs off to a ceiling', () => {
    expect(nextDelay(2000, 0)).toBe(2000);
    expect(nextDelay(2000, 1)).toBe(4000);
    expect(nextDelay(2000, 20)).toBe(MAX_BACKOFF_MS);
    expect(nextDelay(120_000, 3)).toBe(120_000); // an interval above the ceiling stays
    expect(nextDelay(2000, 1, 90)).toBe(90_000);
  });
});
