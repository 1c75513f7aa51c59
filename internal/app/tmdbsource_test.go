package app

import (
	"errors"
	"testing"

	"github.com/movietrend/trend/internal/testenv"
)

// The built-in TMDB stand-in is refused on a database TMDB itself fed (a
// worker that lost its key), and allowed until then; TMDB after the
// stand-in (a key added) is fine.
func TestTheStandInIsRefusedAfterTMDB(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	for i, c := range []struct {
		standIn bool
		refused bool
	}{
		{standIn: true}, {standIn: true}, // a first run without a key, and a second
		{standIn: false},               // a key added
		{standIn: true, refused: true}, // the key lost
		{standIn: false},
	} {
		err := recordTMDBSource(ctx, pool, c.standIn)
		if got := errors.Is(err, errStandInAfterTMDB); got != c.refused || (err != nil && !got) {
			t.Errorf("step %d (stand-in %v): got %v, want refused %v", i, c.standIn, err, c.refused)
		}
	}
}
