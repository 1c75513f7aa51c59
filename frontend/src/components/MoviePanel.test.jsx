import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { MoviePanel, OUTSIDE_BOARD_POLL_MS } from './MoviePanel.jsx';
import { REFRESH_MS } from '../hooks/useMovieTrend.js';
import { NoticeList, NoticesProvider } from './Notices.jsx';
import { fakeApi, movie, problem } from '../test/fakes.js';

const inception = movie(27205, {
  title: 'Inception',
  external_score: 8.1,
  vote_count: 13752,
  internal_views_count: 42,
  final_trend_score: 6.9,
  genres: ['Action', 'Science Fiction'],
});

function renderPanel(props) {
  return render(
    <NoticesProvider>
      <NoticeList />
      <MoviePanel id={27205} row={{ movie: inception, rank: 1 }} onClose={() => {}} {...props} />
    </NoticesProvider>,
  );
}

const cells = (rowName) => within(screen.getByRole('row', { name: rowName })).getAllByRole('cell').map((c) => c.textContent);

describe('MoviePanel', () => {
  it('shows the facts and computes the classic breakdown when the server cannot explain it', async () => {
    fakeApi({});
    renderPanel();
    expect(screen.getByRole('heading', { name: 'Inception' })).toBeInTheDocument();
    expect(screen.getByText('Action, Science Fiction')).toBeInTheDocument();
    expect(screen.getByText('(13,752 votes)')).toBeInTheDocument();
    // 8.1 × 0.7 = 5.67; 42 views → 4.2 / 10 × 0.3 = 1.26; the server's total 6.9.
    expect(cells(/TMDB vote average/)).toEqual(['8.1', '× 0.7', '5.67']);
    expect(cells(/^Views/)).toEqual(['4.2 / 10', '× 0.3', '1.26']);
    expect(cells(/Trend score/)).toEqual(['6.9']);
    expect(await screen.findByText(/does not explain scores yet/)).toBeInTheDocument();
    expect(screen.getByText(/does not keep a view history yet/)).toBeInTheDocument();
  });

  it('uses the server’s explanation of both scores and its view history', async () => {
    const api = fakeApi({
      'GET /api/movies/27205/trend': () => ({
        tmdb_id: 27205,
        title: 'Inception',
        classic: { vote_average: 8.1, vote_term: 5.67, views: 150, views_normalized: 10, views_term: 3, final_trend_score: 8.7 },
        trending: {
          day: { half_life_hours: 24, attention: 2.99, r: 8.1, v: 13752, m: 500, c: 7.4, weighted_rating: 8.08, trend_score: 2.42 },
          week: { half_life_hours: 168, attention: 3, r: 8.1, v: 13752, m: 500, c: 7.4, weighted_rating: 8.08, trend_score: 2.43 },
        },
        views: { last_hour: 3, last_24_hours: 20, last_7_days: 25 },
        history_resolution: 'hour',
        history: [
          ...Array.from({ length: 100 }, (_, i) => ({ at: new Date(Date.UTC(2026, 0, 1, 0) + i * 3600e3).toISOString(), views: 0 })),
          { at: '2026-01-05T04:00:00Z', views: 5 },
          { at: '2026-01-05T05:00:00Z', views: 20 },
        ],
      }),
    });
    renderPanel({ row: { movie: { ...inception, internal_views_count: 150, final_trend_score: 8.7 }, rank: 1 } });
    // Leading empty hours are cut, down to the last 24.
    expect(await screen.findByRole('img', { name: /^Views per hour of Inception: 25 views over 24 hours; most, 20,/ })).toBeInTheDocument();
    // Registered long ago (the fixture): hourly history.
    expect(api.calls.find((c) => c.path === '/api/movies/27205/trend').query.get('resolution')).toBe('hour');
    expect(cells(/^Views/)).toEqual(['10 / 10', '× 0.3', '3']);
    const day = screen.getByRole('table', { name: /Trend · day/ });
    expect(within(day).getByRole('row', { name: /Attention/ })).toHaveTextContent('2.99');
    expect(within(day).getByRole('row', { name: /Weighted rating/ })).toHaveTextContent('8.1 from 13,752 votes, pulled towards the mean 7.4 by 500 votes');
    expect(within(day).getByRole('row', { name: /Trend score/ })).toHaveTextContent('2.42');
    expect(screen.getByRole('table', { name: /Trend · week/ })).toHaveTextContent('half-life 168 h');
    expect(screen.getByText(/Views in the last hour: 3 · 24 hours: 20 · 7 days: 25/)).toBeInTheDocument();
    expect(screen.queryByText(/does not explain scores yet/)).not.toBeInTheDocument();
  });

  it('computes the classic terms from the live row while the server’s are out of date', async () => {
    fakeApi({
      'GET /api/movies/27205/trend': () => ({
        classic: { vote_average: 8.1, vote_term: 5.67, views: 40, views_normalized: 4, views_term: 1.2, final_trend_score: 6.9 },
        history: [],
      }),
    });
    renderPanel(); // the row already has 42 views
    await screen.findByText(/No views recorded yet/);
    expect(cells(/^Views/)).toEqual(['4.2 / 10', '× 0.3', '1.26']);
  });

  it('gets the explanation even while the movie changes faster than the server answers', async () => {
    let requests = 0;
    fakeApi({
      'GET /api/movies/27205/trend': async () => {
        requests++;
        await new Promise((r) => setTimeout(r, 150));
        return { classic: { vote_average: 8.1, vote_term: 5.67, views: 42, views_normalized: 4.2, views_term: 1.26, final_trend_score: 6.9 }, trending: {}, history: [] };
      },
    });
    const ui = (views) => (
      <NoticesProvider>
        <MoviePanel id={27205} row={{ movie: { ...inception, last_updated_at: new Date(views * 1000).toISOString() }, rank: 1 }} onClose={() => {}} />
      </NoticesProvider>
    );
    const { rerender } = render(ui(0));
    // A new version every 40 ms, as a popular movie under live updates.
    for (let v = 1; v <= 10; v++) {
      await new Promise((r) => setTimeout(r, 40));
      rerender(ui(v));
    }
    expect(await screen.findByText('No views recorded yet.')).toBeInTheDocument();
    expect(screen.queryByText(/does not explain scores yet/)).not.toBeInTheDocument();
    // Throttled: one request, then at most one more for the changes meanwhile.
    expect(requests).toBeLessThanOrEqual(2);
  });

  it('never shows the previous movie’s explanation when the next one’s fails', async () => {
    fakeApi({
      'GET /api/movies/27205/trend': () => ({
        classic: { vote_average: 8.1, vote_term: 5.67, views: 42, views_normalized: 4.2, views_term: 1.26, final_trend_score: 6.9 },
        trending: { day: { half_life_hours: 24, attention: 2.99, r: 8.1, v: 13752, m: 500, c: 7.4, weighted_rating: 8.08, trend_score: 2.42 } },
        views: { last_hour: 3, last_24_hours: 20, last_7_days: 25 },
        history_resolution: 'hour',
        history: [{ at: '2026-01-05T05:00:00Z', views: 20 }],
      }),
      'GET /api/movies/680/trend': () => problem(503, 'the service cannot store or read data right now; retry shortly'),
    });
    const pulp = movie(680, { title: 'Pulp Fiction' });
    const { rerender } = renderPanel();
    expect(await screen.findByRole('table', { name: /Trend · day/ })).toBeInTheDocument();
    rerender(
      <NoticesProvider>
        <NoticeList />
        <MoviePanel id={680} row={{ movie: pulp, rank: 2 }} onClose={() => {}} />
      </NoticesProvider>,
    );
    expect(await screen.findByText(/The server could not explain this score: the service cannot store/)).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Pulp Fiction' })).toBeInTheDocument();
    expect(screen.queryByRole('table', { name: /Trend · day/ })).not.toBeInTheDocument();
    expect(screen.queryByText(/Views in the last hour/)).not.toBeInTheDocument();
    expect(screen.queryByRole('img', { name: /Inception|20 views/ })).not.toBeInTheDocument();
  });

  it('asks for the explanation again when the movie’s change number grows', async () => {
    const api = fakeApi({
      'GET /api/movies/27205/trend': () => ({ classic: null, trending: {}, history: [] }),
    });
    const requests = () => api.calls.filter((c) => c.path === '/api/movies/27205/trend').length;
    // Same last_updated_at: the projection does not raise it on every change.
    const ui = (change) => (
      <NoticesProvider>
        <MoviePanel id={27205} row={{ movie: { ...inception, change }, rank: 1 }} onClose={() => {}} />
      </NoticesProvider>
    );
    const { rerender } = render(ui(1));
    await waitFor(() => expect(requests()).toBe(1));
    rerender(ui(2));
    // At most every 2 s.
    await waitFor(() => expect(requests()).toBe(2), { timeout: 3000 });
  });

  it('asks for a failed explanation again without waiting for a change, and again later for a quiet movie', async () => {
    vi.useFakeTimers();
    try {
      let down = true;
      const api = fakeApi({
        'GET /api/movies/27205/trend': () =>
          down ? problem(503, 'the service cannot store or read data right now; retry shortly') : { classic: null, trending: {}, history: [] },
      });
      const requests = () => api.calls.filter((c) => c.path === '/api/movies/27205/trend').length;
      renderPanel();
      await act(async () => {});
      expect(requests()).toBe(1);
      expect(screen.getByText(/view history could not be loaded/)).toBeInTheDocument();
      down = false;
      // The movie does not change; the failure is asked again after 4 s.
      await act(async () => vi.advanceTimersByTime(4000));
      expect(requests()).toBe(2);
      expect(screen.queryByText(/could not/)).not.toBeInTheDocument();
      // Still no change: asked again after REFRESH_MS, the decayed score having fallen.
      await act(async () => vi.advanceTimersByTime(REFRESH_MS - 1));
      expect(requests()).toBe(2);
      await act(async () => vi.advanceTimersByTime(1));
      expect(requests()).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives the date of an update that was not today, not only its time', () => {
    fakeApi({});
    renderPanel({ row: { movie: { ...inception, last_updated_at: '2025-03-02T10:00:00Z' }, rank: 1 } });
    expect(screen.getByText('Last updated').nextElementSibling).toHaveTextContent(/Mar 2, 2025/);
  });

  it('reads a linked movie itself while the board has not loaded', async () => {
    fakeApi({ 'GET /api/movies/27205': () => inception });
    renderPanel({ row: null });
    expect(await screen.findByRole('heading', { name: 'Inception' })).toBeInTheDocument();
  });

  it('charts a movie registered lately per minute', async () => {
    const api = fakeApi({});
    renderPanel({ row: { movie: { ...inception, registered_at: new Date().toISOString() }, rank: 1 } });
    await waitFor(() => expect(api.calls.some((c) => c.path === '/api/movies/27205/trend')).toBe(true));
    expect(api.calls.find((c) => c.path === '/api/movies/27205/trend').query.get('resolution')).toBe('minute');
  });

  it('says the details are being fetched while the movie is pending', () => {
    fakeApi({});
    renderPanel({ row: { movie: movie(680, { title: null, status: 'pending', external_score: null }), rank: 3 }, id: 680 });
    expect(screen.getByRole('heading', { name: 'Movie 680' })).toBeInTheDocument();
    expect(screen.getByText(/Fetching details from TMDB/)).toBeInTheDocument();
  });

  it('refreshes TMDB facts and adds views', async () => {
    const api = fakeApi({
      'POST /api/movies/27205/refresh': () => new Response(null, { status: 202 }),
      'POST /api/movies/view': () => new Response('{"view_id":"x"}', { status: 202 }),
    });
    const user = userEvent.setup();
    renderPanel();
    await user.click(screen.getByRole('button', { name: 'Refresh TMDB facts' }));
    expect(await screen.findByText('Asked TMDB for fresh facts about Inception.')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Add a view' }));
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual(
      expect.arrayContaining(['POST /api/movies/27205/refresh', 'POST /api/movies/view']),
    );
  });

  it('leaves a failed command’s error with its movie when another is opened', async () => {
    fakeApi({ 'POST /api/movies/27205/refresh': () => problem(404, 'movie 27205 is not registered') });
    const user = userEvent.setup();
    const memento = movie(77, { title: 'Memento', external_score: 8.4, vote_count: 9000 });
    const panel = (id, m) => (
      <NoticesProvider>
        <MoviePanel id={id} row={{ movie: m, rank: 1 }} onClose={() => {}} />
      </NoticesProvider>
    );
    const { rerender } = render(panel(27205, inception));
    await user.click(screen.getByRole('button', { name: 'Refresh TMDB facts' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('movie 27205 is not registered');
    rerender(panel(77, memento));
    expect(await screen.findByRole('heading', { name: /Memento/ })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Refresh TMDB facts' })).toBeEnabled();
  });

  it('loads a linked movie that is not on the board, and says when it is unknown', async () => {
    fakeApi({ 'GET /api/movies/13': () => problem(404, 'movie 13 is not registered') });
    renderPanel({ id: 13, row: undefined });
    expect(await screen.findByRole('alert')).toHaveTextContent('movie 13 is not registered');
  });

  it('reads a movie that is not on the board again, as the stream does not carry it', async () => {
    vi.useFakeTimers();
    try {
      let views = 0;
      const api = fakeApi({ 'GET /api/movies/13': () => movie(13, { title: 'Far down', internal_views_count: ++views }) });
      renderPanel({ id: 13, row: undefined });
      const viewsHere = () => screen.getByText('Views here').nextElementSibling.textContent;
      await act(async () => {});
      expect(viewsHere()).toBe('1');
      await act(async () => vi.advanceTimersByTime(OUTSIDE_BOARD_POLL_MS));
      expect(viewsHere()).toBe('2');
      expect(api.calls.filter((c) => c.path === '/api/movies/13')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the last copy of a movie not on the board through a failed read, saying it is stale', async () => {
    vi.useFakeTimers();
    try {
      vi.setSystemTime(new Date(2026, 0, 2, 14, 30, 5));
      let down = false;
      fakeApi({
        'GET /api/movies/13': () => (down ? problem(503, 'the service cannot store or read data right now; retry shortly') : movie(13, { title: 'Far down', internal_views_count: 4 })),
      });
      renderPanel({ id: 13, row: undefined });
      await act(async () => {});
      const stale = /could not be read again/;
      expect(screen.queryByText(stale)).not.toBeInTheDocument();
      down = true;
      await act(async () => vi.advanceTimersByTime(OUTSIDE_BOARD_POLL_MS));
      expect(screen.getByText(stale)).toHaveTextContent(
        'This movie could not be read again (the service cannot store or read data right now; retry shortly); showing it as of 02:30:05 PM.',
      );
      expect(screen.getByRole('heading', { name: /Far down/ })).toBeInTheDocument();
      expect(screen.getByText('Views here').nextElementSibling).toHaveTextContent('4');
      // Read again (after the back-off): current, no longer stale.
      down = false;
      await act(async () => vi.advanceTimersByTime(2 * OUTSIDE_BOARD_POLL_MS));
      expect(screen.queryByText(stale)).not.toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it('says a movie not on the board is gone once it answers 404, instead of its last copy', async () => {
    vi.useFakeTimers();
    try {
      let removed = false;
      fakeApi({
        'GET /api/movies/13': () => (removed ? problem(404, 'movie 13 is not registered or was removed') : movie(13, { title: 'Far down', status: 'pending' })),
      });
      renderPanel({ id: 13, row: undefined });
      await act(async () => {});
      expect(screen.getByRole('heading', { name: /Far down/ })).toBeInTheDocument();
      removed = true;
      await act(async () => vi.advanceTimersByTime(OUTSIDE_BOARD_POLL_MS));
      expect(screen.getByRole('alert')).toHaveTextContent('movie 13 is not registered or was removed');
      expect(screen.queryByText(/Fetching details from TMDB/)).not.toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes on Escape', async () => {
    fakeApi({});
    const onClose = vi.fn();
    const user = userEvent.setup();
    renderPanel({ onClose });
    await user.keyboard('{Escape}');
    expect(onClose).toHaveBeenCalled();
  });
});
