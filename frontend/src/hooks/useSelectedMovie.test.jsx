import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { useSelectedMovie } from './useSelectedMovie.js';

describe('useSelectedMovie', () => {
  it('keeps a movie opened while the closing of the last one goes back through the history', async () => {
    const { result } = renderHook(() => useSelectedMovie());
    const before = history.length;
    act(() => result.current[1](5));
    expect(window.location.hash).toBe('#movie/5');
    // Closed, then another opened at once: history.back() has not landed yet.
    act(() => {
      result.current[1](null);
      result.current[1](7);
    });
    await waitFor(() => expect(window.location.hash).toBe('#movie/7'));
    // Landed: still movie 7, in one entry above the page's.
    await new Promise((r) => setTimeout(r, 50));
    expect(result.current[0]).toBe(7);
    expect(window.location.hash).toBe('#movie/7');
    expect(history.length).toBe(before + 1);
  });

  it('closes a movie opened from a link in place, with no entry to go back over', () => {
    history.replaceState(null, '', '/#movie/9');
    const { result } = renderHook(() => useSelectedMovie());
    expect(result.current[0]).toBe(9);
    act(() => result.current[1](null));
    expect(result.current[0]).toBe(null);
    expect(window.location.hash).toBe('');
  });

  it('closes a movie opened from the board over a linked one, and Back and Forward still go between them', async () => {
    history.replaceState(null, '', '/#movie/9');
    const { result } = renderHook(() => useSelectedMovie());
    act(() => result.current[1](5));
    expect(window.location.hash).toBe('#movie/5');
    // Close goes back over movie 5's entry, onto the link's: no movie shows.
    act(() => result.current[1](null));
    await waitFor(() => expect(window.location.hash).toBe(''));
    await new Promise((r) => setTimeout(r, 50));
    expect(result.current[0]).toBe(null);
    expect(window.location.hash).toBe('');
    // Forward opens movie 5 again; Back closes it.
    act(() => history.forward());
    await waitFor(() => expect(result.current[0]).toBe(5));
    act(() => history.back());
    await waitFor(() => expect(result.current[0]).toBe(null));
    expect(window.location.hash).toBe('');
  });

  it('shows the linked movie again when the user goes Back to it from another', async () => {
    history.replaceState(null, '', '/#movie/9');
    const { result } = renderHook(() => useSelectedMovie());
    act(() => result.current[1](5));
    act(() => history.back());
    await waitFor(() => expect(result.current[0]).toBe(9));
    expect(window.location.hash).toBe('#movie/9');
  });
});
