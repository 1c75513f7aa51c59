import { useId, useState } from 'react';
import { recordView, registerMovie } from '../api/endpoints.js';
import { describeError } from '../api/client.js';
import { useNotify } from './Notices.jsx';

/** Returns the id as a number, or a sentence saying what is wrong. */
export function parseTmdbId(text) {
  const t = text.trim();
  if (t === '') return { error: 'Enter a TMDB id, such as 27205 for Inception.' };
  if (!/^\d+$/.test(t)) return { error: `“${t}” is not a TMDB id: use digits only, such as 27205.` };
  // Range checks are the server's (its message says the limits).
  return { id: Number(t) };
}

/** Register a movie, or add a view to one, by TMDB id. */
export function MovieActions({ onRegistered }) {
  const notify = useNotify();
  const ids = { input: useId(), help: useId(), error: useId() };
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null); // 'register' | 'view' | null

  async function run(action) {
    const { id, error: invalid } = parseTmdbId(text);
    if (invalid) {
      setError(invalid);
      return;
    }
    setBusy(action);
    setError(null);
    try {
      if (action === 'register') {
        const movie = await registerMovie(id);
        notify({ kind: 'success', text: `Registered movie ${id}; fetching its details from TMDB…` });
        onRegistered?.(movie);
        setText('');
      } else {
        await recordView(id);
        notify({ kind: 'success', text: `View recorded for movie ${id}.` });
      }
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <form
      className="actions"
      aria-label="Register a movie or add a view"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        run('register');
      }}
    >
      <label htmlFor={ids.input}>TMDB id</label>
      <div className="actions__row">
        <input
          id={ids.input}
          name="tmdb_id"
          inputMode="numeric"
          autoComplete="off"
          placeholder="27205"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? `${ids.error} ${ids.help}` : ids.help}
        />
        <button type="submit" disabled={busy !== null}>
          {busy === 'register' ? 'Registering…' : 'Register'}
        </button>
        <button type="button" disabled={busy !== null} onClick={() => run('view')}>
          {busy === 'view' ? 'Adding…' : 'Add a view'}
        </button>
      </div>
      <p id={ids.help} className="hint">
        The id from themoviedb.org, e.g. 27205 (Inception) or 157336 (Interstellar).
      </p>
      {error && (
        <p id={ids.error} className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
