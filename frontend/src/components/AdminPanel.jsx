import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import { usePolling } from '../hooks/usePolling.js';
import { useAdminToken } from '../hooks/useAdminToken.js';
import { formatDateTime, formatDuration, formatInt, formatNumber } from '../format.js';
import { describeError } from '../api/client.js';
import { useNotify } from './Notices.jsx';

/** What an admin call's failure means, in words an operator can act on. */
export function adminProblem(err) {
  if (!err) return null;
  if (err.status === 401 || err.status === 403) return `The server refused the token: ${err.message}`;
  if (err.isMissingEndpoint) return 'This server does not offer this yet (an older version).';
  // e.g. 404 "admin endpoints are disabled: set ADMIN_TOKEN to enable them"
  return describeError(err);
}

/** Whether the server refused the admin token itself. */
const refusesToken = (err) => err?.status === 401 || err?.status === 403;

/**
 * Tells `onRefused(token)` when a poll's error refuses the token: asking
 * again with it every few seconds would only be refused again.
 */
function useRefusal(errorObject, onRefused, token) {
  useEffect(() => {
    if (refusesToken(errorObject)) onRefused(token);
  }, [errorObject, onRefused, token]);
}

/**
 * The letters with a React key each. One id comes once per handler group
 * that failed it (see internal/dlq's Letter), and a letter carries no other
 * id, so the key is id and handler, numbered if even those repeat.
 */
function keyed(letters) {
  const seen = new Map();
  return letters.map((letter) => {
    const base = JSON.stringify([letter.id, letter.topic, letter.handler]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { key: n ? `${base}#${n}` : base, letter };
  });
}

function TokenForm({ onSubmit, error }) {
  const id = useId();
  const [text, setText] = useState('');
  return (
    <form
      className="token-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) onSubmit(text.trim());
      }}
    >
      <label htmlFor={id}>Admin token</label>
      <div className="actions__row">
        <input id={id} type="password" autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} aria-describedby={`${id}-hint`} />
        <button type="submit">Unlock</button>
      </div>
      <p id={`${id}-hint`} className="hint">
        The server’s ADMIN_TOKEN. Kept in this tab only, until you close it.
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function ReplayControl({ token, onRefused }) {
  const checkId = useId();
  const [check, setCheck] = useState(false);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState(null);
  const [running, setRunning] = useState(false);
  // Watch closely while a replay runs; otherwise look now and then.
  const { data: replay, errorObject, refresh } = usePolling(
    async (signal) => {
      const r = await admin.replayStatus(token, { signal });
      setRunning(r?.state === 'running');
      return r;
    },
    running ? 1000 : 10_000,
  );
  useRefusal(errorObject, onRefused, token);

  async function start() {
    setStarting(true);
    setStartError(null);
    try {
      await admin.startReplay(token, { check });
      setRunning(true);
      refresh();
    } catch (err) {
      if (refusesToken(err)) onRefused(token);
      setStartError(adminProblem(err));
    } finally {
      setStarting(false);
    }
  }

  const problem = adminProblem(errorObject);
  if (errorObject?.isMissingEndpoint) {
    return (
      <section className="admin-block" aria-labelledby="replay-heading">
        <h3 id="replay-heading">Replay</h3>
        <p className="hint">{problem}</p>
      </section>
    );
  }
  const head = Math.max(replay?.head ?? 0, 0);
  const position = Math.min(replay?.position ?? 0, head);
  const percent = head > 0 ? Math.floor((position / head) * 100) : replay?.state === 'done' ? 100 : 0;
  return (
    <section className="admin-block" aria-labelledby="replay-heading">
      <h3 id="replay-heading">Replay</h3>
      <p className="hint">Rebuilds the trend projection from the event log while the system keeps serving.</p>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      {replay && (
        <div className="replay">
          <p role="status">
            State: <strong>{replay.state}</strong>
            {/* 0 until the replay knows its rate */}
            {replay.state === 'running' && replay.eta_seconds > 0 && <> · about {formatDuration(replay.eta_seconds)} left</>}
            {replay.state !== 'running' && replay.finished_at && <> · finished {formatDateTime(replay.finished_at)}</>}
          </p>
          <progress max={head || 1} value={head ? position : replay.state === 'done' ? 1 : 0} aria-label="Replay progress" aria-valuetext={`${percent}%, ${formatInt(position)} of ${formatInt(head)} events`} />
          <p className="hint">
            {formatInt(position)} of {formatInt(head)} events ({percent}%)
            {replay.rate != null && <> · {formatNumber(replay.rate)} events/s</>}
          </p>
          {replay.differences != null && (
            <p>
              Rows that differed from the live projection: <strong>{formatInt(replay.differences)}</strong>
            </p>
          )}
          {replay.state === 'failed' && (
            <p className="form-error" role="alert">
              The replay failed{replay.error ? `: ${replay.error}` : '.'}
            </p>
          )}
        </div>
      )}
      <div className="admin-block__buttons">
        <button type="button" onClick={start} disabled={starting || replay?.state === 'running' || errorObject?.status === 404}>
          {starting ? 'Starting…' : 'Start replay'}
        </button>
        <label className="checkbox" htmlFor={checkId}>
          <input id={checkId} type="checkbox" checked={check} onChange={(e) => setCheck(e.target.checked)} />
          Compare with the live projection
        </label>
      </div>
      {startError && (
        <p className="form-error" role="alert">
          {startError}
        </p>
      )}
    </section>
  );
}

function DeadLetters({ token, onRefused }) {
  const notify = useNotify();
  const { data, errorObject, refresh } = usePolling((signal) => admin.deadLetters(token, { signal }), 10_000);
  useRefusal(errorObject, onRefused, token);
  const letters = data?.letters;
  const [selected, setSelected] = useState(() => new Set());
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState(null);

  async function requeue(ids) {
    setBusy(true);
    setActionError(null);
    try {
      // {requeued, skipped: [{id, reason}], not_found: [ids]}
      const res = (await admin.requeue(token, ids)) ?? {};
      const n = res.requeued ?? ids?.length;
      notify({
        kind: 'success',
        text: n == null ? 'Requeued every dead letter.' : `Requeued ${formatInt(n)} dead ${n === 1 ? 'letter' : 'letters'}.`,
      });
      if (res.skipped?.length) {
        const why = res.skipped.map((s) => `${s.id}: ${s.reason}`).join('; ');
        notify({ kind: 'warning', text: `Not requeued (${res.skipped.length}): ${why}` });
      }
      if (res.not_found?.length) {
        notify({ kind: 'info', text: `${res.not_found.length} selected dead letters were no longer in the queue.` });
      }
      setSelected(new Set());
      refresh();
    } catch (err) {
      if (refusesToken(err)) onRefused(token);
      setActionError(adminProblem(err));
    } finally {
      setBusy(false);
    }
  }

  const toggle = (id) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const list = Array.isArray(letters) ? letters : [];
  // Only letters still listed: one requeued or purged elsewhere since it was
  // ticked would be counted, and asked for, unseen.
  const chosen = list.filter((d) => selected.has(d.id)).map((d) => d.id);
  const chosenIds = [...new Set(chosen)];
  const problem = adminProblem(errorObject);
  if (errorObject?.isMissingEndpoint) {
    return (
      <section className="admin-block" aria-labelledby="dead-letters-heading">
        <h3 id="dead-letters-heading">Dead letters</h3>
        <p className="hint">{problem} The pipeline panel shows how many there are.</p>
      </section>
    );
  }
  return (
    <section className="admin-block" aria-labelledby="dead-letters-heading">
      <h3 id="dead-letters-heading">Dead letters</h3>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      {letters && list.length === 0 && <p>None: every message was handled.</p>}
      {data?.total > list.length && (
        <p className="hint">
          The oldest {formatInt(list.length)} of {formatInt(data.total)} are shown; “Requeue all” sends every one.
        </p>
      )}
      {list.length > 0 && (
        <div className="table-scroll">
          <table className="dead-letters">
            <caption className="visually-hidden">Messages that failed after their retries</caption>
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Select</span>
                </th>
                <th scope="col">Reason</th>
                <th scope="col">Topic / handler</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {keyed(list).map(({ key, letter: d }) => (
                <tr key={key}>
                  <td>
                    <input type="checkbox" checked={selected.has(d.id)} onChange={() => toggle(d.id)} aria-label={`Select dead letter ${d.id}`} />
                  </td>
                  <td>
                    {d.reason}
                    {d.dead_lettered_at && <div className="hint">{formatDateTime(d.dead_lettered_at)}</div>}
                  </td>
                  <td>
                    <code>{d.topic}</code>
                    {d.handler && <div className="hint">{d.handler}</div>}
                  </td>
                  <td>
                    <code className="payload">{d.payload_preview}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="admin-block__buttons">
        <button type="button" disabled={busy || chosenIds.length === 0} onClick={() => requeue(chosenIds)}>
          Requeue selected ({chosenIds.length})
        </button>
        <button type="button" disabled={busy || list.length === 0} onClick={() => requeue(undefined)}>
          Requeue all{data?.total > 0 ? ` (${formatInt(data.total)})` : ''}
        </button>
        <button type="button" className="button-quiet" onClick={refresh}>
          Reload list
        </button>
      </div>
      {actionError && (
        <p className="form-error" role="alert">
          {actionError}
        </p>
      )}
    </section>
  );
}

/** Replay and dead letters, for whoever holds the admin token. */
export function AdminPanel() {
  const [token, setToken] = useAdminToken();
  const [refused, setRefused] = useState(null);
  // Refused: forget the token, which unmounts the panels and stops their
  // polling, and ask for another. Only the token in use: an answer to an
  // older one, arriving late, must not throw away a new one.
  const current = useRef(token);
  current.current = token;
  const onRefused = useCallback(
    (refusedToken) => {
      if (refusedToken !== current.current) return;
      setToken('');
      setRefused('The server refused this admin token.');
    },
    [setToken],
  );
  const unlock = (t) => {
    setRefused(null);
    setToken(t);
  };
  return (
    <section className="panel admin" aria-labelledby="admin-heading">
      <div className="panel__head">
        <h2 id="admin-heading">Admin</h2>
        {token && (
          <button type="button" className="button-small" onClick={() => setToken('')}>
            Forget token
          </button>
        )}
      </div>
      {token ? (
        <>
          <ReplayControl token={token} onRefused={onRefused} />
          <DeadLetters token={token} onRefused={onRefused} />
        </>
      ) : (
        <TokenForm onSubmit={unlock} error={refused} />
      )}
    </section>
  );
}
