import { useCallback, useEffect, useState } from 'react';

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
  useEffect(() => {
    const onChange = () => {
      // Another fragment (an in-page link) says nothing about the movie.
      if (window.location.hash && read() == null) return;
      setId(read());
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const select = useCallback((next) => {
    const ours = history.state?.movieEntry === true; // the entry opening a movie added
    if (next == null) {
      setId(null);
      // Back over the entry the movie added, so the history holds no
      // duplicate to go back through; a linked movie (no such entry) drops
      // the fragment in place.
      if (ours && read() != null) history.back();
      else history.replaceState(null, '', plainURL());
      return;
    }
    // One entry for the movies opened in a row: Back closes the movie.
    if (ours) history.replaceState({ movieEntry: true }, '', `#movie/${next}`);
    else history.pushState({ movieEntry: true }, '', `#movie/${next}`);
    setId(next);
  }, []);
  return [id, select];
}
