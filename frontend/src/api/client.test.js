import { describe, expect, it, vi } from 'vitest';
import { ApiError, describeError, request } from './client.js';

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
