import { useEffect, useRef, useState } from 'react';
import { getMovieTrend } from '../api/endpoints.js';
import { describeError } from '../api/client.js';
import { callWhenShown } from './pageVisibility.js';
import { earliestTimer } from './earliestTimer.js';
import { nextDelay } from './usePolling.js';

const MIN_INTERVAL_MS = 2000;
// The time-decayed score falls with time alone: a movie nobody views is
// explained again this often, so the panel agrees with the board's column.
export const REFRESH_MS = 30_000;

/**
 * The server's explanation of a movie's scores (GET /api/movies/{id}/trend),
 * fetched again after the movie changes (`version`), at most every 2 s, and
 * every REFRESH_MS without changes. After a failure it is asked again with
 * a growing wait (as usePolling does), whether or not the movie changes.
 * Nothing is asked while the page is hidden; shown again, it asks at once.
 * A request in flight is never cancelled by a newer version: a popular
 * movie changes every 250 ms, and cancelling would mean never finishing.
 * `resolution` is the history's: "hour" (7 days) or "minute" (48 hours).
 * `missing` is true when this server has no such endpoint.
 */
export function useMovieTrend(id, version, resolution = 'hour') {
  const [result, setResult] = useState({ id, trend: null, missing: false, error: null });
  const missingRef = useRef(false);
  const versionRef = useRef(version);
  versionRef.current = version;
  const nudgeRef = useRef(() => {});

  useEffect(() => {
    if (id == null || missingRef.current) return undefined;
    const abort = new AbortController();
    const timer = earliestTimer(() => load());
    let inFlight = false;
    let lastAt = 0;
    let failures = 0;
    let fetchedVersion;
    const shown = callWhenShown(() => {
      if (abort.signal.aborted || inFlight) return;
      timer.cancel();
      load();
    });
    const schedule = (delay) => !abort.signal.aborted && timer.schedule(delay);

    async function load() {
      if (!shown.ready()) return;
      inFlight = true;
      lastAt = Date.now();
      const wanted = versionRef.current;
      let retryAfter = 0;
      try {
        const trend = await getMovieTrend(id, { resolution, signal: abort.signal });
        failures = 0;
        fetchedVersion = wanted;
        setResult({ id, trend, missing: false, error: null });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err.isMissingEndpoint) {
          missingRef.current = true;
          setResult({ id, trend: null, missing: true, error: null });
          return;
        }
        failures++;
        retryAfter = err.retryAfter ?? 0;
        // Keep what we had for this movie, never another's.
        setResult((r) => (r.id === id ? { ...r, error: describeError(err) } : { id, trend: null, missing: false, error: describeError(err) }));
      } finally {
        inFlight = false;
      }
      if (failures > 0) {
        schedule(nextDelay(MIN_INTERVAL_MS, failures, retryAfter));
        return;
      }
      schedule(REFRESH_MS);
      nudge();
    }

    function nudge() {
      // While failing, the backoff's timer decides when to ask again.
      if (inFlight || failures > 0 || fetchedVersion === versionRef.current) return;
      schedule(Math.max(0, lastAt + MIN_INTERVAL_MS - Date.now()));
    }

    nudgeRef.current = nudge;
    load();
    return () => {
      abort.abort();
      shown.stop();
      timer.cancel();
      nudgeRef.current = () => {};
    };
  }, [id, resolution]);

  useEffect(() => {
    nudgeRef.current();
  }, [version]);

  // Never show another movie's explanation while this one's loads.
  return result.id === id ? result : { id, trend: null, missing: missingRef.current, error: null };
}
