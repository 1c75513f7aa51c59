// The classic score, term by term, as the server computes it (README "The
// score"): n = min(views / 100, 1) * 10; score = round1(vote * 0.7 + n * 0.3).
// Used until the server's /api/movies/{id}/trend explains it itself. The
// total shown is always the server's final_trend_score, so Python-style
// rounding never has to be re-implemented here.

export const VOTE_WEIGHT = 0.7;
export const VIEWS_WEIGHT = 0.3;
export const VIEWS_FOR_FULL_MARKS = 100;

export function classicBreakdown(movie) {
  const voteAverage = movie.external_score ?? 0;
  const views = movie.internal_views_count ?? 0;
  const viewsNormalized = Math.min(views / VIEWS_FOR_FULL_MARKS, 1) * 10;
  return {
    vote_average: voteAverage,
    vote_term: voteAverage * VOTE_WEIGHT,
    views,
    views_normalized: viewsNormalized,
    views_term: viewsNormalized * VIEWS_WEIGHT,
    final_trend_score: movie.final_trend_score,
  };
}
