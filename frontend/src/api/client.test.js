import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, describeError, request } from './client.js';

/** A fetch whose server never answers: only an abort ends it, as a real fetch's would. */
function hang() {
  vi.stubGlobal('fetch', vi.fn((_path, { signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))));
}

function respond(status, body, contentType = 'application/problem+json') {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(body, { status, headers: { 'Content-Type': contentType } })));
}

describe('request', () => {
  it('returns data and headers on success', async () => {
    respond(200, '[{"tmdb_id":1}]', 'application/json');
    const { data, status } = await request('/api/movies');
    expect(status).toBe(200);
    expect(data).toEqual([{ tmdb_id: 1 }]);
  });

  it('sends JSON bodies and the admin token', async () => {
    respond(202, '{}', 'application/json');
    await request('/api/admin/replay', { method: 'POST', body: { a: 1 }, token: 'sekrit' });
    const [, init] = fetch.mock.calls[0];
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(init.headers.Authorization).toBe('Bearer sekrit');
    expect(init.body).toBe('{"a":1}');
  });

  it('sends no body and no Content-Type when there is nothing to send', async () => {
    respond(202, '', 'application/json');
    await request('/api/movies/1/refresh', { method: 'POST' });
    const [, init] = fetch.mock.calls[0];
    expect(init.body).toBeUndefined();
    expect(init.headers['Content-Type']).toBeUndefined();
  });

  it('turns a problem into an error whose message is its detail', async () => {
    respond(422, JSON.stringify({ type: '/problems/validation', title: 'Invalid request', status: 422, detail: 'tmdb_id must be from 1 to 2147483647, not 0', field: 'tmdb_id' }));
    const err = await request('/api/movies/register', { method: 'POST', body: { tmdb_id: 0 } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('tmdb_id must be from 1 to 2147483647, not 0');
    expect(err.status).toBe(422);
    expect(err.problem.field).toBe('tmdb_id');
    expect(String(err)).not.toContain('[object Object]');
  });

  it('falls back to the title, then to a sentence, never to [object Object]', async () => {
    respond(409, JSON.stringify({ title: 'Conflict', status: 409 }));
    expect((await request('/x').catch((e) => e)).message).toBe('Conflict');
    respond(502, '<html>Bad gateway</html>', 'text/html');
    expect((await request('/x').catch((e) => e)).message).toBe('The server answered with an error (HTTP 502).');
    respond(503, '', 'text/plain');
    expect((await request('/x').catch((e) => e)).message).toMatch(/unavailable/);
  });

  it('says how long to wait after a 429, not the header to read', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(
      JSON.stringify({ status: 429, detail: 'too many requests from this client; retry after the time in Retry-After' }),
      { status: 429, headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '3' } },
    )));
    const err = await request('/api/movies/view', { method: 'POST', body: { tmdb_id: 1 } }).catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.message).toBe('Too many requests; try again in 3 s.');
    expect(err.retryAfter).toBe(3);
  });

  it('fails an answer that is not JSON rather than reading it as nothing', async () => {
    respond(200, '<html>Welcome to our portal</html>', 'text/html');
    const err = await request('/api/movies').catch((e) => e);
    expect(err.message).toMatch(/other than JSON \(HTTP 200\)/);
    respond(202, '', 'text/plain');
    expect((await request('/api/movies/view', { method: 'POST', body: { tmdb_id: 1 } })).data).toBe(null);
  });

  it('says when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const err = await request('/api/movies').catch((e) => e);
    expect(err.message).toMatch(/Cannot reach the server/);
  });

  describe('on a connection that never answers', () => {
    afterEach(() => vi.useRealTimers());

    it('gives up on a read after 15 s with an error to show', async () => {
      vi.useFakeTimers();
      hang();
      const answer = request('/api/pipeline', { signal: new AbortController().signal }).catch((e) => e);
      await vi.advanceTimersByTimeAsync(14_999);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      const err = await answer;
      expect(err).toBeInstanceOf(ApiError);
      expect(err.message).toBe('The server did not answer within 15 s.');
      expect(describeError(err)).toBe('The server did not answer within 15 s.');
    });

    it('still rejects with an AbortError when the caller aborts, and leaves no timer behind', async () => {
      vi.useFakeTimers();
      hang();
      const abort = new AbortController();
      const answer = request('/api/pipeline', { signal: abort.signal }).catch((e) => e);
      abort.abort();
      const err = await answer;
      expect(err).not.toBeInstanceOf(ApiError);
      expect(err.name).toBe('AbortError');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('waits for a command as long as it takes, as a requeue may take longer', async () => {
      vi.useFakeTimers();
      hang();
      let settled = false;
      request('/api/admin/dead-letters/requeue', { method: 'POST' }).finally(() => (settled = true)).catch(() => {});
      await vi.advanceTimersByTimeAsync(60_000);
      expect(settled).toBe(false);
    });
  });

  it('tells a missing endpoint from a missing movie', async () => {
    respond(404, JSON.stringify({ status: 404, detail: 'no such endpoint: /api/trending' }));
    expect((await request('/api/trending').catch((e) => e)).isMissingEndpoint).toBe(true);
    respond(404, JSON.stringify({ status: 404, detail: 'movie 5 is not registered' }));
    expect((await request('/api/movies/5/trend').catch((e) => e)).isMissingEndpoint).toBe(false);
  });
});

describe('describeError', () => {
  it('gives human text for anything thrown', () => {
    expect(describeError(new ApiError('detail text', { status: 400 }))).toBe('detail text');
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError({ some: 'object' })).toBe('Something went wrong.');
  });
});
