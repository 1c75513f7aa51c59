/**
 * A timer that runs `run` once, at the earliest of the times asked for:
 * schedule(delay) brings a pending run forward, never back. What the
 * pollers with nudges use (a change asks for a call soon; the next poll is
 * due later anyway).
 */
export function earliestTimer(run) {
  let timer = null;
  let dueAt = Infinity;
  const cancel = () => {
    clearTimeout(timer);
    timer = null;
    dueAt = Infinity;
  };
  return {
    schedule(delay) {
      if (Date.now() + delay >= dueAt) return;
      clearTimeout(timer);
      dueAt = Date.now() + delay;
      timer = setTimeout(() => {
        timer = null;
        dueAt = Infinity;
        run();
      }, delay);
    },
    cancel,
  };
}
