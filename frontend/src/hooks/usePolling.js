import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../api/client.js';
import { callWhenShown } from './pageVisibility.js';

// The longest wait between calls while they keep failing, unless the
// server's Retry-After asks for longer.
export const MAX_BACKOFF_MS = 60_000;

/**
 * The wait before the next call after `failures` failures in a row:
 * `intervalMs` while calls succeed, then doubling up to `maxMs` (or
 * `intervalMs`, if longer), and never less than the server's Retry-After.
 * A down API is asked every minute, not every interval, by every open tab.
 */
export function nextDelay(intervalMs, failures, retryAfterSeconds = 0, maxMs = MAX_BACKOFF_MS) {
  const backoff = failures === 0 ? intervalMs : Math.min(intervalMs * 2 ** failures, Math.max(maxMs, intervalMs));
  return Math.max(backoff, retryAfterSeconds * 1000);
}

/**
 * Calls `load(signal)` now and then `intervalMs` after each answer, while
 * `enabled`; after failures, waits longer (see nextDelay). Pauses while the
 * page is hidden, and calls as soon as it is shown if a call fell due
 * meanwhile. Keeps the last good data when a call fails, so a blip shows as
 * "stale", not as an empty panel.
 */
export function usePolling(load, intervalMs, { enabled = true } = {}) {
  const [state, setState] = useState({ data: null, error: null, errorObject: null, updatedAt: null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (!enabled) return undefined;
    let timer = null;
    let abort = null;
    let stopped = false;
    let failures = 0;
    // No timer ticking in a background tab; shown, we call at once.
    const shown = callWhenShown(() => poll());

    async function poll() {
      if (stopped) return;
      timer = null;
      if (!shown.ready()) return;
      abort = new AbortController();
      let retryAfter = 0;
      try {
        const data = await loadRef.current(abort.signal);
        failures = 0;
        if (!stopped) setState({ data, error: null, errorObject: null, updatedAt: Date.now() });
      } catch (err) {
        if (stopped || err?.name === 'AbortError') return;
        failures++;
        retryAfter = err?.retryAfter ?? 0;
        setState((s) => ({ ...s, error: describeError(err), errorObject: err }));
        // This server has no such endpoint; asking again will not change that.
        if (err?.isMissingEndpoint) return;
      }
      if (!stopped) timer = setTimeout(poll, nextDelay(intervalMs, failures, retryAfter));
    }

    poll();
    return () => {
      stopped = true;
      shown.stop();
      clearTimeout(timer);
      abort?.abort();
    };
  }, [intervalMs, enabled, tick]);

  return { ...state, refresh };
}
