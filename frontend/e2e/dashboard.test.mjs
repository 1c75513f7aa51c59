// End-to-end tests of the dashboard: Debian's Chromium, driven by
// playwright-core, against the real system (trend all on PostgreSQL and
// RabbitMQ, trend tmdb-fake for TMDB), built from this checkout.
//
//   node --test e2e/        (after `make dashboard`; `make test-dashboard` does both)
//
// DASHBOARD_SCREENSHOT=path writes the screenshot there too (the committed
// one is docs/dashboard.png); it always goes to e2e/output/dashboard.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startSystem, repoRoot } from './system.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Generous: the pipeline answers in about a second, but a machine busy with
// other work (or a long transaction elsewhere in PostgreSQL, which holds the
// outbox back) can take much longer; waits end as soon as the condition holds.
const TIMEOUT = 45_000;
const outputDir = resolve(import.meta.dirname, 'output');

let system;
let profileDir;
let context;
let page;
let appResponse;
const consoleErrors = [];

async function api(path, body) {
  const res = await fetch(system.baseURL + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: HTTP ${res.status} ${await res.clone().text()}`);
  return res.status === 204 ? null : res.json();
}
/** An admin endpoint with the system's token. */
async function adminApi(path) {
  const res = await fetch(system.baseURL + path, { headers: { Authorization: `Bearer ${system.adminToken}` } });
  assert.equal(res.status, 200, `${path} with the admin token: HTTP ${res.status} ${await res.clone().text()}`);
  return res.json();
}
const addViews = async (id, n) => {
  for (let i = 0; i < n; i++) await api('/api/movies/view', { tmdb_id: id });
};

/** A row's button: its accessible name is the visible text, then the rank. */
const titleButton = (name) => page.getByRole('button', { name: new RegExp(`^${name}\\b.*, rank \\d+,`) });
const rankedTitles = () =>
  page.locator('.board__table tbody tr[data-tmdb-id] .row-open__title').allTextContents();

async function registerThroughForm(id) {
  const input = page.getByLabel('TMDB id');
  await input.fill(String(id));
  await page.getByRole('button', { name: 'Register', exact: true }).click();
}

/** Waits until fn() (run in the test) returns true; fails with what it saw. */
async function eventually(fn, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}; last saw ${JSON.stringify(last)}`);
}

describe('dashboard against the real system', { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/e2e-dashboard.sh does)`);
    system = await startSystem();
    // A malformed command, to become a dead letter once its retries are
    // spent (about 15 s): by the admin test it is in the dead-letter queue.
    await eventually(
      () => system.publishRaw('commands.RecordViews', { name: 'RecordViews', _watermill_message_uuid: 'e2e-poison' }, '{"views": "not a list"'),
      'RabbitMQ to route a message to commands.RecordViews',
    );
    profileDir = await mkdtemp(join(tmpdir(), 'trend-e2e-chromium-'));
    // A fresh profile (--user-data-dir) each run; Playwright passes it itself.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
      reducedMotion: 'reduce',
    });
    context.setDefaultTimeout(TIMEOUT);
    // Every breach of the page's Content-Security-Policy, as the browser
    // reports it to the page (checked by its own test below).
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every 4xx/5xx response ("Failed to load resource");
      // the tests cause some on purpose. Anything else is a real error.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(msg.text());
    });
    appResponse = await page.goto(system.baseURL + '/');
    // Set once: if the page ever reloads, it is gone.
    await page.evaluate(() => (window.__notReloaded = true));
  });

  after(async () => {
    // What the system said, for when a test failed.
    if (system) {
      await mkdir(outputDir, { recursive: true });
      await writeFile(join(outputDir, 'system.log'), system.logs.join(''));
    }
    await context?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await system?.stop();
  });

  test('the dashboard is served by trend api and goes live', async () => {
    await page.getByRole('heading', { name: 'Movie Trend Analyzer' }).waitFor();
    await page.getByRole('status', { name: 'Live updates' }).filter({ hasText: 'Live' }).waitFor();
    await page.getByText('No movies yet').waitFor();
  });

  test('a registered movie shows its title when TMDB answers', async () => {
    await registerThroughForm(27205);
    await page.getByText('Registered movie 27205; fetching its details from TMDB…').waitFor();
    await titleButton('Inception').waitFor();
    await registerThroughForm(157336);
    await titleButton('Interstellar').waitFor();
    assert.equal(await page.locator('.board-row .badge--pending').count(), 0);
  });

  test('views change the count and the order without reloading', async () => {
    // Both have TMDB 8.1 and no views: 5.7 each, Inception first by id.
    await eventually(async () => {
      const t = await rankedTitles();
      return (t[0] === 'Inception' && t[1] === 'Interstellar') || t;
    }, 'Inception above Interstellar');

    // One view through the board's own button...
    const viewButton = page.getByRole('button', { name: '+1 view for Interstellar' });
    await viewButton.click();
    // ...and more through the API, as other users would.
    await addViews(157336, 4);
    const row = page.locator('.board__table tr[data-tmdb-id="157336"]');
    // The click left the pointer over the board, which holds the order; but
    // a pointer at rest lets go after POINTER_IDLE_MS (10 s), and a busy
    // host may take longer to count the views. Move it a pixel to and fro
    // over the button at each look, so the hold lasts the whole wait.
    let wiggle = 0;
    const keepPointing = async () => {
      const { x, y, width, height } = await viewButton.boundingBox();
      await page.mouse.move(x + width / 2 + (wiggle++ % 2), y + height / 2);
    };
    await eventually(async () => {
      await keepPointing();
      return (await row.locator('td.col-num').first().textContent()) === '5' || (await row.textContent());
    }, 'Interstellar at 5 views');
    // The pointer is still over the board: the counts change in place, the
    // order holds, and the board says why.
    await page.getByText('Order paused while you point at or focus the board').waitFor();
    assert.deepEqual((await rankedTitles()).slice(0, 2), ['Inception', 'Interstellar']);
    // The pointer leaves (the click's focus stays on the button, which
    // does not hold the order): 8.1 × 0.7 + 0.5 × 0.3 = 5.82, and 5.8
    // beats Inception's 5.7.
    await page.mouse.move(0, 0);
    await eventually(async () => {
      const t = await rankedTitles();
      return t[0] === 'Interstellar' || t;
    }, 'Interstellar to move to the top');
    await row.getByTitle('Moved up 1').waitFor();
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page reloaded');
  });

  test('a bad id shows a readable error', async () => {
    const alert = page.locator('.actions [role="alert"]');
    await registerThroughForm('0');
    await alert.filter({ hasText: 'tmdb_id must be from 1 to 2147483647, not 0' }).waitFor();
    await registerThroughForm('abc');
    await alert.filter({ hasText: '“abc” is not a TMDB id' }).waitFor();
    await registerThroughForm(27205);
    await alert.filter({ hasText: /27205/ }).waitFor();
    const text = await alert.textContent();
    assert.doesNotMatch(text, /object Object|\{|"detail"/);
    assert.equal(await page.getByLabel('TMDB id').getAttribute('aria-invalid'), 'true');
  });

  test('a movie TMDB does not know disappears with a notice', async () => {
    await registerThroughForm(999999999);
    await page.getByRole('region', { name: 'Notices' }).getByText('TMDB does not know movie 999999999: removed').waitFor();
    await eventually(async () => (await page.locator('tr[data-tmdb-id="999999999"]').count()) === 0, 'the removed row to go');
  });

  test('the pipeline panel shows numbers that move', async () => {
    const panel = page.getByRole('region', { name: 'Pipeline' });
    const head = panel.getByText(/^log head /);
    await head.waitFor();
    // The panel polls every 2 s: wait for a poll that saw the earlier events.
    let before = 0;
    await eventually(async () => {
      before = Number((await head.textContent()).replace(/\D/g, ''));
      return before > 0;
    }, 'the log head to show the earlier events');
    await addViews(27205, 3);
    await eventually(async () => {
      const now = Number((await head.textContent()).replace(/\D/g, ''));
      return now > before || now;
    }, 'the log head to grow');
    await panel.getByRole('table', { name: 'RabbitMQ queues' }).getByText('commands.RecordViews').waitFor();
    const link = panel.getByRole('link', { name: /RabbitMQ management UI/ });
    assert.match(await link.getAttribute('href'), /:15672\/?$/);
  });

  test('a movie opens with its facts, its score explained and a chart', async () => {
    await titleButton('Inception').click();
    const panel = page.getByRole('region', { name: 'Inception' });
    await panel.getByRole('heading', { name: 'Inception' }).waitFor();
    await panel.getByText('Action, Thriller, Science Fiction, Mystery, Adventure').waitFor();
    await panel.getByRole('row', { name: /TMDB vote average 8\.1 × 0\.7 5\.67/ }).waitFor();
    await panel.locator('.chart canvas').first().waitFor();
    assert.match(page.url(), /#movie\/27205$/);
    // The panel follows the movie live.
    await panel.getByRole('button', { name: 'Add a view' }).click();
    await panel.getByText('Views here').locator('xpath=following-sibling::dd[1]').filter({ hasText: '4' }).waitFor();
  });

  test('the board works from the keyboard', async () => {
    await page.locator('tr[data-row-index="0"] .row-open').focus();
    const focusedRow = () =>
      page.evaluate(() => {
        const row = document.activeElement?.closest('tr');
        return row && { index: row.dataset.rowIndex, title: row.querySelector('.row-open__title').textContent };
      });
    assert.equal((await focusedRow()).index, '0');
    await page.keyboard.press('ArrowDown');
    await eventually(async () => (await focusedRow())?.index === '1' || (await focusedRow()), 'focus on the second row');
    const { title } = await focusedRow();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 2, name: title }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { level: 2, name: title }).waitFor({ state: 'detached' });
  });

  test('admin: with the token, replay and dead letters', async () => {
    const panel = page.getByRole('region', { name: 'Admin' });
    await panel.getByLabel('Admin token').fill(system.adminToken);
    await panel.getByRole('button', { name: 'Unlock' }).click();
    // system.mjs sets ADMIN_TOKEN: the endpoints are there and take it.
    await adminApi('/api/admin/replay');
    const compare = panel.getByRole('checkbox', { name: 'Compare with the live projection' });
    await compare.check();
    await panel.getByRole('button', { name: 'Start replay' }).click();
    await panel.getByRole('progressbar', { name: 'Replay progress' }).waitFor();
    await panel.getByText(/State: (running|done)/).waitFor();
    await panel.getByText(/State: done/).waitFor();
    // A replay of this small log equals the live projection.
    await panel.getByText(/Rows that differed from the live projection: 0/).waitFor();

    // A real replay gives every row a new change number, so the stream sends
    // them all again, removed ones included: the board must not announce
    // the removal of movie 999999999 a second time.
    const checked = await adminApi('/api/admin/replay');
    await compare.uncheck();
    await panel.getByRole('button', { name: 'Start replay' }).click();
    await eventually(async () => {
      const r = await adminApi('/api/admin/replay');
      return (r.id > checked.id && r.state === 'done') || r;
    }, 'the replay to finish');
    // A change made after it reaches the board after the rows it re-sent.
    const { internal_views_count: views } = await api('/api/movies/27205');
    await addViews(27205, 1);
    const inception = page.locator('.board__table tr[data-tmdb-id="27205"] td.col-num').first();
    await eventually(async () => (await inception.textContent()) === String(views + 1) || (await inception.textContent()), `Inception at ${views + 1} views`);
    const removals = page.getByRole('region', { name: 'Notices' }).getByText(/^TMDB does not know movie/);
    assert.deepEqual(await removals.allTextContents(), ['TMDB does not know movie 999999999: removed']);

    await panel.getByRole('heading', { name: 'Dead letters' }).waitFor();
    await adminApi('/api/admin/dead-letters');
    // The malformed command sent at the start, with the reason it failed.
    const row = panel.getByRole('row').filter({ hasText: 'unexpected end of JSON input' });
    await eventually(async () => {
      if ((await row.count()) > 0) return true;
      await panel.getByRole('button', { name: 'Reload list' }).click();
      return 'not listed yet';
    }, 'the dead letter to be listed');
    await row.getByRole('cell', { name: /commands\.RecordViews/ }).waitFor();
    // The pipeline panel counts it too.
    const deadStat = page.getByRole('region', { name: 'Pipeline' }).locator('.stat').filter({ hasText: 'Dead letters' });
    await deadStat.locator('.stat__value').filter({ hasText: /^1$/ }).waitFor();
    await row.getByRole('checkbox', { name: 'Select dead letter e2e-poison' }).check();
    await mkdir(outputDir, { recursive: true });
    await panel.screenshot({ path: join(outputDir, 'admin.png') });
    await panel.getByRole('button', { name: 'Requeue selected (1)' }).click();
    await page.getByRole('region', { name: 'Notices' }).getByText('Requeued 1 dead letter.').waitFor();
    assert.doesNotMatch(await panel.textContent(), /object Object/);
    await panel.getByRole('button', { name: 'Forget token' }).click();
  });

  test('screenshot', async () => {
    // Some life on the board: more movies and views.
    for (const id of [550, 680, 603, 13, 278, 155]) await api('/api/movies/register', { tmdb_id: id });
    await titleButton('The Dark Knight').waitFor();
    await addViews(603, 12);
    await addViews(155, 30);
    await addViews(278, 7);
    await eventually(async () => (await rankedTitles())[0] === 'The Dark Knight' || (await rankedTitles()), 'The Dark Knight on top');
    await titleButton('The Dark Knight').click();
    await addViews(155, 5);
    // This server ranks by the decayed score too: the column is there, and
    // follows the views within a couple of seconds.
    await page.getByRole('columnheader', { name: 'Trend (day)' }).waitFor();
    const trendCell = page.locator('tr[data-tmdb-id="155"] td.col-trend');
    await eventually(async () => Number.parseFloat(await trendCell.textContent()) > 0 || (await trendCell.textContent()), 'a decayed score for The Dark Knight');
    await page.getByRole('region', { name: 'The Dark Knight' }).locator('.chart canvas').first().waitFor();
    await page.getByRole('region', { name: 'Pipeline' }).locator('.chart canvas').first().waitFor();
    // Dismiss the routine confirmations, as a user would; the removal notice stays.
    const routine = page.locator('.notice--success .notice__dismiss');
    while ((await routine.count()) > 0) await routine.first().click();
    await page.evaluate(() => document.activeElement?.blur());
    await page.mouse.move(0, 0);
    await mkdir(outputDir, { recursive: true });
    const shot = join(outputDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.DASHBOARD_SCREENSHOT) {
      await copyFile(shot, resolve(repoRoot, process.env.DASHBOARD_SCREENSHOT));
    }
  });

  test('axe finds no accessibility problems', async () => {
    // Evaluated through the DevTools protocol: a <script> tag of its own
    // would be refused by the page's Content-Security-Policy, as it should.
    await page.evaluate(await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
    const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const found = violations.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
    assert.deepEqual(found, []);
  });

  test('readable at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await titleButton('The Dark Knight').waitFor();
    await page.screenshot({ path: join(outputDir, 'dashboard-phone.png') });
    const overflow = await page.evaluate(() => ({
      by: document.documentElement.scrollWidth - window.innerWidth,
      widest: [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`),
    }));
    assert.ok(overflow.by <= 0, `the page is ${overflow.by}px wider than a phone: ${overflow.widest.join(', ')}`);
    assert.equal(await page.locator('th.col-optional').first().isVisible(), false, 'the optional column hides');
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  test('renders only the visible rows with 1,000 movies and 100 updates a second', async (t) => {
    // The server coalesces to 4 events a second; this page gets the worst
    // case instead: 1,000 movies, then 100 single-movie events a second, each
    // changing a score (so the order), from a stand-in EventSource.
    const perfPage = await context.newPage();
    perfPage.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
    const movie = (id, views) => {
      const vote = 5 + (id % 50) / 10;
      return {
        tmdb_id: id, title: `Film ${id}`, status: 'active', internal_views_count: views, external_score: vote,
        vote_count: 100, popularity: 1, release_date: '2001-01-01', poster_path: null, genres: [],
        final_trend_score: Math.round((vote * 0.7 + Math.min(views / 100, 1) * 3) * 10) / 10,
        registered_at: '2026-01-01T00:00:00Z', last_updated_at: new Date().toISOString(),
      };
    };
    const thousand = Array.from({ length: 1000 }, (_, i) => movie(i + 1, 0));
    await perfPage.route('**/api/movies?*', (route) =>
      route.fulfill({ contentType: 'application/json', headers: { 'X-Total-Count': '1000' }, body: JSON.stringify(thousand) }),
    );
    await perfPage.addInitScript(`(() => {
      const movie = ${movie.toString()};
      const views = new Map();
      window.EventSource = class {
        constructor() {
          this.readyState = 0;
          this.listeners = {};
          setTimeout(() => { this.readyState = 1; this.emit('ready', '{}'); }, 50);
          // The test starts the flood once it has measured the page at rest.
          window.__flood = () => {
            this.timer = setInterval(() => {
              const id = 1 + Math.floor(Math.random() * 1000);
              views.set(id, (views.get(id) ?? 0) + 7);
              this.emit('movies', JSON.stringify([movie(id, views.get(id))]));
            }, 10);
          };
        }
        addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
        emit(type, data) { for (const fn of this.listeners[type] ?? []) fn({ type, data }); }
        close() { clearInterval(this.timer); this.readyState = 2; }
      };
    })();`);
    await perfPage.goto(system.baseURL + '/');
    await perfPage.getByText('1,000 movies').waitFor();

    // Frames and long tasks over `ms`; first at rest, then under the flood,
    // so a machine busy with other work does not count against the page.
    const measure = (ms) =>
      perfPage.evaluate(
        (ms) =>
          new Promise((resolve) => {
            let frames = 0;
            let longest = 0;
            const obs = new PerformanceObserver((list) => {
              for (const e of list.getEntries()) longest = Math.max(longest, e.duration);
            });
            obs.observe({ type: 'longtask' });
            const start = performance.now();
            const tick = () => {
              frames++;
              if (performance.now() - start < ms) return requestAnimationFrame(tick);
              obs.disconnect();
              resolve({
                fps: (frames * 1000) / ms,
                longest,
                rows: document.querySelectorAll('.board__table tbody tr[data-tmdb-id]').length,
                moved: document.querySelectorAll('.board__table .move').length,
              });
            };
            requestAnimationFrame(tick);
          }),
        ms,
      );
    const rest = await measure(1500);
    await perfPage.evaluate(() => window.__flood());
    const flood = await measure(3000);
    await perfPage.close();
    t.diagnostic(`at rest ${rest.fps.toFixed(1)} frames/s; under 100 updates/s ${flood.fps.toFixed(1)} frames/s, longest task ${flood.longest} ms, ${flood.rows} rows in the DOM`);
    // Only what is visible is in the document, and it keeps moving.
    assert.ok(flood.rows < 60, `${flood.rows} rows rendered for 1,000 movies`);
    assert.ok(flood.moved > 0, 'rows show that they moved');
    // Frame rate and long tasks are measurements (in the diagnostic line
    // above), not assertions: a test must not fail on a busy machine.
  });

  test('the page keeps to its Content-Security-Policy', async () => {
    const csp = appResponse.headers()['content-security-policy'] ?? '';
    assert.match(csp, /frame-ancestors 'none'/, `the app's Content-Security-Policy: ${csp}`);
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  });

  test('no errors in the browser console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
