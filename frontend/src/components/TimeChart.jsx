import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function padHalfBucket(u, min, max) {
  const xs = u.data[0];
  const step = xs.length > 1 ? xs[1] - xs[0] : 60;
  return [min - step / 2, max + step / 2];
}

/**
 * A time series drawn by uPlot (small and fast; canvas). `times` are Unix
 * seconds. The chart is an image to assistive technology: `summary` says in
 * words what it shows.
 *
 * @param {{times: number[], values: number[], label: string, summary: string,
 *          kind?: 'bars'|'line'|'step', height?: number}} props
 */
export function TimeChart({ times, values, label, summary, kind = 'line', height = 160 }) {
  const hostRef = useRef(null);
  const plotRef = useRef(null);

  // Create once per kind; data updates go through setData (no re-creation).
  useEffect(() => {
    const host = hostRef.current;
    const stroke = cssVar('--accent', '#e0533d');
    const paths =
      kind === 'bars' ? uPlot.paths.bars({ size: [0.8, 40] }) : kind === 'step' ? uPlot.paths.stepped({ align: 1 }) : undefined;
    const axis = { stroke: cssVar('--muted', '#777'), grid: { stroke: cssVar('--grid', 'rgba(128,128,128,.15)') }, ticks: { show: false } };
    const plot = new uPlot(
      {
        width: Math.max(200, host.clientWidth),
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          // Bars are centred on their bucket: leave half a bucket either side
          // so the first and last are not cut in half.
          x: kind === 'bars' ? { time: true, range: padHalfBucket } : { time: true },
          y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [{ ...axis, size: 36 }, { ...axis, size: 44 }],
        series: [{}, { label, stroke, width: 2, fill: kind === 'line' ? 'transparent' : `${stroke}55`, paths, points: { show: false } }],
      },
      [[], []],
      host,
    );
    plotRef.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, host.clientWidth), height }));
    resize.observe(host);
    return () => {
      resize.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, [kind, label, height]);

  useEffect(() => {
    plotRef.current?.setData([times, values]);
  }, [times, values]);

  return <div className="chart" ref={hostRef} role="img" aria-label={summary} />;
}
