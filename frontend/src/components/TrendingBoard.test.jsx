import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { POINTER_IDLE_MS, TrendingBoard } from './TrendingBoard.jsx';
import { keyboardFocus, movie } from '../test/fakes.js';

const PAUSED = 'Order paused while you point at or focus the board';

/**
 * A published ranking, as the movie store gives it: `ids` in rank order,
 * `views` by id, `orderVersion` the store's count of reloads and changes of ranking.
 */
function ranking(ids, views = {}, orderVersion = 0) {
  const rows = ids.map((id, i) => ({ id, movie: movie(id, { title: `Film ${id}`, internal_views_count: views[id] ?? 0 }), rank: i + 1, move: null, trendScore: null }));
  return { rows, byId: new Map(rows.map((r) => [r.id, r])), count: rows.length, serverTotal: rows.length, loaded: true, orderVersion };
}

function renderBoard(r) {
  const props = { selectedId: null, onOpen: () => {}, onView: () => {}, trendWindow: null, trendError: null, rankBy: 'classic', onRankByChange: () => {} };
  const view = render(<TrendingBoard ranking={r} {...props} />);
  return { ...view, update: (next) => view.rerender(<TrendingBoard ranking={next} {...props} />) };
}

const table = () => screen.getByRole('table', { name: /Movies ranked/ });
const titles = () => [...table().querySelectorAll('.row-open__title')].map((t) => t.textContent);
const openButton = (title) => screen.getByRole('button', { name: new RegExp(`^${title}\\b`) });
// A plain note, not a live region (see the test below).
const note = () => document.querySelector('.board__paused');

/** The mouse comes to target, clicks it (which leaves focus there, not shown), and goes. */
function clickAndLeave(target) {
  fireEvent.pointerEnter(target);
  fireEvent.pointerDown(target);
  fireEvent.mouseDown(target);
  act(() => target.focus());
  fireEvent.pointerLeave(target);
  expect(document.activeElement).toBe(target);
}

describe('trending board', () => {
  afterEach(() => vi.useRealTimers());

  it('holds the order while the pointer is over it, updating values in place, and re-sorts when it leaves', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    expect(note()).toHaveTextContent('');
    const target = openButton('Film 2');
    fireEvent.pointerEnter(target);
    expect(note()).toHaveTextContent(PAUSED);

    update(ranking([3, 1, 2], { 3: 40 }));
    expect(titles()).toEqual(['Film 1', 'Film 2', 'Film 3']);
    expect(openButton('Film 2')).toBe(target); // still under the pointer
    expect(within(openButton('Film 3').closest('tr')).getByText('40')).toBeInTheDocument();
    expect(openButton('Film 3')).toHaveAccessibleName(/rank 1,/); // its rank is the live one

    fireEvent.pointerLeave(target);
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
    expect(note()).toHaveTextContent('');
  });

  it('keeps focus on the focused movie through a live re-sort, until focus leaves the board', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    const focused = openButton('Film 2');
    act(() => keyboardFocus(focused));
    expect(note()).toHaveTextContent(PAUSED);

    // A browser blurs a node that is taken out and put back, as React does
    // to move a keyed row. (React then focuses it again, which jsdom
    // shows; browsers have already fired blur and focus by then.)
    const moves = new MutationObserver(() => {});
    moves.observe(focused.closest('tbody'), { childList: true });
    update(ranking([3, 1, 2]));
    expect(moves.takeRecords().flatMap((r) => [...r.removedNodes])).not.toContain(focused.closest('tr'));
    expect(document.activeElement).toBe(focused);
    expect(focused).toHaveAccessibleName(/^Film 2\b/);
    expect(titles()).toEqual(['Film 1', 'Film 2', 'Film 3']);

    // Somewhere outside the rows: the board re-sorts.
    act(() => screen.getByRole('heading', { name: 'Trending now' }).focus());
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
    expect(note()).toHaveTextContent('');
  });

  it('does not hold the order for the focus a click leaves behind', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    clickAndLeave(openButton('Film 2'));
    update(ranking([3, 1, 2]));
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
    expect(note()).toHaveTextContent('');
  });

  it('appends movies that arrive while paused, drops removed ones, and ranks them all on resume', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    fireEvent.pointerEnter(table());
    update(ranking([4, 3, 1]));
    expect(titles()).toEqual(['Film 1', 'Film 3', 'Film 4']);
    fireEvent.pointerLeave(table());
    expect(titles()).toEqual(['Film 4', 'Film 3', 'Film 1']);
  });

  it('holds the order a moment after a touch lifts, for the tap’s click to land', () => {
    vi.useFakeTimers();
    const { update } = renderBoard(ranking([1, 2]));
    fireEvent.pointerEnter(table(), { pointerType: 'touch' });
    update(ranking([2, 1]));
    fireEvent.pointerLeave(table(), { pointerType: 'touch' });
    expect(titles()).toEqual(['Film 1', 'Film 2']);
    act(() => vi.advanceTimersByTime(1000));
    expect(titles()).toEqual(['Film 2', 'Film 1']);
  });

  it('shows the paused note without announcing it, in a line kept for it', () => {
    renderBoard(ranking([1, 2]));
    expect(note()).toBeInTheDocument(); // there before it says anything: no shift
    fireEvent.pointerEnter(table());
    expect(note()).toHaveTextContent(PAUSED);
    // A live region would be read out each time the mouse crosses the board.
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
    expect(note()).not.toHaveAttribute('aria-live');
  });

  it('ends the keyboard’s hold when a row is then clicked with the mouse', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    act(() => keyboardFocus(openButton('Film 1')));
    // The mouse comes, clicks another row's button, and goes.
    clickAndLeave(openButton('Film 2'));
    update(ranking([3, 1, 2]));
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
    expect(note()).toHaveTextContent('');
  });

  it('lets go of the order when the pointer rests on the board, and holds it again when it moves', () => {
    vi.useFakeTimers();
    const { update } = renderBoard(ranking([1, 2, 3]));
    fireEvent.pointerEnter(table());
    update(ranking([3, 1, 2]));
    act(() => vi.advanceTimersByTime(POINTER_IDLE_MS - 1));
    fireEvent.pointerMove(table()); // still in use: the wait starts again
    act(() => vi.advanceTimersByTime(POINTER_IDLE_MS - 1));
    expect(titles()).toEqual(['Film 1', 'Film 2', 'Film 3']);
    act(() => vi.advanceTimersByTime(1));
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
    expect(note()).toHaveTextContent('');
    // Moved again: held, in the order it now shows.
    fireEvent.pointerMove(table());
    expect(note()).toHaveTextContent(PAUSED);
    update(ranking([2, 3, 1]));
    expect(titles()).toEqual(['Film 3', 'Film 1', 'Film 2']);
  });

  it('keeps holding for keyboard focus however long it stays', () => {
    vi.useFakeTimers();
    const { update } = renderBoard(ranking([1, 2, 3]));
    act(() => keyboardFocus(openButton('Film 2')));
    update(ranking([3, 1, 2]));
    act(() => vi.advanceTimersByTime(10 * POINTER_IDLE_MS));
    expect(titles()).toEqual(['Film 1', 'Film 2', 'Film 3']);
  });

  it('takes the new order, still held, when the ranking changes or the list is reloaded', () => {
    const { update } = renderBoard(ranking([1, 2, 3]));
    fireEvent.pointerEnter(table());
    update(ranking([3, 2, 1]));
    expect(titles()).toEqual(['Film 1', 'Film 2', 'Film 3']);
    // Another ranking (or a reload): the held order would contradict the caption.
    update(ranking([2, 3, 1], {}, 1));
    expect(titles()).toEqual(['Film 2', 'Film 3', 'Film 1']);
    expect(note()).toHaveTextContent(PAUSED);
    // Held from there on.
    update(ranking([1, 2, 3], {}, 1));
    expect(titles()).toEqual(['Film 2', 'Film 3', 'Film 1']);
  });

  it('names the order it keeps while the chosen window’s scores cannot be loaded', () => {
    const r = ranking([1, 2]);
    const props = { ranking: r, selectedId: null, onOpen: () => {}, onView: () => {}, trendWindow: 'day', trendError: 'down', onRankByChange: () => {} };
    const { rerender } = render(<TrendingBoard {...props} rankBy="week" orderedBy="day" />);
    expect(screen.getByText(/could not be loaded \(down\); showing the order by the decayed score over a day until they are/)).toBeInTheDocument();
    expect(table()).toHaveAccessibleName(/time-decayed trend score over a day/);
    rerender(<TrendingBoard {...props} rankBy="week" orderedBy="classic" />);
    expect(screen.getByText(/showing the classic order until they are/)).toBeInTheDocument();
  });
});
