import { describe, expect, it } from 'vitest';
import { formatBeforeRounding, formatDateTime, formatDuration, formatTime } from './format.js';
import { numbersInLocale } from './test/fakes.js';

describe('formatDateTime', () => {
  // Local times: "today" is the reader's, whatever the time zone.
  const now = new Date(2026, 10, 28, 15, 0, 0);
  const at = (...parts) => new Date(...parts).toISOString();

  it('gives the time alone for an instant of today', () => {
    expect(formatDateTime(at(2026, 10, 28, 9, 5, 7), now)).toBe('09:05:07 AM');
    expect(formatDateTime(at(2026, 10, 28, 0, 0, 0), now)).toBe(formatTime(at(2026, 10, 28, 0, 0, 0)));
  });

  it('gives the date too for yesterday, and the year for another year', () => {
    expect(formatDateTime(at(2026, 10, 27, 23, 59, 59), now)).toBe('Nov 27, 11:59:59 PM');
    expect(formatDateTime(at(2024, 1, 29, 8, 0, 0), now)).toBe('Feb 29, 2024, 08:00:00 AM');
  });

  it('gives a dash for no instant or one it cannot read', () => {
    expect(formatDateTime(null, now)).toBe('—');
    expect(formatDateTime('not a time', now)).toBe('—');
  });
});

describe('formatDuration', () => {
  it('rounds to whole seconds before splitting into minutes, or minutes into hours', () => {
    expect(formatDuration(119.7)).toBe('2 min 0 s');
    expect(formatDuration(3599.6)).toBe('1 h 0 min');
    expect(formatDuration(59.6)).toBe('1 min 0 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(7322)).toBe('2 h 2 min');
  });

  it('gives milliseconds below a second and one decimal below ten', () => {
    expect(formatDuration(0.15)).toBe('150 ms');
    expect(formatDuration(0.9996)).toBe('1.0 s');
    expect(formatDuration(9.5)).toBe('9.5 s');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(null)).toBe('—');
  });

  it('writes decimals as the reader’s locale does', async () => {
    numbersInLocale('de-DE');
    const { formatDuration: inGerman } = await import('./format.js');
    expect(inGerman(9.5)).toBe('9,5 s');
  });
});

describe('formatBeforeRounding', () => {
  it('shows as many decimals as it takes to see which way a sum rounds', () => {
    // 5.4 × 0.7 + 8.9 × 0.3 is 6.4499999999999992…: it rounds to 6.4.
    expect(formatBeforeRounding(5.4 * 0.7 + 8.9 * 0.3)).toEqual({ text: '6.449999999999999', tie: false });
    // 0.35 is stored as 0.34999999999999997…, 6.45 as 6.4500000000000001…
    expect(formatBeforeRounding(0.35).text).toBe('0.34999999999999998');
    expect(formatBeforeRounding(6.45).text).toBe('6.4500000000000002');
    expect(formatBeforeRounding(6.449).text).toBe('6.449');
  });

  it('keeps two decimals when they do not look half-way, and says when a value is', () => {
    expect(formatBeforeRounding(6.44)).toEqual({ text: '6.44', tie: false });
    expect(formatBeforeRounding(5.25)).toEqual({ text: '5.25', tie: true });
  });

  it('writes the decimals as the reader’s locale does', async () => {
    numbersInLocale('de-DE');
    const { formatBeforeRounding: inGerman } = await import('./format.js');
    expect(inGerman(0.35).text).toBe('0,34999999999999998');
  });
});
