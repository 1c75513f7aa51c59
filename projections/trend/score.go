// Package trend is the trend projection: the read model behind the
// ranking, how events change it, the queries that read it, and the score.
package trend

import (
	"math"
	"strconv"
)

// Score is the final trend score, as the Python system computed it:
// n = min(views/100, 1) * 10, then round1(voteAverage*0.7 + n*0.3), in
// float64 and in that order.
func Score(voteAverage float64, views int64) float64 {
	n := math.Min(float64(views)/100, 1) * 10
	// The conversions round each product (the Go spec's rule): without
	// them the compiler may fuse a product and the sum into one
	// multiply-add (arm64 does, and amd64 with GOAMD64=v3), which rounds
	// once and gives 6.5 where Python gives 6.4 (5.4 and 89 views).
	return Round1(float64(voteAverage*0.7) + float64(n*0.3))
}

// Round1 rounds to one decimal exactly as Python's round(x, 1): on the
// exact binary value of x, ties to even (5.25 gives 5.2, 0.35 gives 0.3
// because 0.35 is stored as 0.34999…). strconv formats from the exact
// binary value and breaks exact ties to even, which is that rule.
func Round1(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 1, 64), 64)
	return r
}
