import { useCallback, useEffect, useRef, useState } from 'react';

// The open movie lives in the URL (#movie/27205), so it can be linked to and
// the browser's back button closes it.
const pattern = /^#movie\/(\d+)$/;
const read = () => {
  const m = pattern.exec(window.location.hash);
  return m ? Number(m[1]) : null;
};
const plainURL = () => window.location.pathname + window.location.search;

export function useSelectedMovie() {
  const [id, setId] = useState(read);
  // history.back() lands later: a movie opened meanwhile is pushed then,
  // rather than replace the entry the traversal is about to leave.
  const back = useRef({ pending: false, open: null });
  const open = useCallback((next) => {
    // One entry for the movies opened in a row: Back closes the movie.
    if (history.state?.movieEntry === true) history.replaceState({ movieEntry: true }, '', `#movie/${next}`);
    else history.pushState({ movieEntry: true }, '', `#movie/${next}`);
    setId(next);
  }, []);
  useEffect(() => {
    const onChange = () => {
      if (back.current.pending) {
        const next = back.current.open;
        back.current = { pending: false, open: null };
        if (next != null) open(next);
        else {
          // Closing closes, even when it lands on a movie opened from a
          // link before ours: that one's fragment is dropped in place.
          if (read() != null) history.replaceState(null, '', plainURL());
          setId(null);
        }
        return;
      }
      // Another fragment (an in-page link) says nothing about the movie.
      if (window.location.hash && read() == null) return;
      setId(read());
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, [open]);
  const select = useCallback(
    (next) => {
      if (back.current.pending) {
        back.current.open = next;
        setId(next);
        return;
      }
      if (next == null) {
        setId(null);
        // Back over the entry the movie added, so the history holds no
        // duplicate to go back through; a linked movie (no such entry)
        // drops the fragment in place.
        if (history.state?.movieEntry === true && read() != null) {
          back.current = { pending: true, open: null };
          history.back();
        } else history.replaceState(null, '', plainURL());
        return;
      }
      open(next);
    },
    [open],
  );
  return [id, select];
}
