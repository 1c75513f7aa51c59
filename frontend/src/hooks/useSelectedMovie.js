import { useCallback, useEffect, useState } from 'react';

// The open movie lives in the URL (#movie/27205), so it can be linked to and
// the browser's back button closes it.
const pattern = /^#movie\/(\d+)$/;
const read = () => {
  const m = pattern.exec(window.location.hash);
  return m ? Number(m[1]) : null;
};

export function useSelectedMovie() {
  const [id, setId] = useState(read);
  useEffect(() => {
    const onChange = () => setId(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const select = useCallback((next) => {
    if (next == null) {
      // Drop the fragment without adding a history entry or jumping.
      history.replaceState(null, '', window.location.pathname + window.location.search);
      setId(null);
    } else {
      window.location.hash = `movie/${next}`;
      setId(next);
    }
  }, []);
  return [id, select];
}
