package trend

import (
	"math"
	"time"
)

// AttentionEpoch is the origin of the attention clock. Any fixed time
// works; it only keeps the stored logarithms small.
var AttentionEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Params are the constants of the time-decayed score. Changing a half-life
// changes the stored attention: replay the projection after changing it.
type Params struct {
	// DayHalfLife and WeekHalfLife are the half-lives of the "day" and
	// "week" attention (TMDB's trending lists use 24 hours and 7 days).
	DayHalfLife, WeekHalfLife time.Duration
	// MinVotes is m in the weighted rating: how many votes a movie needs
	// before its own rating counts as much as the mean of all movies.
	MinVotes float64
}

// DefaultParams are the defaults documented in the README.
var DefaultParams = Params{DayHalfLife: 24 * time.Hour, WeekHalfLife: 7 * 24 * time.Hour, MinVotes: 500}

// Window names a decayed-attention window.
type Window string

// The windows of GET /api/trending.
const (
	Day  Window = "day"
	Week Window = "week"
)

// HalfLife returns the half-life of w.
func (p Params) HalfLife(w Window) time.Duration {
	if w == Week {
		return p.WeekHalfLife
	}
	return p.DayHalfLife
}

// Lambda is the decay rate per hour for a half-life.
func Lambda(halfLife time.Duration) float64 { return math.Ln2 / halfLife.Hours() }

func hours(t time.Time) float64 { return t.Sub(AttentionEpoch).Hours() }

// LogAddExp returns ln(exp(a) + exp(b)) without overflow; -Inf is ln(0).
func LogAddExp(a, b float64) float64 {
	switch {
	case math.IsInf(a, -1):
		return b
	case math.IsInf(b, -1):
		return a
	}
	return max(a, b) + math.Log1p(math.Exp(-math.Abs(a-b)))
}

// LogViewWeight is the stored form of one view at time t: lambda * t.
// A movie stores the LogAddExp of its views' weights, s; its attention at
// time now is exp(s - lambda*now) = sum over views of 2^(-age/halfLife).
func LogViewWeight(t time.Time, halfLife time.Duration) float64 {
	return Lambda(halfLife) * hours(t)
}

// Attention reads a stored s at time now: the number of views, each
// weighted by 2^(-age/halfLife).
func Attention(s float64, halfLife time.Duration, now time.Time) float64 {
	if math.IsInf(s, -1) {
		return 0
	}
	// Capped: a clock far behind the one that stamped the views, with a
	// short half-life, overflowed to +Inf (and a score of Inf × 0 to NaN),
	// which JSON cannot carry.
	return min(math.Exp(s-Lambda(halfLife)*hours(now)), math.MaxFloat64)
}

// WeightedRating is IMDb's weighted rating: R damped towards the mean C by
// how few votes v the movie has compared to m.
func WeightedRating(r, v, m, c float64) float64 {
	if v+m == 0 {
		return c
	}
	return v/(v+m)*r + m/(v+m)*c
}
