import { useId } from 'react';

export const RANKINGS = [
  { value: 'classic', label: 'Classic score' },
  { value: 'day', label: 'Trend · day' },
  { value: 'week', label: 'Trend · week' },
];

/** Chooses what orders the board: the classic score or a time-decayed one. */
export function RankingSwitch({ value, onChange }) {
  const name = useId();
  return (
    <fieldset className="segmented">
      <legend>Order by</legend>
      {RANKINGS.map((r) => (
        <label key={r.value} className={value === r.value ? 'segmented__option segmented__option--on' : 'segmented__option'}>
          <input type="radio" name={name} value={r.value} checked={value === r.value} onChange={() => onChange(r.value)} />
          {r.label}
        </label>
      ))}
    </fieldset>
  );
}
