package trend

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestRound1MatchesPython(t *testing.T) {
	// Values and results checked against CPython's round(x, 1).
	cases := []struct{ in, want float64 }{
		{5.25, 5.2}, {5.35, 5.3}, {0.25, 0.2}, {0.35, 0.3}, {0.45, 0.5}, {2.675, 2.7},
		{0.05, 0.1}, {0.15, 0.1}, {1.05, 1.1}, {-0.25, -0.2}, {8.75, 8.8}, {0, 0}, {10, 10}, {7.0, 7.0},
	}
	for _, c := range cases {
		if got := Round1(c.in); got != c.want {
			t.Errorf("Round1(%v): got %v, want %v", c.in, got, c.want)
		}
	}
}

// round1Exact is an independent oracle: exact rational arithmetic on the
// binary value, ties to even.
func round1Exact(x float64) float64 {
	r := new(big.Rat).SetFloat64(x)
	r.Mul(r, big.NewRat(10, 1))
	neg := r.Sign() < 0
	r.Abs(r)
	fl := new(big.Int).Quo(r.Num(), r.Denom())
	frac := new(big.Rat).Sub(r, new(big.Rat).SetInt(fl))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		fl.Add(fl, big.NewInt(1))
	case 0:
		if fl.Bit(0) == 1 {
			fl.Add(fl, big.NewInt(1))
		}
	}
	if neg {
		fl.Neg(fl)
	}
	f, _ := new(big.Rat).SetFrac(fl, big.NewInt(10)).Float64()
	return f
}

func TestRound1AgainstExactOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var x float64
		switch i % 3 {
		case 0:
			x = rng.Float64() * 10
		case 1: // the scores the formula really produces
			x = float64(rng.IntN(101))/10*0.7 + math.Min(float64(rng.IntN(300))/100, 1)*10*0.3
		default: // exact ties
			x = float64(rng.IntN(2000)) / 20
		}
		if got, want := Round1(x), round1Exact(x); got != want {
			t.Fatalf("Round1(%.20g): got %v, want %v", x, got, want)
		}
	}
}

func TestScore(t *testing.T) {
	cases := []struct {
		vote  float64
		views int64
		want  float64
	}{
		{8.1, 0, 5.7},   // 5.67
		{8.1, 100, 8.7}, // 5.67 + 3
		{8.1, 50, 7.2},  // 5.67 + 1.5 = 7.17
		{8.1, 1000, 8.7},
		{0, 1, 0},    // 0.03
		{0, 17, 0.5}, // 0.51
		{7.5, 25, 6.0},
		// Python's answers where one fused multiply-add (one rounding
		// instead of two, which Go may emit on arm64 or with GOAMD64=v3)
		// gives the neighbouring tenth.
		{6.2, 27, 5.2},
		{7.2, 87, 7.7},
		{5.4, 89, 6.4},
	}
	for _, c := range cases {
		if got := Score(c.vote, c.views); got != c.want {
			t.Errorf("Score(%v, %d): got %v, want %v", c.vote, c.views, got, c.want)
		}
	}
}

func TestScoreIsMonotoneInViews(t *testing.T) {
	for _, vote := range []float64{0, 3.3, 6.4, 8.1, 10} {
		prev := Score(vote, 0)
		for v := int64(1); v <= 150; v++ {
			s := Score(vote, v)
			if s < prev {
				t.Fatalf("Score(%v, %d) = %v < Score(%v, %d) = %v", vote, v, s, vote, v-1, prev)
			}
			prev = s
		}
	}
}
