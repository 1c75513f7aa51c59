package trend

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// bruteForce is the definition: every view weighted by 2^(-age/halfLife).
func bruteForce(views []time.Time, halfLife time.Duration, now time.Time) float64 {
	sum := 0.0
	for _, t := range views {
		sum += math.Pow(2, -now.Sub(t).Hours()/halfLife.Hours())
	}
	return sum
}

func stored(views []time.Time, halfLife time.Duration) float64 {
	s := math.Inf(-1)
	for _, t := range views {
		s = LogAddExp(s, LogViewWeight(t, halfLife))
	}
	return s
}

func TestStoredFormOrdersLikeTheBruteForceSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for trial := 0; trial < 200; trial++ {
		type movie struct{ key, truth float64 }
		movies := make([]movie, 30)
		for i := range movies {
			var views []time.Time
			for range rng.IntN(50) {
				views = append(views, now.Add(-time.Duration(rng.Int64N(int64(14*24*time.Hour)))))
			}
			movies[i] = movie{stored(views, 24*time.Hour), bruteForce(views, 24*time.Hour, now)}
			if got := Attention(movies[i].key, 24*time.Hour, now); math.Abs(got-movies[i].truth) > 1e-9*max(1, movies[i].truth) {
				t.Fatalf("attention: got %v, want %v", got, movies[i].truth)
			}
		}
		byKey := append([]movie(nil), movies...)
		sort.SliceStable(byKey, func(i, j int) bool { return byKey[i].key > byKey[j].key })
		for i := 1; i < len(byKey); i++ {
			// The stored order is the true order, except between sums equal
			// to the last few bits.
			if byKey[i].truth > byKey[i-1].truth*(1+1e-12) {
				t.Fatalf("trial %d: stored order puts %v before %v", trial, byKey[i-1].truth, byKey[i].truth)
			}
		}
	}
}

func TestAttentionIsMonotoneInViews(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := math.Inf(-1)
	prev := 0.0
	for i := range 100 {
		s = LogAddExp(s, LogViewWeight(now.Add(-time.Duration(i)*time.Hour), 24*time.Hour))
		a := Attention(s, 24*time.Hour, now)
		if a <= prev {
			t.Fatalf("view %d: attention %v did not grow from %v", i, a, prev)
		}
		prev = a
	}
}

func TestAttentionHalvesAfterOneHalfLife(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	for _, hl := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		s := stored([]time.Time{at, at.Add(time.Minute), at.Add(2 * time.Hour)}, hl)
		now := at.Add(3 * time.Hour)
		a0, a1 := Attention(s, hl, now), Attention(s, hl, now.Add(hl))
		if math.Abs(a1/a0-0.5) > 1e-12 {
			t.Errorf("half-life %s: attention went from %v to %v, want half", hl, a0, a1)
		}
	}
	if got := Attention(stored([]time.Time{at}, 24*time.Hour), 24*time.Hour, at); math.Abs(got-1) > 1e-12 {
		t.Errorf("a view seen at once: got %v, want 1", got)
	}
}

func TestWeightedRating(t *testing.T) {
	cases := []struct{ r, v, m, c, want float64 }{
		{8, 0, 500, 6, 6},      // no votes: the mean
		{8, 500, 500, 6, 7},    // as many votes as m: halfway
		{8, 1e9, 500, 6, 8},    // many votes: its own rating
		{0, 0, 0, 6.5, 6.5},    // degenerate m
		{9, 1500, 500, 7, 8.5}, // 3/4 * 9 + 1/4 * 7
	}
	for _, c := range cases {
		if got := WeightedRating(c.r, c.v, c.m, c.c); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("WeightedRating(%v, %v, %v, %v): got %v, want %v", c.r, c.v, c.m, c.c, got, c.want)
		}
	}
}

// TestAttentionStaysFinite: views stamped 18 hours after the reader's
// clock, with the shortest half-life allowed (a minute), overflowed
// exp(); the attention stays finite, and so does a score with a weighted
// rating of 0.
func TestAttentionStaysFinite(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := Lambda(time.Minute) * hours(now.Add(18*time.Hour)) // one view 18 h ahead
	a := Attention(s, time.Minute, now)
	if math.IsInf(a, 0) || math.IsNaN(a) || math.IsNaN(a*0/10) {
		t.Errorf("attention %v (score with WR 0: %v); want finite", a, a*0/10)
	}
	// And the score, with the highest weighted rating.
	r := (&Ranker{params: Params{DayHalfLife: time.Minute, WeekHalfLife: time.Minute, MinVotes: 500}}).rate(Movie{}, s, Day, 9.9, now)
	if math.IsInf(r.TrendScore, 0) || math.IsNaN(r.TrendScore) {
		t.Errorf("trend score %v; want finite", r.TrendScore)
	}
}
