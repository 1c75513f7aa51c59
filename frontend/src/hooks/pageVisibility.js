/** Whether the page is in a background tab (or minimised). */
export const pageHidden = () => document.visibilityState === 'hidden';

/**
 * For polls that ask nothing from a background tab: `ready()` tells whether
 * a call may go now; when it may not (the page is hidden), `call` runs as
 * soon as the page is shown again, once. `stop()` ends the watch.
 */
export function callWhenShown(call) {
  let due = false; // a call was skipped while hidden
  const onChange = () => {
    if (!due || pageHidden()) return;
    due = false;
    call();
  };
  document.addEventListener('visibilitychange', onChange);
  return {
    ready() {
      due = pageHidden();
      return !due;
    },
    stop() {
      document.removeEventListener('visibilitychange', onChange);
    },
  };
}
