import { useEffect, useRef, useState } from 'react';
import { listMovies } from '../api/endpoints.js';
import { describeError } from '../api/client.js';
import { pageHidden } from '../hooks/pageVisibility.js';
import { nextDelay } from '../hooks/usePolling.js';

/**
 * Connection states, as shown to the user:
 * connecting   – first connection, nothing shown yet
 * live         – stream open and the ranking loaded
 * loading      – stream open, (re)loading the ranking
 * reconnecting – lost, or back from a pause; EventSource or our back-off is trying again
 * paused       – the tab stayed hidden, so the stream is closed until it is shown
 */
export const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  loading: 'Loading ranking…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  paused: 'Paused while hidden',
};

const MAX_BACKOFF_MS = 15_000;
// Our back-off waits up to half as long again, at random: after a restart of
// the server, the tabs it refused do not all come back at the same moment.
const JITTER = 0.5;
// How many of the browser's own reconnects may fail before ours, which
// back off, take over.
const BROWSER_RETRIES = 3;

/** How long a tab may stay hidden before it gives up its stream. */
export const HIDDEN_GRACE_MS = 30_000;

/**
 * How long an open stream may stay silent before we take it for dead. The
 * server sends a `ping` every 15 s when it has nothing else to send; a
 * half-open connection (a Wi-Fi change, a NAT timeout) brings nothing, and
 * no error either until TCP gives up, long after.
 */
export const SILENCE_MS = 40_000;

/**
 * Keeps `store` in step with the server: on every `ready` event (the first
 * one and after each reconnect) it reloads the ranking, and merges `movies`
 * events into it. Changes that arrive while the list loads are kept (the
 * newest of each movie) and merged afterwards, newest wins, so none is lost
 * in between.
 *
 * EventSource reconnects by itself after a network error, but gives up for
 * good when the server answers with an error status (e.g. 503 while
 * PostgreSQL is down); then we start a new one ourselves, with back-off.
 * Until a stream is accepted, the ranking is loaded once per such retry (if
 * none came yet), so a cap on streams does not keep the board empty.
 *
 * A tab hidden for `hiddenGraceMs` closes its stream: over HTTP/1.1 the
 * browser allows 6 connections per host, and streams held by background
 * tabs would starve every other request. Shown again, it reconnects as
 * after a lost connection, reloading the ranking.
 *
 * A stream that brings no event (`ready`, `movies` or `ping`) for
 * `silenceMs`, from when it is opened or the browser's own retry began, is
 * closed and opened anew, as after an error: a proxy that accepts the
 * connection and sends nothing left it connecting for ever.
 *
 * @returns {{state: string, error: string|null}}
 */
export function useMovieStream(
  store,
  { onRemoved, url = '/api/stream', EventSourceImpl = globalThis.EventSource, hiddenGraceMs = HIDDEN_GRACE_MS, silenceMs = SILENCE_MS } = {},
) {
  const [status, setStatus] = useState({ state: 'connecting', error: null });
  const onRemovedRef = useRef(onRemoved);
  onRemovedRef.current = onRemoved;

  useEffect(() => {
    let source = null;
    let retryTimer = null;
    let failures = 0;
    let stopped = false;
    // Changes received while the list loads: tmdb_id -> the newest row, so
    // a slow load holds one row a movie, however many events come.
    let pending = null;
    let loadAbort = null;
    let streamUp = false; // between a `ready` and the next error
    let errorsSinceReady = 0; // the browser's own retries that failed
    let pauseTimer = null; // runs while the tab is hidden
    let paused = false;
    let silenceTimer = null; // runs while the stream is open; each event restarts it
    // One load of the list per stream opened: the stream's own (on `ready`)
    // or, if it fails before any list came, loadWithoutStream's.
    let mayLoadList = false;

    const set = (state, error = null) =>
      setStatus((s) => {
        // Still reconnecting: keep the first reason. The badge is a live
        // region, and a reason that changed every retry would be announced
        // every retry.
        if (state === 'reconnecting' && s.state === 'reconnecting' && s.error) error = s.error;
        return s.state === state && s.error === error ? s : { state, error };
      });
    const announceRemoved = (removed) => removed.length && onRemovedRef.current?.(removed);

    function heard() {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => scheduleReconnect('Lost the connection to the server.'), silenceMs);
    }
    function clearSilenceTimer() {
      clearTimeout(silenceTimer);
      silenceTimer = null;
    }

    function scheduleReconnect(error, retryAfterSeconds = 0) {
      streamUp = false;
      clearSilenceTimer();
      source?.close();
      source = null;
      loadAbort?.abort();
      const delay = nextDelay(1000, failures++, retryAfterSeconds, MAX_BACKOFF_MS) * (1 + JITTER * Math.random());
      set('reconnecting', error);
      retryTimer = setTimeout(connect, delay);
      if (mayLoadList && !store.getSnapshot().loaded) loadWithoutStream();
    }

    // Refused before the board ever loaded (the server's or a proxy's cap on
    // streams): the list may still answer, and a board kept on "Loading…"
    // would hide it. Shown without claiming live; the stream's next `ready`
    // reloads it and takes over.
    async function loadWithoutStream() {
      try {
        const page = await loadList();
        if (page) store.reset(page.movies, page.total);
      } catch {
        // The badge says the stream is down; its retry tries the list again.
      }
    }

    // loadList reads the ranking, cancelling a read still in flight: the
    // one load a stream allows. It returns null if cancelled in turn.
    async function loadList() {
      mayLoadList = false;
      loadAbort?.abort();
      const abort = (loadAbort = new AbortController());
      try {
        const page = await listMovies({ limit: 1000, signal: abort.signal });
        return abort.signal.aborted ? null : page;
      } catch (err) {
        if (abort.signal.aborted) return null;
        throw err;
      }
    }

    async function reload() {
      pending = new Map();
      set('loading');
      try {
        const page = await loadList();
        if (!page) return;
        store.reset(page.movies, page.total);
        announceRemoved(store.applyChanges([...pending.values()], { onlyIfNewer: true }));
        pending = null;
        failures = 0;
        // Lost meanwhile: still reconnecting; the next `ready` reloads.
        if (streamUp) set('live');
      } catch (err) {
        if (err?.name === 'AbortError') return;
        // A 503's Retry-After says when it is worth asking again.
        scheduleReconnect(`Could not load the ranking: ${describeError(err)}`, err?.retryAfter ?? 0);
      }
    }

    function connect() {
      if (stopped) return;
      retryTimer = null;
      errorsSinceReady = 0; // a new stream: the browser's retries of the last one do not count
      mayLoadList = true;

      const es = (source = new EventSourceImpl(url));
      heard(); // from now: a stream stuck connecting is dead too
      source.addEventListener('ready', () => {
        heard();
        streamUp = true;
        errorsSinceReady = 0;
        reload();
      });
      source.addEventListener('movies', (e) => {
        heard();
        let rows;
        try {
          rows = JSON.parse(e.data);
        } catch {
          return; // a malformed event must not break the board
        }
        if (!Array.isArray(rows)) return;
        if (pending) {
          // The stream sends rows in order; `change` decides where both have it.
          for (const m of rows) if (m && !(m.change < pending.get(m.tmdb_id)?.change)) pending.set(m.tmdb_id, m);
        } else announceRemoved(store.applyChanges(rows));
      });
      // The server's keep-alive: a comment would not reach us, an event does.
      source.addEventListener('ping', heard);
      source.onerror = () => {
        if (stopped || es !== source) return; // one we closed already
        streamUp = false;
        // The browser's own retry gets silenceMs too: one that reached a
        // proxy which accepts and sends nothing brings no error ever after.
        heard();
        if (source.readyState === 2 /* CLOSED */) scheduleReconnect('The server refused the live stream.');
        // The browser retries by itself, at the server's `retry` pace (2 s)
        // for ever; after a few failures in a row, back off instead.
        else if (++errorsSinceReady >= BROWSER_RETRIES) scheduleReconnect('Cannot reach the server.');
        else set('reconnecting', 'Lost the connection to the server.');
      };
    }

    function pause() {
      pauseTimer = null;
      paused = true;
      streamUp = false;
      clearSilenceTimer();
      clearTimeout(retryTimer); // no back-off retries in the background either
      retryTimer = null;
      loadAbort?.abort();
      source?.close();
      source = null;
      set('paused');
    }

    function onVisibilityChange() {
      if (pageHidden()) {
        // A quick look at another tab keeps the stream.
        if (!paused && pauseTimer === null) pauseTimer = setTimeout(pause, hiddenGraceMs);
        return;
      }
      clearTimeout(pauseTimer);
      pauseTimer = null;
      if (!paused) return;
      paused = false;
      failures = 0; // the user is back: retry soon if the server is down
      set('reconnecting'); // the next `ready` reloads the ranking
      connect();
    }

    connect();
    onVisibilityChange(); // a tab opened in the background starts its grace now
    document.addEventListener('visibilitychange', onVisibilityChange);
    return () => {
      stopped = true;
      document.removeEventListener('visibilitychange', onVisibilityChange);
      clearTimeout(pauseTimer);
      clearTimeout(retryTimer);
      clearSilenceTimer();
      loadAbort?.abort();
      source?.close();
    };
  }, [store, url, EventSourceImpl, hiddenGraceMs, silenceMs]);

  return status;
}
