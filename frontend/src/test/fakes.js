import { vi } from 'vitest';
import { fireEvent } from '@testing-library/react';

/** An EventSource the test drives: open(), emit(type, data), drop(), refuse(). */
export class FakeEventSource {
  static instances = [];
  static latest() {
    return FakeEventSource.instances.at(-1);
  }
  static reset() {
    FakeEventSource.instances = [];
  }

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = new Map();
    this.onerror = null;
    this.closed = false;
    FakeEventSource.instances.push(this);
  }
  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }
  close() {
    this.readyState = 2;
    this.closed = true;
  }
  emit(type, data) {
    this.readyState = 1;
    for (const fn of this.listeners.get(type) ?? []) fn({ type, data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  /** The network dropped: the browser will retry by itself. */
  drop() {
    this.readyState = 0;
    this.onerror?.({});
  }
  /** The server answered with an error status: the browser gives up. */
  refuse() {
    this.readyState = 2;
    this.onerror?.({});
  }
}

/** A movie as the API returns it. */
export function movie(id, fields = {}) {
  return {
    tmdb_id: id,
    title: `Movie title ${id}`,
    status: 'active',
    internal_views_count: 0,
    external_score: 7,
    vote_count: 100,
    popularity: 10,
    release_date: '2010-07-14',
    poster_path: null,
    genres: ['Drama'],
    final_trend_score: 4.9,
    registered_at: '2026-01-01T00:00:00Z',
    last_updated_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

const json = (status, body, headers = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers },
  });

export const problem = (status, detail, extra = {}) => json(status, { type: '/problems/x', title: 'Problem', status, detail, ...extra });
export const missingEndpoint = (path) => problem(404, `no such endpoint: ${path}`);

/**
 * Replaces fetch with a table of routes: {'GET /api/movies': (req) => Response | object}.
 * Unknown paths answer like the server does for a missing endpoint. Returns
 * the mock, whose calls are [{method, path, body, headers}].
 */
export function fakeApi(routes) {
  const calls = [];
  const fetchMock = vi.fn(async (input, init = {}) => {
    const url = new URL(input, 'http://localhost');
    const method = init.method ?? 'GET';
    const req = { method, path: url.pathname, query: url.searchParams, body: init.body ? JSON.parse(init.body) : undefined, headers: init.headers ?? {} };
    calls.push(req);
    const route = routes[`${method} ${url.pathname}`];
    if (!route) return missingEndpoint(url.pathname);
    const out = await route(req);
    return out instanceof Response ? out : json(200, out);
  });
  fetchMock.calls = calls;
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

export { json };

/**
 * Makes the page hidden or visible, as a browser does when the tab is
 * switched, and tells listeners. setup.jsx restores the default afterwards.
 */
export function setVisibility(state) {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

/**
 * Focuses el as the Tab key would: jsdom, as browsers, shows such focus
 * (`:focus-visible`), and not a click's or a bare el.focus() after one.
 */
export function keyboardFocus(el) {
  fireEvent.keyDown(document.activeElement ?? document.body, { key: 'Tab' });
  el.focus();
}

/**
 * Makes the modules imported after it (with a dynamic import) format
 * numbers as in `locale`, as for a reader whose browser is set to it.
 * restoreMocks puts the default back after the test.
 */
export function numbersInLocale(locale) {
  const NumberFormat = Intl.NumberFormat;
  vi.spyOn(Intl, 'NumberFormat').mockImplementation(function (_locale, options) {
    return new NumberFormat(locale, options);
  });
  vi.resetModules();
}
