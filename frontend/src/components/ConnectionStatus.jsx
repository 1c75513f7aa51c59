import { CONNECTION_LABELS } from '../live/useMovieStream.js';

/** The state of the live stream, always visible in the header. */
export function ConnectionStatus({ state, error }) {
  return (
    <div className={`connection connection--${state}`} role="status" aria-label="Live updates">
      <span className="connection__dot" aria-hidden="true" />
      <span className="connection__label">{CONNECTION_LABELS[state] ?? state}</span>
      {error && state !== 'live' && <span className="connection__error">{error}</span>}
    </div>
  );
}
