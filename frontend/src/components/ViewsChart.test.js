import { describe, expect, it } from 'vitest';
import { chartableHistory } from './ViewsChart.jsx';

const at = (h) => new Date(Date.UTC(2026, 0, 1, h)).toISOString();

describe('chartableHistory', () => {
  it('starts one bucket before the first view, sorted oldest first', () => {
    const h = [
      { at: at(3), views: 2 },
      { at: at(0), views: 0 },
      { at: at(1), views: 0 },
      { at: at(2), views: 0 },
    ];
    expect(chartableHistory(h, 1).map((p) => p.at)).toEqual([at(2), at(3)]);
  });

  it('keeps at least the last `min` buckets, even if all are empty', () => {
    const h = Array.from({ length: 10 }, (_, i) => ({ at: at(i), views: 0 }));
    expect(chartableHistory(h, 4)).toHaveLength(4);
    expect(chartableHistory([{ at: at(0), views: 1 }], 4)).toHaveLength(1);
  });
});
