import { formatBeforeRounding, formatInt, formatNumber, formatScore } from '../format.js';
import { VIEWS_FOR_FULL_MARKS, VIEWS_WEIGHT, VOTE_WEIGHT } from '../score.js';

const WINDOW_NAMES = { day: 'Trend · day', week: 'Trend · week' };

/**
 * The time-decayed score of one window (README "Trending"):
 * trend_score = attention × WR / 10, WR = v/(v+m)·R + m/(v+m)·C.
 */
function TrendingTerms({ window, terms }) {
  const headingId = `trending-${window}-heading`;
  return (
    <table className="breakdown__table" aria-labelledby={headingId}>
      <caption id={headingId} className="breakdown__caption">
        {WINDOW_NAMES[window] ?? window} <span className="hint">(half-life {formatNumber(terms.half_life_hours)} h)</span>
      </caption>
      <tbody>
        <tr>
          <th scope="row">
            Attention <span className="hint">(views, each weighted by its age)</span>
          </th>
          <td>{formatNumber(terms.attention)}</td>
        </tr>
        <tr>
          <th scope="row">
            Weighted rating{' '}
            <span className="hint">
              ({formatScore(terms.r)} from {formatInt(terms.v)} votes, pulled towards the mean {formatNumber(terms.c)} by {formatInt(terms.m)} votes)
            </span>
          </th>
          <td>{formatNumber(terms.weighted_rating)}</td>
        </tr>
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">
            Trend score <span className="hint">(attention × rating / 10)</span>
          </th>
          <td className="breakdown__total">{formatNumber(terms.trend_score)}</td>
        </tr>
      </tfoot>
    </table>
  );
}

function RecentViews({ views }) {
  return (
    <p className="hint">
      Views in the last hour: {formatInt(views.last_hour)} · 24 hours: {formatInt(views.last_24_hours)} · 7 days:{' '}
      {formatInt(views.last_7_days)}
    </p>
  );
}

/** Both scores, term by term: what makes this movie's numbers. */
export function ScoreBreakdown({ classic, trending, recentViews, computedHere }) {
  // The sum as the server rounds it: with the decimals that show which way.
  const sum = formatBeforeRounding(classic.vote_term + classic.views_term);
  return (
    <section className="breakdown" aria-labelledby="breakdown-heading">
      <h3 id="breakdown-heading">Why this score</h3>
      <table className="breakdown__table">
        <caption className="visually-hidden">Classic trend score, term by term</caption>
        <thead>
          <tr>
            <th scope="col">Term</th>
            <th scope="col">Input</th>
            <th scope="col">Weight</th>
            <th scope="col">Points</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">TMDB vote average</th>
            <td>{formatNumber(classic.vote_average)}</td>
            <td>× {formatNumber(VOTE_WEIGHT)}</td>
            <td>{formatNumber(classic.vote_term)}</td>
          </tr>
          <tr>
            <th scope="row">
              Views{' '}
              <span className="hint">
                ({formatInt(classic.views)} of {VIEWS_FOR_FULL_MARKS} for full marks)
              </span>
            </th>
            <td>{formatNumber(classic.views_normalized)} / 10</td>
            <td>× {formatNumber(VIEWS_WEIGHT)}</td>
            <td>{formatNumber(classic.views_term)}</td>
          </tr>
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Trend score{' '}
              <span className="hint">
                ({sum.text} rounded to one decimal{sum.tie && ', half to even as Python’s round() does'})
              </span>
            </th>
            <td className="breakdown__total">{formatScore(classic.final_trend_score)}</td>
          </tr>
        </tfoot>
      </table>
      {computedHere && (
        <p className="hint">Computed in the browser from the movie’s facts; this server does not explain scores yet.</p>
      )}
      {trending &&
        ['day', 'week']
          .filter((w) => trending[w])
          .map((w) => <TrendingTerms key={w} window={w} terms={trending[w]} />)}
      {recentViews && <RecentViews views={recentViews} />}
    </section>
  );
}
