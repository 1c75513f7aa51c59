import { useEffect, useRef } from 'react';

/**
 * Briefly highlights the element behind `ref` whenever `value` changes
 * after the first render (so rows scrolled into view do not all flash).
 * The class is re-added after a reflow, which restarts its CSS animation.
 */
export function useFlashOnChange(ref, value, className = 'flash') {
  const previous = useRef(value);
  useEffect(() => {
    if (Object.is(previous.current, value)) return;
    previous.current = value;
    const el = ref.current;
    if (!el) return;
    el.classList.remove(className);
    void el.offsetWidth; // reflow, so the animation starts again
    el.classList.add(className);
  }, [ref, value, className]);
}
