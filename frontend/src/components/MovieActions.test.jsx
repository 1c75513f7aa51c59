import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { MovieActions, parseTmdbId } from './MovieActions.jsx';
import { NoticeList, NoticesProvider } from './Notices.jsx';
import { fakeApi, problem } from '../test/fakes.js';

function renderActions() {
  return render(
    <NoticesProvider>
      <NoticeList />
      <MovieActions />
    </NoticesProvider>,
  );
}

describe('parseTmdbId', () => {
  it('accepts digits and explains anything else', () => {
    expect(parseTmdbId(' 27205 ')).toEqual({ id: 27205 });
    expect(parseTmdbId('').error).toMatch(/Enter a TMDB id/);
    expect(parseTmdbId('abc').error).toBe('“abc” is not a TMDB id: use digits only, such as 27205.');
    expect(parseTmdbId('1.5').error).toMatch(/digits only/);
  });
});

describe('MovieActions', () => {
  it('says what is wrong with the id before asking the server', async () => {
    const api = fakeApi({});
    const user = userEvent.setup();
    renderActions();
    await user.type(screen.getByLabelText('TMDB id'), 'inception');
    await user.click(screen.getByRole('button', { name: 'Register' }));
    expect(screen.getByRole('alert')).toHaveTextContent('“inception” is not a TMDB id');
    expect(screen.getByLabelText('TMDB id')).toHaveAccessibleDescription(/not a TMDB id/);
    expect(api).not.toHaveBeenCalled();
  });

  it('shows the detail of the server’s problem', async () => {
    fakeApi({ 'POST /api/movies/register': () => problem(422, 'tmdb_id must be from 1 to 2147483647, not 0', { field: 'tmdb_id' }) });
    const user = userEvent.setup();
    renderActions();
    await user.type(screen.getByLabelText('TMDB id'), '0{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('tmdb_id must be from 1 to 2147483647, not 0');
  });

  it('adds a view, and says when the movie is not registered', async () => {
    const api = fakeApi({
      'POST /api/movies/view': ({ body }) =>
        body.tmdb_id === 13 ? problem(404, 'movie 13 is not registered') : new Response('{"view_id":"v"}', { status: 202 }),
    });
    const user = userEvent.setup();
    renderActions();
    await user.type(screen.getByLabelText('TMDB id'), '550');
    await user.click(screen.getByRole('button', { name: 'Add a view' }));
    expect(await screen.findByText('View recorded for movie 550.')).toBeInTheDocument();
    expect(api.calls.at(-1)).toMatchObject({ method: 'POST', path: '/api/movies/view', body: { tmdb_id: 550 } });

    await user.clear(screen.getByLabelText('TMDB id'));
    await user.type(screen.getByLabelText('TMDB id'), '13');
    await user.click(screen.getByRole('button', { name: 'Add a view' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('movie 13 is not registered');
  });
});
