import { afterEach, describe, expect, it, vi } from 'vitest';
import { getTrending, listMovies } from './endpoints.js';

function respondWith(headers) {
  vi.stubGlobal('fetch', vi.fn(async () => new Response('[{"tmdb_id":1},{"tmdb_id":2}]', { status: 200, headers: { 'Content-Type': 'application/json', ...headers } })));
}

afterEach(() => vi.unstubAllGlobals());

describe('listMovies', () => {
  it('takes the total from X-Total-Count', async () => {
    respondWith({ 'X-Total-Count': '1500' });
    const { movies, total } = await listMovies();
    expect(movies).toHaveLength(2);
    expect(total).toBe(1500);
  });

  it('counts the page when X-Total-Count is missing, not 0', async () => {
    respondWith({});
    expect((await listMovies()).total).toBe(2);
  });
});

describe('getTrending', () => {
  it('gives the rows and the count of movies, or null when the server sends none', async () => {
    respondWith({ 'X-Total-Count': '1500' });
    expect(await getTrending('day')).toEqual({ rows: [{ tmdb_id: 1 }, { tmdb_id: 2 }], total: 1500 });
    respondWith({});
    expect((await getTrending('day')).total).toBe(null);
  });
});
