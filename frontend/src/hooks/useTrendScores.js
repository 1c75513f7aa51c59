import { useEffect, useRef, useState } from 'react';
import { getTrending } from '../api/endpoints.js';
import { describeError } from '../api/client.js';
import { callWhenShown } from './pageVisibility.js';
import { earliestTimer } from './earliestTimer.js';
import { nextDelay } from './usePolling.js';

const POLL_MS = 5000;
const MIN_GAP_MS = 1500;

/**
 * The time-decayed scores from GET /api/trending, if this server has it.
 * They change with time as well as with views, so they are polled (every
 * 5 s), and asked for again soon after the movies change (`changed`, at
 * most every 1.5 s), so a burst of views shows in both scores. Nothing is
 * asked while the page is hidden; shown again, it asks at once. After a
 * failure it waits longer each time (as usePolling does) and keeps the last
 * scores, with the failure in `error` (for this window only: another
 * window's failure says nothing of this one). Each answer also counts the movies
 * listed (`total`, null if the server did not say): the same count as the
 * movie list's, but fresher than the one loaded with it. `rows` are the
 * answer's movies, the top of that ranking; `updatedAt` the time (ms) of
 * that answer, which says how old the scores kept through a failure are.
 * Returns {available: null (unknown yet) | boolean, window, scores, rows, total, updatedAt, error}.
 */
export function useTrendScores(window, changed) {
  // errorWindow: the window whose poll failed with `error`
  const [state, setState] = useState({ available: null, window: null, scores: null, rows: null, total: null, updatedAt: null, error: null, errorWindow: null });
  const nudgeRef = useRef(() => {});
  const changedRef = useRef(changed);
  changedRef.current = changed;

  useEffect(() => {
    // Back to a window that failed before: its old error is not news.
    setState((s) => (s.error === null ? s : { ...s, error: null, errorWindow: null }));
    const abort = new AbortController();
    const timer = earliestTimer(() => poll());
    let lastAt = 0;
    let inFlight = false;
    let polledChange; // `changed` when the last poll began: its answer may predate a later one
    let stopped = false;
    let failures = 0;
    const shown = callWhenShown(() => {
      if (stopped) return;
      timer.cancel(); // a nudge while hidden may have scheduled one
      poll();
    });
    const schedule = (delay) => !stopped && timer.schedule(delay);

    async function poll() {
      if (!shown.ready()) return;
      inFlight = true;
      lastAt = Date.now();
      polledChange = changedRef.current;
      let retryAfter = 0;
      try {
        const { rows, total } = await getTrending(window, { signal: abort.signal });
        failures = 0;
        setState({ available: true, window, scores: new Map(rows.map((m) => [m.tmdb_id, m.trend_score])), rows, total, updatedAt: Date.now(), error: null, errorWindow: null });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err.isMissingEndpoint) {
          stopped = true; // an older server: stop asking
          setState({ available: false, window: null, scores: null, rows: null, total: null, updatedAt: null, error: null, errorWindow: null });
          return;
        }
        // Keep the last scores through a blip, and say what failed.
        failures++;
        retryAfter = err.retryAfter ?? 0;
        setState((s) => ({ ...s, error: describeError(err), errorWindow: window }));
      } finally {
        inFlight = false;
      }
      schedule(nextDelay(POLL_MS, failures, retryAfter));
      nudge(); // a change that came while this one was in flight
    }

    function nudge() {
      // In flight: the poll calls this again when it is done, as its answer
      // may predate the change. While failing, the backoff's timer decides
      // when to ask again.
      if (inFlight || failures > 0 || polledChange === changedRef.current) return;
      schedule(Math.max(0, lastAt + MIN_GAP_MS - Date.now()));
    }
    nudgeRef.current = nudge;
    poll();
    return () => {
      stopped = true;
      shown.stop();
      timer.cancel();
      abort.abort();
      nudgeRef.current = () => {};
    };
  }, [window]);

  useEffect(() => {
    nudgeRef.current();
  }, [changed]);

  // Until the effect above clears it, an error of the window before must not show.
  return state.error !== null && state.errorWindow !== window ? { ...state, error: null } : state;
}
