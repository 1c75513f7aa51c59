import { useCallback, useState } from 'react';

const KEY = 'movietrend.adminToken';

/**
 * The admin token the user typed. Kept in sessionStorage: it survives a
 * reload but not closing the tab, and is never sent anywhere but our API.
 */
export function useAdminToken() {
  const [token, setTokenState] = useState(() => sessionStorage.getItem(KEY) ?? '');
  const setToken = useCallback((t) => {
    if (t) sessionStorage.setItem(KEY, t);
    else sessionStorage.removeItem(KEY);
    setTokenState(t);
  }, []);
  return [token, setToken];
}
