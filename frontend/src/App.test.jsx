import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App.jsx';
import { FakeEventSource, fakeApi, keyboardFocus, movie, problem } from './test/fakes.js';

const pipeline = {
  at: '2026-01-01T00:00:00Z',
  log_head: 12,
  events_per_second: 0,
  outbox_backlog: 0,
  projection_position: 12,
  projection_lag_events: 0,
  projection_lag_seconds: 0,
  queues: [],
  dead_letters: 0,
  rabbitmq_management_url: 'http://localhost:15672',
};

function routes(extra = {}) {
  return {
    'GET /api/movies': () => [
      movie(27205, { title: 'Inception', final_trend_score: 5.8, internal_views_count: 3 }),
      movie(157336, { title: 'Interstellar', final_trend_score: 5.7, release_date: '2014-11-05' }),
    ],
    'GET /api/pipeline': () => pipeline,
    ...extra,
  };
}

async function startLive() {
  const stream = FakeEventSource.latest();
  act(() => stream.emit('ready', {}));
  await screen.findByText('Live');
  await screen.findByRole('button', { name: rowButton('Inception', 1) });
  return stream;
}

const boardRows = () => within(screen.getByRole('table', { name: /Movies ranked/ })).getAllByRole('row').slice(1);
const rowTitles = () => boardRows().map((r) => r.querySelector('.row-open__title').textContent);
/** The name of a row's button: its visible text, then its rank. */
const rowButton = (title, rank = '\\d+') => new RegExp(`^${title}\\b.*, rank ${rank},`);

describe('dashboard', () => {
  beforeEach(() => FakeEventSource.reset());
  afterEach(() => vi.useRealTimers());

  it('shows the ranking with its scores and updates it live, marking moves', async () => {
    fakeApi(routes());
    render(<App EventSourceImpl={FakeEventSource} />);
    expect(screen.getByText('Connecting…')).toBeInTheDocument();
    const stream = await startLive();
    expect(rowTitles()).toEqual(['Inception', 'Interstellar']);
    expect(within(boardRows()[0]).getByText('5.8')).toBeInTheDocument();

    act(() =>
      stream.emit('movies', [movie(157336, { title: 'Interstellar', release_date: '2014-11-05', final_trend_score: 6.1, internal_views_count: 14, last_updated_at: '2026-01-01T00:01:00Z' })]),
    );
    await waitFor(() => expect(rowTitles()[0]).toBe('Interstellar'));
    const top = boardRows()[0];
    expect(within(top).getByText('14')).toBeInTheDocument();
    expect(within(top).getByTitle('Moved up 1')).toBeInTheDocument();
    expect(within(boardRows()[1]).getByTitle('Moved down 1')).toBeInTheDocument();
  });

  it('shows that a new movie is waiting for TMDB, then its title', async () => {
    fakeApi(routes());
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    act(() => stream.emit('movies', [movie(550, { title: null, status: 'pending', external_score: null, final_trend_score: 0 })]));
    const pending = await screen.findByRole('button', { name: rowButton('Movie 550', 3) });
    expect(within(pending).getByText('Fetching details…')).toBeInTheDocument();
    act(() => stream.emit('movies', [movie(550, { title: 'Fight Club', final_trend_score: 5.8, last_updated_at: '2026-01-01T00:00:01Z' })]));
    expect(await screen.findByRole('button', { name: rowButton('Fight Club') })).toBeInTheDocument();
    expect(screen.queryByText('Fetching details…')).not.toBeInTheDocument();
  });

  it('removes a movie TMDB does not know, with a notice saying so', async () => {
    fakeApi(routes());
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    act(() => stream.emit('movies', [movie(999999999, { title: null, status: 'pending', final_trend_score: 0 })]));
    await screen.findByRole('button', { name: rowButton('Movie 999999999') });
    act(() => stream.emit('movies', [movie(999999999, { title: null, status: 'removed', final_trend_score: 0, last_updated_at: '2026-01-01T00:00:02Z' })]));
    const notices = screen.getByRole('region', { name: 'Notices' });
    expect(await within(notices).findByText('TMDB does not know movie 999999999: removed')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('button', { name: rowButton('Movie 999999999') })).not.toBeInTheDocument());
  });

  it('registers a movie and shows the server’s reason when it refuses', async () => {
    fakeApi(
      routes({
        'POST /api/movies/register': ({ body }) =>
          body.tmdb_id === 27205
            ? problem(409, 'movie 27205 is already registered')
            : new Response(JSON.stringify(movie(body.tmdb_id, { title: null, status: 'pending' })), { status: 202 }),
      }),
    );
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    const input = screen.getByLabelText('TMDB id');

    await user.type(input, '27205');
    await user.click(screen.getByRole('button', { name: 'Register' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('movie 27205 is already registered');
    expect(input).toHaveAttribute('aria-invalid', 'true');

    await user.clear(input);
    await user.type(input, '680{Enter}');
    expect(await screen.findByText(/Registered movie 680; fetching its details/)).toBeInTheDocument();
    // Shown at once, before the stream brings it.
    expect(await screen.findByRole('button', { name: rowButton('Movie 680') })).toBeInTheDocument();
  });

  it('opens a movie with its facts and its score explained', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await user.click(screen.getByRole('button', { name: rowButton('Inception', 1) }));
    const panel = screen.getByRole('region', { name: 'Inception' });
    expect(within(panel).getByRole('heading', { name: 'Inception' })).toHaveFocus();
    expect(window.location.hash).toBe('#movie/27205');
    expect(within(panel).getByText('Why this score')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('region', { name: 'Inception' })).not.toBeInTheDocument();
  });

  it('keeps the movie open when the skip link moves focus to the board', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await user.click(screen.getByRole('button', { name: rowButton('Inception', 1) }));
    await user.click(screen.getByRole('link', { name: 'Skip to the ranking' }));
    expect(screen.getByRole('heading', { name: 'Trending now' })).toHaveFocus();
    expect(window.location.hash).toBe('#movie/27205');
    expect(screen.getByRole('region', { name: 'Inception' })).toBeInTheDocument();
  });

  it('leaves one history entry for the open movie, which closing takes back', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    const before = history.length;
    await user.click(screen.getByRole('button', { name: rowButton('Inception', 1) }));
    await user.click(screen.getByRole('button', { name: rowButton('Interstellar', 2) }));
    expect(history.length).toBe(before + 1);
    expect(window.location.hash).toBe('#movie/157336');
    await user.click(screen.getByRole('button', { name: 'Close Interstellar' }));
    await waitFor(() => expect(window.location.hash).toBe(''));
    expect(screen.queryByRole('region', { name: 'Interstellar' })).not.toBeInTheDocument();
    // Back at the entry before the movie: opening another replaces what was ahead.
    await user.click(screen.getByRole('button', { name: rowButton('Inception', 1) }));
    expect(history.length).toBe(before + 1);
  });

  it('gives focus back to the movie’s row when the movie closes', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await user.click(screen.getByRole('button', { name: rowButton('Interstellar', 2) }));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('region', { name: 'Interstellar' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: rowButton('Interstellar', 2) })).toHaveFocus();

    await user.click(screen.getByRole('button', { name: rowButton('Inception', 1) }));
    await user.click(screen.getByRole('button', { name: 'Close Inception' }));
    expect(screen.getByRole('button', { name: rowButton('Inception', 1) })).toHaveFocus();
  });

  it('gives focus to the board when the movie’s row is gone', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    await user.click(screen.getByRole('button', { name: rowButton('Interstellar', 2) }));
    act(() => stream.emit('movies', [movie(157336, { title: 'Interstellar', status: 'removed', last_updated_at: '2026-01-01T00:00:09Z' })]));
    await waitFor(() => expect(screen.queryByRole('button', { name: rowButton('Interstellar') })).not.toBeInTheDocument());
    await user.click(screen.getByRole('button', { name: /^Close / }));
    expect(screen.getByRole('heading', { name: 'Trending now' })).toHaveFocus();
  });

  /** The board with Film 1 to Film 100 in that order, live, Film 3 focused from the keyboard. */
  async function focusThirdOfAHundred() {
    const many = Array.from({ length: 100 }, (_, i) => movie(i + 1, { title: `Film ${i + 1}`, final_trend_score: (1000 - i) / 100 }));
    fakeApi(routes({ 'GET /api/movies': () => many }));
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = FakeEventSource.latest();
    act(() => stream.emit('ready', {}));
    const third = await screen.findByRole('button', { name: rowButton('Film 3', 3) });
    act(() => keyboardFocus(third));
    return { stream, third };
  }

  it('keeps focus on the board when live changes take the focused row away', async () => {
    const { stream } = await focusThirdOfAHundred();
    // Film 3 is removed (it cannot fall: the order holds while focus is in the board).
    act(() => stream.emit('movies', [movie(3, { title: 'Film 3', status: 'removed', last_updated_at: '2026-01-01T00:00:09Z' })]));
    await waitFor(() => expect(screen.queryByRole('button', { name: rowButton('Film 3') })).not.toBeInTheDocument());
    // The row now third has it: the user keeps their place.
    expect(screen.getByRole('button', { name: rowButton('Film 4', 3) })).toHaveFocus();
  });

  it('keeps a focused movie in its place and focused while live changes re-rank it', async () => {
    const { stream, third } = await focusThirdOfAHundred();
    // Film 3 falls to the bottom, far outside the rendered rows, and Film 5 rises to the top.
    act(() =>
      stream.emit('movies', [
        movie(3, { title: 'Film 3', final_trend_score: 0, last_updated_at: '2026-01-01T00:00:09Z' }),
        movie(5, { title: 'Film 5', final_trend_score: 20, last_updated_at: '2026-01-01T00:00:09Z' }),
      ]),
    );
    await screen.findByRole('button', { name: rowButton('Film 3', 100) });
    expect(third).toHaveFocus();
    expect(rowTitles().slice(0, 5)).toEqual(['Film 1', 'Film 2', 'Film 3', 'Film 4', 'Film 5']);
    expect(screen.getByText('Order paused while you point at or focus the board')).toBeInTheDocument();
    // Focus leaves the board: it ranks as it is.
    act(() => screen.getByRole('heading', { name: 'Trending now' }).focus());
    expect(rowTitles().slice(0, 3)).toEqual(['Film 5', 'Film 1', 'Film 2']);
    expect(screen.queryByText('Order paused while you point at or focus the board')).not.toBeInTheDocument();
  });

  it('shows the reloaded order, still held, when the stream reconnects under a resting pointer', async () => {
    let list = routes()['GET /api/movies']();
    fakeApi(routes({ 'GET /api/movies': () => list }));
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    fireEvent.pointerEnter(screen.getByRole('table', { name: /Movies ranked/ }));
    // Interstellar overtook Inception while the connection was down.
    list = [movie(157336, { title: 'Interstellar', final_trend_score: 6.1 }), movie(27205, { title: 'Inception', final_trend_score: 5.8 })];
    act(() => stream.drop());
    act(() => stream.emit('ready', {}));
    await screen.findByText('Live');
    await waitFor(() => expect(screen.getByRole('button', { name: rowButton('Interstellar', 1) })).toBeInTheDocument());
    expect(rowTitles()).toEqual(['Interstellar', 'Inception']);
    expect(screen.getByText('Order paused while you point at or focus the board')).toBeInTheDocument();
  });

  it('shows the board’s count in step with removals', async () => {
    const two = routes()['GET /api/movies']();
    fakeApi(routes({ 'GET /api/movies': () => new Response(JSON.stringify(two), { headers: { 'X-Total-Count': '2' } }) }));
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    expect(screen.getByText('2 movies')).toBeInTheDocument();
    act(() => stream.emit('movies', [movie(157336, { status: 'removed', last_updated_at: '2026-01-01T00:00:09Z' })]));
    expect(await screen.findByText('1 movie')).toBeInTheDocument();
  });

  it('follows the server’s count of movies when only the first 1,000 were loaded', async () => {
    let listed = 1500;
    const top = routes()['GET /api/movies']();
    fakeApi(
      routes({
        'GET /api/movies': () => new Response(JSON.stringify(top), { headers: { 'X-Total-Count': '1500' } }),
        'GET /api/trending': () => new Response('[]', { headers: { 'Content-Type': 'application/json', 'X-Total-Count': String(listed) } }),
      }),
    );
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    expect(screen.getByText('2 of 1,500 movies')).toBeInTheDocument();
    // Someone registers a movie: it ranks beyond the loaded ones, so only
    // the server's count can say it is new. The change nudges a poll.
    listed = 1501;
    act(() => stream.emit('movies', [movie(550, { title: null, status: 'pending', final_trend_score: 0 })]));
    expect(await screen.findByText('2 of 1,501 movies', {}, { timeout: 4000 })).toBeInTheDocument();
  });

  it('announces no removal of a movie the board never had, as after a replay', async () => {
    fakeApi(routes());
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = await startLive();
    // A real replay re-sends every row, the removed ones too.
    act(() =>
      stream.emit('movies', [
        movie(27205, { title: 'Inception', final_trend_score: 5.8, internal_views_count: 3, change: 40 }),
        movie(999999999, { title: null, status: 'removed', change: 41 }),
      ]),
    );
    await waitFor(() => expect(screen.getByRole('button', { name: rowButton('Inception', 1) })).toBeInTheDocument());
    expect(within(screen.getByRole('region', { name: 'Notices' })).queryAllByRole('listitem')).toHaveLength(0);
  });

  it('moves between rows with the arrow keys', async () => {
    fakeApi(routes());
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    screen.getByRole('button', { name: rowButton('Inception', 1) }).focus();
    await user.keyboard('{ArrowDown}');
    await waitFor(() => expect(screen.getByRole('button', { name: rowButton('Interstellar', 2) })).toHaveFocus());
    await user.keyboard('{ArrowUp}');
    await waitFor(() => expect(screen.getByRole('button', { name: rowButton('Inception', 1) })).toHaveFocus());
  });

  it('hides the day/week switch when the server has no decayed score', async () => {
    fakeApi(routes());
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await waitFor(() => expect(fetch.calls.some((c) => c.path === '/api/trending')).toBe(true));
    expect(screen.queryByRole('group', { name: 'Order by' })).not.toBeInTheDocument();
    expect(screen.queryByRole('columnheader', { name: /Trend/ })).not.toBeInTheDocument();
  });

  it('shows both scores and orders by the decayed one for the chosen window', async () => {
    const decayed = {
      day: [{ ...movie(157336), trend_score: 9.1 }, { ...movie(27205), trend_score: 2.5 }],
      week: [{ ...movie(27205), trend_score: 7.7 }, { ...movie(157336), trend_score: 1.2 }],
    };
    fakeApi(routes({ 'GET /api/trending': ({ query }) => decayed[query.get('window')] }));
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    expect(await screen.findByRole('columnheader', { name: 'Trend (day)' })).toBeInTheDocument();
    // Classic order still, with the day's decayed score beside it.
    expect(rowTitles()[0]).toBe('Inception');
    expect(within(boardRows()[0]).getByText('2.5')).toBeInTheDocument();

    await user.click(screen.getByRole('radio', { name: 'Trend · day' }));
    await waitFor(() => expect(rowTitles()[0]).toBe('Interstellar'));
    await user.click(screen.getByRole('radio', { name: 'Trend · week' }));
    // The column names the window of the scores it shows: the week's, once here.
    expect(await screen.findByRole('columnheader', { name: 'Trend (week)' })).toBeInTheDocument();
    await waitFor(() => expect(rowTitles()[0]).toBe('Inception'));
    expect(within(boardRows()[0]).getByText('7.7')).toBeInTheDocument();
  });

  it('keeps the decayed order it shows until the other window’s scores arrive', async () => {
    let releaseWeek;
    fakeApi(
      routes({
        'GET /api/trending': ({ query }) =>
          query.get('window') === 'day'
            ? [{ ...movie(157336), trend_score: 9.1 }, { ...movie(27205), trend_score: 2.5 }]
            : new Promise((ok) => (releaseWeek = ok)),
      }),
    );
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await user.click(await screen.findByRole('radio', { name: 'Trend · day' }));
    await waitFor(() => expect(rowTitles()[0]).toBe('Interstellar'));
    await user.click(screen.getByRole('radio', { name: 'Trend · week' }));
    await waitFor(() => expect(releaseWeek).toBeDefined());
    // The day's order, saying so, rather than the classic one (Inception first).
    expect(rowTitles()[0]).toBe('Interstellar');
    expect(screen.getByRole('table', { name: /time-decayed trend score over a day/ })).toBeInTheDocument();
    expect(screen.getByRole('columnheader', { name: 'Trend (day)' })).toBeInTheDocument();
    await act(async () => releaseWeek([{ ...movie(27205), trend_score: 7.7 }, { ...movie(157336), trend_score: 1.2 }]));
    await waitFor(() => expect(rowTitles()[0]).toBe('Inception'));
    expect(screen.getByRole('table', { name: /time-decayed trend score over a week/ })).toBeInTheDocument();
    expect(screen.getByRole('columnheader', { name: 'Trend (week)' })).toBeInTheDocument();
  });

  it('says so when the chosen window’s scores cannot be loaded, rather than quietly ordering by the classic score', async () => {
    fakeApi(routes({
      'GET /api/trending': ({ query }) =>
        query.get('window') === 'day' ? [{ ...movie(157336), trend_score: 9.1 }] : problem(503, 'the trend projection is being rebuilt'),
    }));
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    await user.click(await screen.findByRole('radio', { name: 'Trend · week' }));
    expect(await screen.findByText(/could not be loaded \(the trend projection is being rebuilt\); showing the classic order/)).toBeInTheDocument();
    expect(rowTitles()[0]).toBe('Inception');
    await user.click(screen.getByRole('radio', { name: 'Trend · day' }));
    await waitFor(() => expect(rowTitles()[0]).toBe('Interstellar'));
    expect(screen.queryByText(/could not be loaded/)).not.toBeInTheDocument();
  });

  // The board, live, with /api/trending answering until setDown(true),
  // then failing with a 503; the note the board shows then.
  async function startWithTrendingThatFails() {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    vi.setSystemTime(new Date(2026, 0, 2, 14, 30, 5));
    let down = false;
    fakeApi(routes({
      'GET /api/trending': () => (down ? problem(503, 'the trend projection is being rebuilt') : [{ ...movie(157336), trend_score: 9.1 }, { ...movie(27205), trend_score: 2.5 }]),
    }));
    render(<App EventSourceImpl={FakeEventSource} />);
    await startLive();
    return (d) => {
      down = d;
    };
  }
  const stale = /Decayed scores could not be refreshed/;
  // The clock runs on from 14:30:05 (shouldAdvanceTime): the scores' time is
  // whenever the first answer came, a moment later on a busy machine.
  const staleSince = /^Decayed scores could not be refreshed \(the trend projection is being rebuilt\); showing those from 02:30:\d\d PM\.$/;

  it('says when the decayed scores it orders by could not be refreshed, and from when they are', async () => {
    const setDown = await startWithTrendingThatFails();
    fireEvent.click(await screen.findByRole('radio', { name: 'Trend · day' }));
    await waitFor(() => expect(rowTitles()[0]).toBe('Interstellar'));
    expect(screen.queryByText(stale)).not.toBeInTheDocument();

    setDown(true);
    await act(() => vi.advanceTimersByTimeAsync(5000));
    // The last scores still order the board, and it says how old they are.
    expect(await screen.findByText(stale)).toHaveTextContent(staleSince);
    expect(rowTitles()[0]).toBe('Interstellar');

    setDown(false);
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    await waitFor(() => expect(screen.queryByText(stale)).not.toBeInTheDocument());
    expect(rowTitles()[0]).toBe('Interstellar');
  });

  it('says the decayed column is stale in the classic order too, as it keeps its last scores', async () => {
    const setDown = await startWithTrendingThatFails();
    expect(await screen.findByRole('columnheader', { name: 'Trend (day)' })).toBeInTheDocument();
    expect(screen.queryByText(stale)).not.toBeInTheDocument();

    setDown(true);
    await act(() => vi.advanceTimersByTimeAsync(5000));
    // Still the classic order, with the day's last scores beside it, saying how old.
    expect(await screen.findByText(stale)).toHaveTextContent(staleSince);
    expect(rowTitles()[0]).toBe('Inception');
    expect(within(boardRows()[0]).getByText('2.5')).toBeInTheDocument();
    expect(screen.queryByText(/could not be loaded/)).not.toBeInTheDocument();

    setDown(false);
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    await waitFor(() => expect(screen.queryByText(stale)).not.toBeInTheDocument());
  });

  it('orders by the decayed score among that ranking’s own top 1,000 when there are more movies', async () => {
    // 1,200 movies: by the classic score Film 1 leads and Film 1200 is last,
    // beyond the 1,000 loaded; by the day's decayed score Film 1200 leads.
    const film = (id, fields) => movie(id, { title: `Film ${id}`, final_trend_score: (1300 - id) / 100, change: 1, ...fields });
    const of1200 = (rows) => new Response(JSON.stringify(rows), { headers: { 'Content-Type': 'application/json', 'X-Total-Count': '1200' } });
    const classicTop = Array.from({ length: 1000 }, (_, i) => film(i + 1));
    const dayTop = [film(1200, { trend_score: 50 }), ...Array.from({ length: 999 }, (_, i) => film(i + 2, { trend_score: (1000 - i) / 100 }))];
    fakeApi(routes({ 'GET /api/movies': () => of1200(classicTop), 'GET /api/trending': () => of1200(dayTop) }));
    const user = userEvent.setup();
    render(<App EventSourceImpl={FakeEventSource} />);
    const stream = FakeEventSource.latest();
    act(() => stream.emit('ready', {}));
    await screen.findByRole('button', { name: rowButton('Film 1', 1) });

    await user.click(await screen.findByRole('radio', { name: 'Trend · day' }));
    await screen.findByRole('button', { name: rowButton('Film 1200', 1) });
    expect(rowTitles().slice(0, 3)).toEqual(['Film 1200', 'Film 2', 'Film 3']);
    expect(within(boardRows()[0]).getByText('50.0')).toBeInTheDocument();
    expect(screen.getByText('1,000 of 1,200 movies')).toBeInTheDocument();
    // The stream keeps it current, though it ranks beyond the classic top.
    act(() => stream.emit('movies', [film(1200, { internal_views_count: 77, change: 2 })]));
    await waitFor(() => expect(within(boardRows()[0]).getByText('77')).toBeInTheDocument());

    await user.click(screen.getByRole('radio', { name: 'Classic score' }));
    await screen.findByRole('button', { name: rowButton('Film 1', 1) });
    expect(rowTitles().slice(0, 2)).toEqual(['Film 1', 'Film 2']);
    expect(screen.queryByRole('button', { name: rowButton('Film 1200') })).not.toBeInTheDocument();
    expect(screen.getByText('1,000 of 1,200 movies')).toBeInTheDocument();
  });

  it('renders only the visible rows of 1,000 movies', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => movie(i + 1, { title: `Film ${i + 1}`, final_trend_score: (1000 - i) / 100 }));
    fakeApi(routes({ 'GET /api/movies': () => new Response(JSON.stringify(many), { headers: { 'X-Total-Count': '1000' } }) }));
    render(<App EventSourceImpl={FakeEventSource} />);
    act(() => FakeEventSource.latest().emit('ready', {}));
    await screen.findByRole('button', { name: rowButton('Film 1', 1) });
    expect(screen.getByText('1,000 movies')).toBeInTheDocument();
    // 600 px of 48 px rows, plus a few either side; not 1,000.
    expect(boardRows().length).toBeLessThan(40);
    expect(screen.getByRole('table', { name: /Movies ranked/ })).toHaveAttribute('aria-rowcount', '1001');
  });
});
