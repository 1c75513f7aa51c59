// The one place that talks HTTP to the API. Every failure becomes an
// ApiError whose message is human text: the `detail` of an RFC 9457
// problem when the server sent one, otherwise a sentence we wrote. The old
// dashboard showed "[object Object]"; nothing here ever stringifies a body.

export class ApiError extends Error {
  /**
   * @param {string} message human-readable, safe to show as is
   * @param {{status?: number, problem?: object, retryAfter?: number, cause?: unknown}} [info]
   */
  constructor(message, { status = 0, problem = null, retryAfter = 0, cause } = {}) {
    super(message, { cause });
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    /** Seconds the server asked us to wait (Retry-After), 0 if it did not. */
    this.retryAfter = retryAfter;
  }

  /**
   * The endpoint itself is missing on this server (an older version, or a
   * role that does not serve it), as opposed to a missing movie.
   */
  get isMissingEndpoint() {
    return this.status === 404 && /^no such endpoint|not available in this role/i.test(this.problem?.detail ?? '');
  }
}

const fallbackMessages = {
  400: 'The server could not read the request.',
  401: 'The server refused the admin token.',
  403: 'This admin token is not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with the current state.',
  413: 'The request is too large.',
  415: 'The server expected JSON.',
  422: 'The request is not valid.',
  429: 'Too many requests; try again shortly.',
  503: 'The service is unavailable right now; try again shortly.',
};

function messageFor(status, problem) {
  if (problem && typeof problem.detail === 'string' && problem.detail.trim()) return problem.detail;
  if (problem && typeof problem.title === 'string' && problem.title.trim()) return problem.title;
  return fallbackMessages[status] ?? `The server answered with an error (HTTP ${status}).`;
}

// What readJSON returns for a body that is not JSON.
const notJSON = Symbol('not JSON');

async function readJSON(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return notJSON;
  }
}

/** How long a read may take before it fails, unless the caller says otherwise. */
export const READ_TIMEOUT_MS = 15_000;

/**
 * fetch + JSON + problem details. A GET that has no answer (body included)
 * within `timeoutMs` fails with an ApiError, so a poll on a silently dead
 * connection says so rather than wait for minutes; the caller's own abort
 * still rejects with its AbortError. Other methods have no timeout by
 * default: a requeue may take longer, and giving up would not undo it.
 * @param {string} path
 * @param {{method?: string, body?: unknown, token?: string, signal?: AbortSignal, timeoutMs?: number}} [options]
 * @returns {Promise<{data: any, headers: Headers, status: number}>}
 */
export async function request(path, { method = 'GET', body, token, signal, timeoutMs = method === 'GET' ? READ_TIMEOUT_MS : 0 } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const abort = new AbortController();
  const passOn = () => abort.abort(signal.reason);
  if (signal?.aborted) passOn();
  else signal?.addEventListener('abort', passOn, { once: true });
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => ((timedOut = true), abort.abort()), timeoutMs) : null;
  let res, data;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: abort.signal });
    data = await readJSON(res);
  } catch (err) {
    if (timedOut && !signal?.aborted) {
      throw new ApiError(`The server did not answer within ${Math.round(timeoutMs / 1000)} s.`, { cause: err });
    }
    // Reading the answer failed, or the caller aborted: as it came.
    if (res !== undefined || err?.name === 'AbortError') throw err;
    throw new ApiError('Cannot reach the server. Check that it is running and your network is up.', { cause: err });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', passOn);
  }
  return answer(res, data);
}

function answer(res, data) {
  if (res.ok && data === notJSON) {
    // A proxy's HTML page, say: not an empty list.
    throw new ApiError(`The server answered with something other than JSON (HTTP ${res.status}); is a proxy in the way?`, { status: res.status });
  }
  if (!res.ok) {
    const problem = data && typeof data === 'object' && !Array.isArray(data) ? data : null;
    let message = messageFor(res.status, problem);
    // The API's detail points at the Retry-After header, which the user
    // cannot see: say the wait itself.
    let wait = Number(res.headers.get('Retry-After'));
    if (!Number.isInteger(wait) || wait < 0) wait = 0;
    if (res.status === 429 && wait > 0) {
      message = `Too many requests; try again in ${wait} s.`;
    }
    throw new ApiError(message, { status: res.status, problem, retryAfter: wait });
  }
  return { data, headers: res.headers, status: res.status };
}

/** The message to show for any thrown value. */
export function describeError(err) {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong.';
}
