import { useMemo, useState } from 'react';

/**
 * `rows` as they are, or, while `hold` is true, in the order they had when
 * it became true. Only that order (ids) is kept: each row is still the
 * current one from `byId`, so values update in place. Movies removed
 * meanwhile drop out; movies new meanwhile are appended at the end rather
 * than held back, so the board always shows every movie it counts.
 */
export function useHeldOrder(rows, byId, hold) {
  const [held, setHeld] = useState(null); // ids, in the order shown when the hold began
  // Set while rendering, so that the first held render already holds
  // (React's pattern for state that follows a prop).
  if (hold !== (held !== null)) setHeld(hold ? rows.map((r) => r.id) : null);
  return useMemo(() => {
    if (!held) return rows;
    const kept = new Set(held);
    return held.flatMap((id) => byId.get(id) ?? []).concat(rows.filter((r) => !kept.has(r.id)));
  }, [rows, byId, held]);
}
