import { useEffect, useState } from 'react';
import { getPipeline } from '../api/endpoints.js';
import { usePolling } from '../hooks/usePolling.js';
import { formatDuration, formatInt, formatNumber, formatTime } from '../format.js';
import { TimeChart } from './TimeChart.jsx';

const POLL_MS = 2000;
const RATE_HISTORY = 90; // points: three minutes at one per 2 s

/**
 * The server reports the management UI as it sees it ("localhost"); a
 * browser on another machine must use the host it reached the dashboard on.
 */
export function managementURL(reported, pageHost = window.location.hostname) {
  try {
    const url = new URL(reported || 'http://localhost:15672');
    if (['localhost', '127.0.0.1', '::1', '[::1]'].includes(url.hostname) && pageHost) url.hostname = pageHost;
    return url.toString();
  } catch {
    return reported;
  }
}

function Stat({ label, value, detail, warn }) {
  return (
    <div className={`stat${warn ? ' stat--warn' : ''}`}>
      <dt>{label}</dt>
      <dd>
        <span className="stat__value">{value}</span>
        {detail && <span className="stat__detail">{detail}</span>}
      </dd>
    </div>
  );
}

// A gap longer than this (a hidden tab, failing polls) starts the chart
// anew, rather than draw a line across it.
const RATE_GAP_S = 10;

/** The rate history with the snapshot taken at t (seconds) added. */
export function addRatePoint(h, t, value) {
  const last = h.times.at(-1);
  if (last === t) return h;
  if (last !== undefined && t - last > RATE_GAP_S) h = { times: [], values: [] };
  return { times: [...h.times, t].slice(-RATE_HISTORY), values: [...h.values, value].slice(-RATE_HISTORY) };
}

function useRateHistory(stats) {
  const [history, setHistory] = useState({ times: [], values: [] });
  useEffect(() => {
    if (!stats) return;
    setHistory((h) => addRatePoint(h, Date.parse(stats.at) / 1000, stats.events_per_second));
  }, [stats]);
  return history;
}

function QueueTable({ queues }) {
  return (
    <table className="queues">
      <caption>RabbitMQ queues</caption>
      <thead>
        <tr>
          <th scope="col">Queue</th>
          <th scope="col" className="col-num">
            Messages
          </th>
          <th scope="col" className="col-num">
            Consumers
          </th>
        </tr>
      </thead>
      <tbody>
        {queues.map((q) => {
          // Every queue but the dead letters needs someone consuming it.
          const unattended = q.consumers === 0 && q.name !== 'dead-letters';
          return (
            <tr key={q.name} className={unattended ? 'queues__row--warn' : undefined}>
              <th scope="row">
                <code>{q.name}</code>
              </th>
              <td className="col-num">{formatInt(q.messages)}</td>
              <td className="col-num">
                {formatInt(q.consumers)}
                {unattended && <span className="visually-hidden"> (no consumer)</span>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** How the pipeline behind the ranking is doing, every 2 s. */
export function PipelinePanel() {
  const { data: stats, error, updatedAt } = usePolling((signal) => getPipeline({ signal }), POLL_MS);
  const rate = useRateHistory(stats);

  return (
    <section className="panel pipeline" aria-labelledby="pipeline-heading">
      <div className="panel__head">
        <h2 id="pipeline-heading">Pipeline</h2>
        {updatedAt && (
          <span className="hint">
            {error ? 'stale, ' : ''}as of {formatTime(stats.at)}
          </span>
        )}
      </div>
      {error && (
        <p className="form-error" role="alert">
          Pipeline statistics are unavailable: {error}
        </p>
      )}
      {!stats && !error && <p role="status">Loading…</p>}
      {stats && (
        <>
          {stats.broker_error && (
            <p className="warning" role="alert">
              RabbitMQ: {stats.broker_error}
            </p>
          )}
          {stats.missing_queues?.length > 0 && (
            <p className="warning" role="alert">
              RabbitMQ lacks {stats.missing_queues.join(', ')}: nothing reaches their handlers until a worker starts and declares them.
            </p>
          )}
          <dl className="stats" aria-live="off">
            <Stat label="Events per second" value={formatNumber(stats.events_per_second)} detail={`log head ${formatInt(stats.log_head)}`} />
            <Stat
              label="Outbox backlog"
              value={formatInt(stats.outbox_backlog)}
              detail={stats.relay_lag_seconds > 0 ? `oldest waiting ${formatDuration(stats.relay_lag_seconds)}` : 'not yet in RabbitMQ'}
              // A backlog that waits, not a big one, is what means the relay is stuck.
              warn={stats.relay_lag_seconds > 10}
            />
            <Stat
              label="Projection lag"
              // Log positions behind, which have gaps: a bound on the events.
              value={stats.projection_lag_events > 0 ? `up to ${formatInt(stats.projection_lag_events)} events` : '0 events'}
              detail={
                stats.projection_lag_events > 0
                  ? stats.projection_lag_seconds < 0
                    ? 'age unknown'
                    : formatDuration(stats.projection_lag_seconds)
                  : 'caught up'
              }
              warn={stats.projection_lag_seconds > 5}
            />
            <Stat
              label="Dead letters"
              value={stats.dead_letters < 0 ? 'unknown' : formatInt(stats.dead_letters)}
              detail={stats.dead_letters > 0 ? 'need attention' : undefined}
              warn={stats.dead_letters > 0}
            />
          </dl>
          {rate.times.length > 1 && (
            <TimeChart
              kind="line"
              height={130}
              times={rate.times}
              values={rate.values}
              label="Events per second"
              summary={`Events per second over the last ${formatDuration(rate.times.at(-1) - rate.times[0])}, now ${formatNumber(stats.events_per_second)}.`}
            />
          )}
          {stats.queues?.length > 0 && <QueueTable queues={stats.queues} />}
          <p>
            <a href={managementURL(stats.rabbitmq_management_url)} target="_blank" rel="noreferrer">
              RabbitMQ management UI<span className="visually-hidden"> (opens in a new tab)</span>
            </a>
            {' · '}
            {/* The API's interactive docs (Swagger UI), same origin: NGINX proxies /docs too. */}
            <a href="/docs" target="_blank" rel="noreferrer">
              API docs<span className="visually-hidden"> (opens in a new tab)</span>
            </a>
          </p>
        </>
      )}
    </section>
  );
}
