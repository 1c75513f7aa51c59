import { useEffect, useMemo, useState } from 'react';
import { TimeChart } from './TimeChart.jsx';
import { formatInt } from '../format.js';

const MAX_SAMPLES = 500;

function bucketLabel(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}

// The server sends every bucket of its window (7 days of hours, 48 hours of
// minutes), empty ones included. The empty stretch before a movie's first
// view says nothing, so the chart starts shortly before it.
const MIN_BUCKETS = { hour: 24, minute: 30 };

/** Oldest first, without the leading empty buckets (keeping at least `min`). */
export function chartableHistory(history, min) {
  const sorted = [...history].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const first = sorted.findIndex((h) => h.views > 0);
  const start = first < 0 ? sorted.length - min : Math.min(first - 1, sorted.length - min);
  return sorted.slice(Math.max(0, start));
}

/** Views per hour (or minute), from the server's history of the movie. */
function HistoryChart({ history, resolution, name }) {
  const unit = resolution === 'minute' ? 'minute' : 'hour';
  const [times, values] = useMemo(() => {
    const shown = chartableHistory(history, MIN_BUCKETS[unit]);
    return [shown.map((h) => Date.parse(h.at) / 1000), shown.map((h) => h.views)];
  }, [history, unit]);
  if (times.length === 0) return <p className="hint">No views recorded yet.</p>;
  const total = values.reduce((a, b) => a + b, 0);
  const peak = values.indexOf(Math.max(...values));
  const summary =
    total === 0
      ? `No views of ${name} in the last ${times.length} ${unit}s.`
      : `Views per ${unit} of ${name}: ${formatInt(total)} views over ${times.length} ${unit}s; most, ${formatInt(values[peak])}, in the ${unit} from ${bucketLabel(times[peak])}.`;
  return (
    <>
      <TimeChart kind="bars" times={times} values={values} label={`Views per ${unit}`} summary={summary} />
      <p className="hint">{summary}</p>
    </>
  );
}

/**
 * Until the server keeps a history, the chart shows the view count as this
 * page has seen it change; it says so, rather than pretend to be history.
 */
function SessionChart({ views, name }) {
  const [samples, setSamples] = useState(() => [{ t: Date.now() / 1000, views }]);
  useEffect(() => {
    setSamples((s) => (s.at(-1).views === views ? s : [...s, { t: Date.now() / 1000, views }].slice(-MAX_SAMPLES)));
  }, [views]);
  // A step chart needs a point "now" to draw the last level to the edge.
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), 5000);
    return () => clearInterval(t);
  }, []);
  const [times, values] = useMemo(
    () => [[...samples.map((s) => s.t), Math.max(now, samples.at(-1).t)], [...samples.map((s) => s.views), samples.at(-1).views]],
    [samples, now],
  );
  const gained = views - samples[0].views;
  const summary = `Views of ${name} since this panel opened: ${formatInt(views)} now, ${gained >= 0 ? '+' : ''}${formatInt(gained)}.`;
  return (
    <>
      <TimeChart kind="step" times={times} values={values} label="Views" summary={summary} />
      <p className="hint">
        {summary} This server does not keep a view history yet, so the chart starts when you opened the movie.
      </p>
    </>
  );
}

/** The server's history when it has one; otherwise what this page saw. */
export function ViewsChart({ history, historyMissing, historyError, resolution, views, name }) {
  let chart;
  if (Array.isArray(history)) chart = <HistoryChart history={history} resolution={resolution} name={name} />;
  else if (historyMissing) chart = <SessionChart views={views} name={name} />;
  else if (historyError) chart = <p className="hint">The view history could not be loaded; asking again shortly.</p>;
  else chart = <p className="hint">Loading the view history…</p>;
  return (
    <section className="views-chart" aria-labelledby="views-chart-heading">
      <h3 id="views-chart-heading">Views over time</h3>
      {chart}
    </section>
  );
}
