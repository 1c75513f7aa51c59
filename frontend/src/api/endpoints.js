// The API's endpoints, one function each. See README.md "HTTP API".
import { request } from './client.js';

const json = (p) => p.then((r) => r.data);

/** How many there are in all (X-Total-Count), or null if the server did not say. */
function totalCount(headers) {
  // Number(null) and Number('') are 0, not "not said".
  const header = headers.get('X-Total-Count');
  const total = header === null || header.trim() === '' ? NaN : Number(header);
  return Number.isFinite(total) ? total : null;
}

/** A page of a list, and how many there are in all. */
async function page(path, options) {
  const { data, headers } = await request(path, options);
  const items = data ?? [];
  // Without the header, the page itself is all we know.
  return { items, total: totalCount(headers) ?? items.length };
}

export async function listMovies({ limit = 1000, offset = 0, signal } = {}) {
  const { items, total } = await page(`/api/movies?limit=${limit}&offset=${offset}`, { signal });
  return { movies: items, total };
}

export const getMovie = (id, { signal } = {}) => json(request(`/api/movies/${id}`, { signal }));
export const registerMovie = (tmdbId) => json(request('/api/movies/register', { method: 'POST', body: { tmdb_id: tmdbId } }));
export const recordView = (tmdbId) => json(request('/api/movies/view', { method: 'POST', body: { tmdb_id: tmdbId } }));
export const refreshMovie = (tmdbId) => json(request(`/api/movies/${tmdbId}/refresh`, { method: 'POST' }));
export const getPipeline = ({ signal } = {}) => json(request('/api/pipeline', { signal }));

// Planned endpoints: callers treat ApiError.isMissingEndpoint as "this
// server does not have it yet" and hide what depends on it.
export const getMovieTrend = (id, { resolution = 'hour', signal } = {}) =>
  json(request(`/api/movies/${id}/trend?resolution=${resolution}`, { signal }));
/** The decayed ranking's rows, and the server's count of movies (null if it sent none). */
export async function getTrending(window, { limit = 1000, signal } = {}) {
  const { data, headers } = await request(`/api/trending?window=${window}&limit=${limit}`, { signal });
  return { rows: data ?? [], total: totalCount(headers) };
}

export const admin = {
  replayStatus: (token, { signal } = {}) => json(request('/api/admin/replay', { token, signal })),
  /** check: also compare the rebuilt projection with the live one (reports `differences`). */
  startReplay: (token, { check = false } = {}) =>
    json(request('/api/admin/replay', { method: 'POST', token, body: check ? { check: true } : undefined })),
  /** The oldest dead letters (the server's default page), and how many there are. */
  deadLetters: async (token, { signal } = {}) => {
    const { items, total } = await page('/api/admin/dead-letters', { token, signal });
    return { letters: items, total };
  },
  requeue: (token, ids) =>
    json(request('/api/admin/dead-letters/requeue', { method: 'POST', token, body: ids ? { ids } : undefined })),
};
