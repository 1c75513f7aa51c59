import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdminPanel } from './AdminPanel.jsx';
import { NoticeList, NoticesProvider } from './Notices.jsx';
import { fakeApi, json, problem } from '../test/fakes.js';

function renderAdmin() {
  return render(
    <NoticesProvider>
      <NoticeList />
      <AdminPanel />
    </NoticesProvider>,
  );
}

async function unlock(user, token = 'sekrit') {
  await user.type(screen.getByLabelText('Admin token'), token);
  await user.click(screen.getByRole('button', { name: 'Unlock' }));
}

const letters = [
  { id: 'a1', reason: 'decode: unexpected end of JSON', topic: 'commands.RecordViews', handler: 'RecordViewsHandler', payload_preview: '{"views":[' },
  { id: 'b2', reason: 'TMDB 401', topic: 'events', handler: 'tmdb-enrichment', payload_preview: '{"events":[]}', dead_lettered_at: '2025-03-02T10:00:00Z' },
];

describe('AdminPanel', () => {
  afterEach(() => vi.useRealTimers());

  it('asks for a token first and keeps it for the tab only', async () => {
    fakeApi({ 'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }), 'GET /api/admin/dead-letters': () => [] });
    const user = userEvent.setup();
    renderAdmin();
    expect(screen.queryByRole('button', { name: 'Start replay' })).not.toBeInTheDocument();
    await unlock(user);
    expect(sessionStorage.getItem('movietrend.adminToken')).toBe('sekrit');
    expect(await screen.findByRole('button', { name: 'Start replay' })).toBeInTheDocument();
    expect(await screen.findByText('None: every message was handled.')).toBeInTheDocument();
    expect(fetch.calls.every((c) => c.headers.Authorization === 'Bearer sekrit')).toBe(true);
    await user.click(screen.getByRole('button', { name: 'Forget token' }));
    expect(sessionStorage.getItem('movietrend.adminToken')).toBeNull();
    expect(screen.getByLabelText('Admin token')).toBeInTheDocument();
  });

  it('starts a replay and shows its progress', async () => {
    let replay = { state: 'idle', position: 0, head: 0 };
    fakeApi({
      'GET /api/admin/replay': () => replay,
      'POST /api/admin/replay': () => {
        replay = { state: 'running', position: 250, head: 1000, rate: 5000, eta_seconds: 0.15 };
        return new Response(JSON.stringify(replay), { status: 202 });
      },
      'GET /api/admin/dead-letters': () => [],
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    await user.click(await screen.findByRole('checkbox', { name: 'Compare with the live projection' }));
    await user.click(await screen.findByRole('button', { name: 'Start replay' }));
    expect(fetch.calls.find((c) => c.method === 'POST').body).toEqual({ check: true });
    const bar = await screen.findByRole('progressbar', { name: 'Replay progress' });
    await waitFor(() => expect(bar).toHaveAttribute('value', '250'));
    expect(bar).toHaveAttribute('max', '1000');
    expect(bar).toHaveAttribute('aria-valuetext', '25%, 250 of 1,000 events');
    expect(screen.getByText(/State:/)).toHaveTextContent('State: running · about 150 ms left');
    expect(screen.getByRole('button', { name: 'Start replay' })).toBeDisabled();
  });

  it('says why a replay failed', async () => {
    fakeApi({
      'GET /api/admin/replay': () => ({ state: 'failed', position: 10, head: 40, rate: 0, eta_seconds: 0, error: 'event 11: unknown type', finished_at: '2025-03-02T10:00:00Z' }),
      'GET /api/admin/dead-letters': () => [],
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    expect(await screen.findByText('The replay failed: event 11: unknown type')).toBeInTheDocument();
    expect(screen.getByText(/State:/)).toHaveTextContent(/finished Mar 2, 2025/);
  });

  it('lists dead letters and requeues the selected ones, or all', async () => {
    let list = letters;
    const api = fakeApi({
      'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }),
      'GET /api/admin/dead-letters': () => list,
      'POST /api/admin/dead-letters/requeue': ({ body }) => {
        const before = list.length;
        list = body ? list.filter((d) => !body.ids.includes(d.id)) : [];
        return { requeued: before - list.length };
      },
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    const table = await screen.findByRole('table', { name: /failed after their retries/ });
    expect(within(table).getByText('decode: unexpected end of JSON')).toBeInTheDocument();
    // Letters wait for days: the date, not only the time.
    expect(within(table).getByText('TMDB 401')).toHaveTextContent(/Mar 2, 2025/);
    await user.click(screen.getByRole('checkbox', { name: 'Select dead letter a1' }));
    await user.click(screen.getByRole('button', { name: 'Requeue selected (1)' }));
    expect(await screen.findByText('Requeued 1 dead letter.')).toBeInTheDocument();
    expect(api.calls.find((c) => c.path === '/api/admin/dead-letters/requeue').body).toEqual({ ids: ['a1'] });
    await waitFor(() => expect(screen.queryByText('decode: unexpected end of JSON')).not.toBeInTheDocument());

    await user.click(screen.getByRole('button', { name: /^Requeue all/ }));
    // The second notice, under the first: the one left was requeued.
    await waitFor(() => expect(screen.getAllByText('Requeued 1 dead letter.')).toHaveLength(2));
    expect(api.calls.filter((c) => c.path === '/api/admin/dead-letters/requeue').at(-1).body).toBeUndefined();
    expect(await screen.findByText('None: every message was handled.')).toBeInTheDocument();
  });

  it('counts and requeues only the selected letters still listed', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let list = letters;
    const api = fakeApi({
      'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }),
      'GET /api/admin/dead-letters': () => list,
      'POST /api/admin/dead-letters/requeue': ({ body }) => ({ requeued: body.ids.length }),
    });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderAdmin();
    await unlock(user);
    await user.click(await screen.findByRole('checkbox', { name: 'Select dead letter a1' }));
    await user.click(screen.getByRole('checkbox', { name: 'Select dead letter b2' }));
    expect(screen.getByRole('button', { name: 'Requeue selected (2)' })).toBeInTheDocument();
    // Someone else requeues a1; the next poll no longer lists it.
    list = letters.filter((d) => d.id !== 'a1');
    await act(async () => vi.advanceTimersByTime(10_000));
    await user.click(await screen.findByRole('button', { name: 'Requeue selected (1)' }));
    await waitFor(() => expect(api.calls.some((c) => c.path === '/api/admin/dead-letters/requeue')).toBe(true));
    expect(api.calls.find((c) => c.path === '/api/admin/dead-letters/requeue').body).toEqual({ ids: ['b2'] });
  });

  it('lists a dead letter that two handler groups failed once per group', async () => {
    // The same event batch, dead-lettered by both groups: the same id twice.
    const twice = [
      { id: 'e1', reason: 'projection: boom', topic: 'events', handler: 'trend-projection', payload_preview: '{}' },
      { id: 'e1', reason: 'TMDB 401', topic: 'events', handler: 'tmdb-enrichment', payload_preview: '{}' },
    ];
    let list = twice;
    fakeApi({ 'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }), 'GET /api/admin/dead-letters': () => list });
    const consoleError = vi.spyOn(console, 'error');
    try {
      const user = userEvent.setup();
      renderAdmin();
      await unlock(user);
      const table = await screen.findByRole('table', { name: /failed after their retries/ });
      expect(within(table).getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('cell')[2].textContent)).toEqual([
        'eventstrend-projection',
        'eventstmdb-enrichment',
      ]);
      // One of them requeued elsewhere: the other row stays, the right one.
      list = [twice[1]];
      await user.click(screen.getByRole('button', { name: 'Reload list' }));
      await waitFor(() => expect(within(table).getAllByRole('row')).toHaveLength(2));
      expect(within(table).getByText('TMDB 401')).toBeInTheDocument();
      expect(consoleError.mock.calls.flat().join(' ')).not.toMatch(/same key/);
    } finally {
      consoleError.mockRestore();
    }
  });

  it('says when only the oldest dead letters are listed', async () => {
    fakeApi({
      'GET /api/admin/replay': () => ({ state: 'running', position: 10, head: 100, eta_seconds: 0 }),
      'GET /api/admin/dead-letters': () => json(200, letters, { 'X-Total-Count': '5000' }),
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    expect(await screen.findByText(`The oldest ${letters.length} of 5,000 are shown; “Requeue all” sends every one.`)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Requeue all (5,000)' })).toBeInTheDocument();
    // A replay that does not know its rate yet gives no time left.
    expect(screen.getByRole('status')).not.toHaveTextContent(/left/);
  });

  it('says which dead letters could not be requeued', async () => {
    fakeApi({
      'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }),
      'GET /api/admin/dead-letters': () => letters,
      'POST /api/admin/dead-letters/requeue': () => ({ requeued: 1, skipped: [{ id: 'b2', reason: 'no queue for topic events' }], not_found: ['zz'] }),
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    await user.click(await screen.findByRole('button', { name: /^Requeue all/ }));
    expect(await screen.findByText('Requeued 1 dead letter.')).toBeInTheDocument();
    expect(screen.getByText('Not requeued (1): b2: no queue for topic events')).toBeInTheDocument();
    expect(screen.getByText('1 selected dead letters were no longer in the queue.')).toBeInTheDocument();
  });

  it('forgets a refused token, stops asking with it, and asks for another', async () => {
    vi.useFakeTimers();
    let good = 'none';
    const refused = (req) => req.headers.Authorization !== `Bearer ${good}`;
    fakeApi({
      'GET /api/admin/replay': (req) => (refused(req) ? problem(401, 'missing or wrong bearer token') : { state: 'idle', position: 0, head: 0 }),
      'GET /api/admin/dead-letters': (req) => (refused(req) ? problem(403, 'forbidden') : []),
    });
    sessionStorage.setItem('movietrend.adminToken', 'wrong'); // from before a reload
    renderAdmin();
    for (let i = 0; i < 5; i++) await act(async () => {});
    expect(screen.getByRole('alert')).toHaveTextContent('The server refused this admin token.');
    expect(screen.getByLabelText('Admin token')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Start replay' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /^Requeue/ })).not.toBeInTheDocument();
    expect(sessionStorage.getItem('movietrend.adminToken')).toBeNull();
    const asked = fetch.calls.length;
    await act(async () => vi.advanceTimersByTime(10 * 60_000));
    expect(fetch.calls).toHaveLength(asked);

    // The right one: the error goes, the panels come back.
    good = 'right';
    fireEvent.change(screen.getByLabelText('Admin token'), { target: { value: 'right' } });
    fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    for (let i = 0; i < 5; i++) await act(async () => {});
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Start replay' })).toBeEnabled();
    expect(sessionStorage.getItem('movietrend.adminToken')).toBe('right');
  });

  it('forgets the token when an action is refused', async () => {
    fakeApi({
      'GET /api/admin/replay': () => ({ state: 'idle', position: 0, head: 0 }),
      'GET /api/admin/dead-letters': () => [],
      'POST /api/admin/replay': () => problem(403, 'forbidden'),
    });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    await user.click(await screen.findByRole('button', { name: 'Start replay' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The server refused this admin token.');
    expect(screen.getByLabelText('Admin token')).toBeInTheDocument();
    expect(sessionStorage.getItem('movietrend.adminToken')).toBeNull();
  });

  it('says so when the server has no admin endpoints, or has them disabled', async () => {
    fakeApi({ 'GET /api/admin/replay': () => problem(404, 'admin endpoints are disabled: set ADMIN_TOKEN to enable them') });
    const user = userEvent.setup();
    renderAdmin();
    await unlock(user);
    expect(await screen.findByText('admin endpoints are disabled: set ADMIN_TOKEN to enable them')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Start replay' })).toBeDisabled();
    // Dead letters are missing altogether here: said once, no dead controls.
    expect(await screen.findByText(/This server does not offer this yet/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Requeue all' })).not.toBeInTheDocument();
  });
});
