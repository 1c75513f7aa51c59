import { useEffect, useRef, useState } from 'react';
import { getTrending } from '../api/endpoints.js';
import { callWhenShown } from './pageVisibility.js';

const POLL_MS = 5000;
const MIN_GAP_MS = 1500;

/**
 * The time-decayed scores from GET /api/trending, if this server has it.
 * They change with time as well as with views, so they are polled (every
 * 5 s), and asked for again soon after the movies change (`changed`, at
 * most every 1.5 s), so a burst of views shows in both scores. Nothing is
 * asked while the page is hidden; shown again, it asks at once.
 * Returns {available: null (unknown yet) | boolean, window, scores}.
 */
export function useTrendScores(window, changed) {
  const [state, setState] = useState({ available: null, window: null, scores: null });
  const nudgeRef = useRef(() => {});

  useEffect(() => {
    const abort = new AbortController();
    let timer = null;
    let dueAt = Infinity;
    let lastAt = 0;
    let inFlight = false;
    let stopped = false;
    const shown = callWhenShown(() => {
      if (stopped) return;
      clearTimeout(timer); // a nudge while hidden may have scheduled one
      poll();
    });

    const schedule = (delay) => {
      if (stopped || Date.now() + delay >= dueAt) return;
      clearTimeout(timer);
      dueAt = Date.now() + delay;
      timer = setTimeout(poll, delay);
    };

    async function poll() {
      dueAt = Infinity;
      if (!shown.ready()) return;
      inFlight = true;
      lastAt = Date.now();
      try {
        const rows = await getTrending(window, { signal: abort.signal });
        setState({ available: true, window, scores: new Map((rows ?? []).map((m) => [m.tmdb_id, m.trend_score])) });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err.isMissingEndpoint) {
          stopped = true; // an older server: stop asking
          setState({ available: false, window: null, scores: null });
          return;
        }
        // Keep the last scores through a blip.
      } finally {
        inFlight = false;
      }
      schedule(POLL_MS);
    }

    nudgeRef.current = () => {
      if (!inFlight) schedule(Math.max(0, lastAt + MIN_GAP_MS - Date.now()));
    };
    poll();
    return () => {
      stopped = true;
      shown.stop();
      clearTimeout(timer);
      abort.abort();
      nudgeRef.current = () => {};
    };
  }, [window]);

  useEffect(() => {
    nudgeRef.current();
  }, [changed]);

  return state;
}
