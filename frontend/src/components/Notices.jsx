import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';

// Notices are the dashboard's announcements: what an action did, and what
// happened by itself (a movie TMDB does not know was removed). They are
// read out by screen readers (aria-live) and stay until dismissed or, for
// routine confirmations, for a few seconds.

const NoticesContext = createContext(() => {});
const NoticesListContext = createContext({ notices: [], dismiss: () => {} });
const MAX_NOTICES = 6;
const ROUTINE_TTL_MS = 6000;

/** notify({kind: 'success'|'info'|'warning'|'error', text, sticky?}) */
export const useNotify = () => useContext(NoticesContext);

export function NoticesProvider({ children }) {
  const [notices, setNotices] = useState([]);
  const nextId = useRef(1);
  const timers = useRef(new Map());

  const dismiss = useCallback((id) => {
    clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    setNotices((list) => list.filter((n) => n.id !== id));
  }, []);

  const notify = useCallback(
    ({ kind = 'info', text, sticky = kind === 'warning' || kind === 'error' }) => {
      const id = nextId.current++;
      setNotices((list) => [...list, { id, kind, text }].slice(-MAX_NOTICES));
      if (!sticky) timers.current.set(id, setTimeout(() => dismiss(id), ROUTINE_TTL_MS));
    },
    [dismiss],
  );

  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach(clearTimeout);
  }, []);

  const value = useMemo(() => ({ notices, dismiss }), [notices, dismiss]);
  return (
    <NoticesContext.Provider value={notify}>
      <NoticesListContext.Provider value={value}>{children}</NoticesListContext.Provider>
    </NoticesContext.Provider>
  );
}

export function NoticeList() {
  const { notices, dismiss } = useContext(NoticesListContext);
  // The live region is always in the document, so additions are announced.
  return (
    <section className="notices" aria-label="Notices">
      <ul aria-live="polite" aria-relevant="additions text" className="notices__list">
        {notices.map((n) => (
          <li key={n.id} className={`notice notice--${n.kind}`}>
            <span className="notice__text">{n.text}</span>
            <button type="button" className="notice__dismiss" onClick={() => dismiss(n.id)} aria-label={`Dismiss: ${n.text}`}>
              ×
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
