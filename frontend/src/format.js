// Number and time formatting, in the reader's locale.

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export const formatInt = (n) => (n == null || Number.isNaN(n) ? '—' : int.format(n));
export const formatScore = (n) => (n == null || Number.isNaN(n) ? '—' : oneDecimal.format(n));
export const formatNumber = (n) => (n == null || Number.isNaN(n) ? '—' : twoDecimals.format(n));

export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  if (Math.round(seconds * 1000) < 1000) return `${int.format(Math.round(seconds * 1000))} ms`;
  if (seconds < 9.95) return `${oneDecimal.format(seconds)} s`;
  // Whole seconds first, so that 119.7 s is "2 min 0 s", not "1 min 60 s".
  const total = Math.round(seconds);
  if (total < 60) return `${int.format(total)} s`;
  const m = Math.floor(total / 60);
  if (m < 60) return `${int.format(m)} min ${int.format(total % 60)} s`;
  return `${int.format(Math.floor(m / 60))} h ${int.format(m % 60)} min`;
}

const decimalSeparator = twoDecimals.formatToParts(0.5).find((p) => p.type === 'decimal')?.value ?? '.';

/**
 * A number about to be rounded to one decimal, with as many decimals as it
 * takes to see which way it rounds: the server rounds its exact binary value
 * (as Python's round() does), so 6.45 stored as 6.4499999999999992… gives
 * 6.4, and shown as "6.45" it would seem to round the wrong way. Returns
 * {text, tie}: tie when the value is exactly half-way (5.25), which rounds
 * to the even neighbour.
 */
export function formatBeforeRounding(n) {
  const shown = formatNumber(n);
  if (n == null || !Number.isFinite(n)) return { text: shown, tie: false };
  const abs = Math.abs(n);
  const hundredths = Math.round(abs * 100);
  if (hundredths % 10 !== 5) return { text: shown, tie: false };
  const half = (hundredths / 100).toFixed(2);
  // toFixed reads the exact binary value; 20 decimals tell any sum of
  // scores (0.05 or more) from the half-way point.
  for (let digits = 3; digits <= 20; digits++) {
    const exact = abs.toFixed(digits).replace(/0+$/, '');
    if (exact !== half) {
      const [whole, fraction] = exact.split('.');
      return { text: `${n < 0 ? '-' : ''}${int.format(Number(whole))}${decimalSeparator}${fraction}`, tie: false };
    }
  }
  return { text: shown, tie: true };
}

export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: iso.length === 10 ? 'UTC' : undefined });
}

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/**
 * An instant that may be days old: the time alone when it is today (in the
 * reader's time zone), the date and time otherwise (the year only when it
 * is not this year's).
 */
export function formatDateTime(iso, now = new Date()) {
  if (iso == null || iso === '') return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  if (sameDay(d, now)) return formatTime(d);
  return d.toLocaleString(undefined, {
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "Inception", or "Movie 27205" while TMDB has not answered. */
export const movieName = (m) => m?.title ?? `Movie ${m?.tmdb_id}`;
