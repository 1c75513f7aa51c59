import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../api/client.js';
import { callWhenShown } from './pageVisibility.js';

/**
 * Calls `load(signal)` now and then `intervalMs` after each answer, while
 * `enabled`; pauses while the page is hidden, and calls as soon as it is
 * shown if a call fell due meanwhile. Keeps the last good data when a call
 * fails, so a blip shows as "stale", not as an empty panel.
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
    // No timer ticking in a background tab; shown, we call at once.
    const shown = callWhenShown(() => poll());

    async function poll() {
      if (stopped) return;
      timer = null;
      if (!shown.ready()) return;
      abort = new AbortController();
      try {
        const data = await loadRef.current(abort.signal);
        if (!stopped) setState({ data, error: null, errorObject: null, updatedAt: Date.now() });
      } catch (err) {
        if (stopped || err?.name === 'AbortError') return;
        setState((s) => ({ ...s, error: describeError(err), errorObject: err }));
        // This server has no such endpoint; asking again will not change that.
        if (err?.isMissingEndpoint) return;
      }
      if (!stopped) timer = setTimeout(poll, intervalMs);
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
