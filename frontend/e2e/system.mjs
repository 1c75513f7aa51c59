// Starts the real Movie Trend Analyzer for the end-to-end tests: the binary
// built from this checkout (with the dashboard embedded), `trend tmdb-fake`,
// and `trend all` on a fresh PostgreSQL database and a fresh RabbitMQ
// virtual host, so runs never see each other's data. stop() undoes all of it.
import { spawn, execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// PostgreSQL and RabbitMQ as scripts/services.sh sets them up; E2E_PGPORT
// and the others point the tests at another instance.
const PG = { host: process.env.E2E_PGHOST ?? 'localhost', port: process.env.E2E_PGPORT ?? '5432', user: 'trend', password: 'trend' };
const RABBIT_API = process.env.E2E_RABBITMQ_API ?? 'http://localhost:15672/api';
const RABBIT_AUTH = 'Basic ' + Buffer.from('guest:guest').toString('base64');
const AMQP_BASE = process.env.E2E_AMQP_BASE ?? 'amqp://guest:guest@localhost:5672';

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function psql(sql) {
  await run('psql', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql], {
    env: { ...process.env, PGPASSWORD: PG.password },
  });
}

async function rabbit(method, path, body) {
  const res = await fetch(RABBIT_API + path, {
    method,
    headers: { authorization: RABBIT_AUTH, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!res.ok && !(method === 'DELETE' && res.status === 404)) {
    throw new Error(`RabbitMQ management API ${method} ${path}: ${res.status} ${await res.text()}`);
  }
}

/** Polls check() until it returns a truthy value, or fails after timeoutMs. */
export async function waitFor(check, { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ': ' + lastError.message : ''}`);
}

function startProcess(name, bin, args, env, logs, echo) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    logs.push(`[${name}] ${chunk}`);
    if (echo) process.stderr.write(`[${name}] ${chunk}`);
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  return child;
}

async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await child.exited;
  clearTimeout(timer);
}

/**
 * Builds bin/trend into a temporary directory (or copies $E2E_TREND_BIN,
 * a binary built elsewhere, e.g. from another commit) and starts the system.
 * echo: also copy the processes' output to stderr.
 * Returns { baseURL, adminToken, logs, stop }.
 */
export async function startSystem({ echo = false } = {}) {
  const index = join(repoRoot, 'internal/web/dist/index.html');
  await stat(index).catch(() => {
    throw new Error('the dashboard is not built: run `make dashboard` (or `npx vite build` in frontend/) first');
  });
  if (!(await readFile(index, 'utf8')).includes('/assets/')) {
    throw new Error(`${index} does not look like a Vite build`);
  }

  const work = await mkdtemp(join(tmpdir(), 'trend-e2e-'));
  const bin = join(work, 'trend');
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `trend_e2e_${suffix}`;
  const vhost = `trend-e2e-${suffix}`;
  const adminToken = `e2e-${suffix}`;
  const logs = [];
  const procs = [];
  const cleanups = [];

  const stop = async () => {
    for (const p of procs.reverse()) await stopProcess(p);
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        console.error('e2e clean-up:', err.message);
      }
    }
  };

  try {
    // The binary embeds internal/web/dist as it is now, so build after the dashboard.
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    if (process.env.E2E_TREND_BIN) await copyFile(process.env.E2E_TREND_BIN, bin);
    else await run('go', ['build', '-o', bin, './cmd/trend'], { cwd: repoRoot, maxBuffer: 16 << 20 });

    await psql(`CREATE DATABASE "${db}"`);
    cleanups.push(() => psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`));

    await rabbit('PUT', `/vhosts/${encodeURIComponent(vhost)}`);
    cleanups.push(() => rabbit('DELETE', `/vhosts/${encodeURIComponent(vhost)}`));
    await rabbit('PUT', `/permissions/${encodeURIComponent(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });

    const [tmdbPort, httpPort] = [await freePort(), await freePort()];
    procs.push(startProcess('tmdb-fake', bin, ['tmdb-fake', '--addr', `127.0.0.1:${tmdbPort}`], {}, logs, echo));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${tmdbPort}/3/movie/550?api_key=x`)).ok, {
      what: 'trend tmdb-fake',
    });

    const all = startProcess('all', bin, ['all'], {
      DATABASE_URL: `postgres://${PG.user}:${PG.password}@${PG.host}:${PG.port}/${db}?sslmode=disable`,
      AMQP_URL: `${AMQP_BASE}/${encodeURIComponent(vhost)}`,
      HTTP_ADDR: `127.0.0.1:${httpPort}`,
      TMDB_BASE_URL: `http://127.0.0.1:${tmdbPort}/3`,
      TMDB_API_KEY: 'e2e',
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'info',
    }, logs, echo);
    procs.push(all);
    const baseURL = `http://127.0.0.1:${httpPort}`;
    await waitFor(async () => {
      if (all.exitCode !== null) throw new Error(`trend all exited (${all.exitCode}):\n${logs.join('')}`);
      return (await fetch(`${baseURL}/readyz`)).ok;
    }, { timeoutMs: 60_000, what: 'trend all to be ready' });

    /**
     * Publishes a raw message to an exchange of this system's vhost through
     * the management API (e.g. a malformed command, to make a dead letter).
     * Returns whether RabbitMQ routed it to a queue.
     */
    const publishRaw = async (exchange, headers, payload) => {
      const res = await fetch(`${RABBIT_API}/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(exchange)}/publish`, {
        method: 'POST',
        headers: { authorization: RABBIT_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { delivery_mode: 2, headers }, routing_key: '', payload, payload_encoding: 'string' }),
      });
      return res.ok && (await res.json()).routed === true;
    };

    return { baseURL, adminToken, logs, stop, publishRaw };
  } catch (err) {
    await stop();
    throw err;
  }
}
