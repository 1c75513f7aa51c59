import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ScoreBreakdown } from './ScoreBreakdown.jsx';
import { classicBreakdown } from '../score.js';
import { movie, numbersInLocale } from '../test/fakes.js';

const cells = (rowName) => within(screen.getByRole('row', { name: rowName })).getAllByRole('cell').map((c) => c.textContent);
const total = () => screen.getByRole('rowheader', { name: /Trend score/ }).textContent;

describe('ScoreBreakdown', () => {
  it('does not say a sum stored just below the half-way point rounds down from it', () => {
    // 5.4 × 0.7 + 8.9 × 0.3 is 6.4499999999999992…, which the server (as
    // Python's round()) makes 6.4 (projections/trend/score.go).
    const classic = classicBreakdown(movie(1, { external_score: 5.4, internal_views_count: 89, final_trend_score: 6.4 }));
    render(<ScoreBreakdown classic={classic} />);
    expect(total()).not.toMatch(/6\.45 rounded/);
    expect(total()).toBe('Trend score (6.449999999999999 rounded to one decimal)');
    expect(cells(/Trend score/)).toEqual(['6.4']);
  });

  it('says how a sum exactly half-way rounds', () => {
    render(<ScoreBreakdown classic={{ vote_average: 7.5, vote_term: 5.25, views: 0, views_normalized: 0, views_term: 0, final_trend_score: 5.2 }} />);
    expect(total()).toBe('Trend score (5.25 rounded to one decimal, half to even as Python’s round() does)');
  });

  it('writes the weights as the reader’s locale does, like the numbers beside them', async () => {
    numbersInLocale('de-DE');
    const { ScoreBreakdown: InGerman } = await import('./ScoreBreakdown.jsx');
    render(<InGerman classic={classicBreakdown(movie(1, { external_score: 8.1, internal_views_count: 42, final_trend_score: 6.9 }))} />);
    expect(cells(/TMDB vote average/)).toEqual(['8,1', '× 0,7', '5,67']);
    expect(cells(/^Views/)).toEqual(['4,2 / 10', '× 0,3', '1,26']);
  });
});
