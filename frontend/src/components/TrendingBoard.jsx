import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { BoardRow } from './BoardRow.jsx';
import { RankingSwitch } from './RankingSwitch.jsx';
import { formatDateTime, formatInt } from '../format.js';
import { useHeldOrder } from '../hooks/useHeldOrder.js';

const ROW_HEIGHT = 48;
// A touch's pointer leaves when the finger lifts, before the tap's click.
const TAP_GRACE_MS = 600;
// A pointer left resting on the board (a wall display, a second monitor)
// stops holding the order after this long without moving.
export const POINTER_IDLE_MS = 10_000;

/**
 * The ranking. Only the rows in view (plus a few) are in the document, so
 * 1,000 movies cost what 20 do; spacer rows keep the scroll height right.
 */
export function TrendingBoard({ ranking, selectedId, onOpen, onView, trendWindow, trendError, trendStale, rankBy, orderedBy = rankBy, onRankByChange }) {
  const { count, serverTotal, loaded } = ranking;
  const scrollRef = useRef(null);
  const showTrend = trendWindow != null;

  // The order holds still while the pointer is over the rows or focus is in
  // them: a re-sort would move another movie under the click, and moving a
  // focused row's node makes the browser drop its focus.
  const [pointerIn, setPointerIn] = useState(false);
  const [focusIn, setFocusIn] = useState(false);
  const paused = pointerIn || focusIn;
  const rows = useHeldOrder(ranking.rows, ranking.byId, paused, ranking.orderVersion);
  const tapTimer = useRef(null);
  const idleTimer = useRef(null);
  useEffect(
    () => () => {
      clearTimeout(tapTimer.current);
      clearTimeout(idleTimer.current);
    },
    [],
  );
  // The pointer holds the order while it moves now and then; at rest for
  // POINTER_IDLE_MS it lets go until it moves again.
  const onPointerMove = () => {
    clearTimeout(tapTimer.current);
    clearTimeout(idleTimer.current);
    idleTimer.current = setTimeout(() => setPointerIn(false), POINTER_IDLE_MS);
    setPointerIn(true);
  };
  const onPointerLeave = (e) => {
    clearTimeout(tapTimer.current);
    clearTimeout(idleTimer.current);
    if (e.pointerType === 'touch') tapTimer.current = setTimeout(() => setPointerIn(false), TAP_GRACE_MS);
    else setPointerIn(false);
  };
  // Keyboard focus only: a mouse click leaves focus on its button, and the
  // order would hold until the next click elsewhere (hovering holds it).
  // Set either way: a click after keyboard focus ends the keyboard's hold.
  const onFocusIn = (e) => setFocusIn(focusVisible(e.target));
  const onFocusOut = (e) => {
    // Still inside; or only the window lost focus (the element keeps the page's).
    if (e.currentTarget.contains(e.relatedTarget) || document.activeElement === e.target) return;
    setFocusIn(false);
  };

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    getItemKey: (i) => rows[i].id,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items.length ? items[0].start : 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1].end : 0;

  // Up and down arrows move between rows, scrolling rows not yet rendered into view.
  const onArrowKey = useCallback(
    (e, index) => {
      const step = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity }[e.key];
      if (step === undefined) return;
      e.preventDefault();
      const next = Math.max(0, Math.min(rows.length - 1, index + step));
      virtualizer.scrollToIndex(next, { align: 'auto' });
      const focus = (tries) => {
        const el = scrollRef.current?.querySelector(`[data-row-index="${next}"] .row-open`);
        if (el) el.focus();
        else if (tries > 0) requestAnimationFrame(() => focus(tries - 1));
      };
      focus(5);
    },
    [rows.length, virtualizer],
  );

  // A live change can take the focused row out of the rendered rows (it was
  // removed: the order holds while focus is in the board, so it cannot
  // fall), which drops focus to the page's top. Give it to the row now at
  // that place instead, so keyboard users keep theirs.
  const focused = useRef(null); // {el, index} while something in a row has focus
  const onRowFocus = useCallback((e) => {
    const tr = e.target.closest('tr[data-row-index]');
    focused.current = tr ? { el: e.target, index: Number(tr.dataset.rowIndex) } : null;
  }, []);
  const onRowBlur = useCallback((e) => {
    const el = e.target;
    if (e.currentTarget.contains(e.relatedTarget)) return;
    // Left for elsewhere (still in the document), not taken away with its row.
    queueMicrotask(() => el.isConnected && focused.current?.el === el && (focused.current = null));
  }, []);
  useLayoutEffect(() => {
    const f = focused.current;
    if (!f) return;
    if (f.el.isConnected) {
      f.index = Number(f.el.closest('tr[data-row-index]')?.dataset.rowIndex ?? f.index);
      return;
    }
    focused.current = null;
    if (document.activeElement && document.activeElement !== document.body) return;
    const board = scrollRef.current;
    const next = board?.querySelector(`[data-row-index="${Math.min(f.index, rows.length - 1)}"] .row-open`) ?? board?.querySelector('.row-open');
    next?.focus({ preventScroll: true });
  });

  const columns = showTrend ? 7 : 6;
  return (
    <section className="panel board" aria-labelledby="board-heading">
      <div className="panel__head">
        {/* Focusable for the skip link and for focus coming back from a closed movie. */}
        <h2 id="board-heading" tabIndex={-1}>
          Trending now
        </h2>
        <p className="board__count">
          {loaded ? (
            serverTotal > count ? `${formatInt(count)} of ${formatInt(serverTotal)} movies` : `${formatInt(count)} ${count === 1 ? 'movie' : 'movies'}`
          ) : (
            'Loading…'
          )}
        </p>
        {showTrend && <RankingSwitch value={rankBy} onChange={onRankByChange} />}
        {trendError && (
          <p className="warning" role="status">
            The time-decayed scores could not be loaded ({trendError}); showing the{' '}
            {orderedBy === 'classic' ? 'classic order' : `order by the decayed score over a ${orderedBy}`} until they are.
          </p>
        )}
        {trendStale && (
          <p className="warning" role="status">
            Decayed scores could not be refreshed ({trendStale.error}); showing those from {formatDateTime(trendStale.since)}.
          </p>
        )}
        {/* Not a live region: it would be announced each time the mouse
            crosses the board. Always rendered: its line is reserved, so
            the board does not shift when it shows. */}
        <p className="board__paused">{paused && 'Order paused while you point at or focus the board'}</p>
      </div>
      <div
        className="board__scroll"
        ref={scrollRef}
        onPointerEnter={onPointerMove}
        onPointerMove={onPointerMove}
        onPointerLeave={onPointerLeave}
        onFocus={onFocusIn}
        onBlur={onFocusOut}
      >
        <table className="board__table" aria-rowcount={rows.length + 1}>
          <caption className="visually-hidden">
            Movies ranked by {orderedBy === 'classic' || !showTrend ? 'classic trend score' : `time-decayed trend score over a ${orderedBy}`},
            updated live. Use the arrow keys to move between movies.
          </caption>
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col" className="col-rank">
                #
              </th>
              <th scope="col" className="col-title">
                Movie
              </th>
              <th scope="col" className="col-num col-views">
                Views
              </th>
              <th scope="col" className="col-num col-optional">
                <abbr title="TMDB vote average">TMDB</abbr>
              </th>
              <th scope="col" className="col-num col-classic">
                Classic
              </th>
              {showTrend && (
                <th scope="col" className="col-num col-trend">
                  Trend ({trendWindow})
                </th>
              )}
              <th scope="col" className="col-action">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody onFocus={onRowFocus} onBlur={onRowBlur}>
            {padTop > 0 && (
              <tr className="spacer" aria-hidden="true" style={{ height: padTop }}>
                <td colSpan={columns} />
              </tr>
            )}
            {items.map((item) => {
              const row = rows[item.index];
              return (
                <BoardRow
                  key={item.key}
                  row={row}
                  index={item.index}
                  selected={row.id === selectedId}
                  showTrend={showTrend}
                  onOpen={onOpen}
                  onView={onView}
                  onArrowKey={onArrowKey}
                  measureRef={virtualizer.measureElement}
                />
              );
            })}
            {padBottom > 0 && (
              <tr className="spacer" aria-hidden="true" style={{ height: padBottom }}>
                <td colSpan={columns} />
              </tr>
            )}
          </tbody>
        </table>
        {loaded && rows.length === 0 && <p className="empty">No movies yet. Register one by its TMDB id above.</p>}
      </div>
    </section>
  );
}

/** Whether el shows keyboard focus; true where `:focus-visible` is unknown. */
function focusVisible(el) {
  try {
    return el.matches(':focus-visible');
  } catch {
    return true;
  }
}
