import { useMemo, useState } from 'react';

/**
 * `rows` as they are, or, while `hold` is true, in the order they had when
 * it became true. Only that order (ids) is kept: each row is still the
 * current one from `byId`, so values update in place. Movies removed
 * meanwhile drop out; movies new meanwhile are appended at the end rather
 * than held back, so the board always shows every movie it counts.
 *
 * A new `orderKey` (another ranking, a reloaded list) takes a fresh
 * snapshot, still held: the old one would show an order the board no
 * longer claims to have.
 */
export function useHeldOrder(rows, byId, hold, orderKey) {
  const [held, setHeld] = useState(null); // {ids, key}: the order shown when the hold began
  // Set while rendering, so that the first held render already holds
  // (React's pattern for state that follows a prop).
  if (hold ? held === null || held.key !== orderKey : held !== null) {
    setHeld(hold ? { ids: rows.map((r) => r.id), key: orderKey } : null);
  }
  return useMemo(() => {
    if (!held) return rows;
    const kept = new Set(held.ids);
    return held.ids.flatMap((id) => byId.get(id) ?? []).concat(rows.filter((r) => !kept.has(r.id)));
  }, [rows, byId, held]);
}
