import { act, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { usePolling } from './usePolling.js';
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
});
