import { useEffect, useRef, useState } from 'react';
import { getMovieTrend } from '../api/endpoints.js';
import { describeError } from '../api/client.js';

const MIN_INTERVAL_MS = 2000;

/**
 * The server's explanation of a movie's scores (GET /api/movies/{id}/trend),
 * fetched again after the movie changes (`version`), at most every 2 s.
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
    let timer = null;
    let inFlight = false;
    let lastAt = 0;
    let fetchedVersion;

    async function load() {
      timer = null;
      inFlight = true;
      lastAt = Date.now();
      const wanted = versionRef.current;
      try {
        const trend = await getMovieTrend(id, { resolution, signal: abort.signal });
        setResult({ id, trend, missing: false, error: null });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err.isMissingEndpoint) {
          missingRef.current = true;
          setResult({ id, trend: null, missing: true, error: null });
          return;
        }
        // Keep what we had for this movie, never another's; a later change tries again.
        setResult((r) => (r.id === id ? { ...r, error: describeError(err) } : { id, trend: null, missing: false, error: describeError(err) }));
      } finally {
        inFlight = false;
      }
      fetchedVersion = wanted;
      nudge();
    }

    function nudge() {
      if (abort.signal.aborted || inFlight || timer !== null || fetchedVersion === versionRef.current) return;
      timer = setTimeout(load, Math.max(0, lastAt + MIN_INTERVAL_MS - Date.now()));
    }

    nudgeRef.current = nudge;
    load();
    return () => {
      abort.abort();
      clearTimeout(timer);
      nudgeRef.current = () => {};
    };
  }, [id, resolution]);

  useEffect(() => {
    nudgeRef.current();
  }, [version]);

  // Never show another movie's explanation while this one's loads.
  return result.id === id ? result : { id, trend: null, missing: missingRef.current, error: null };
}
