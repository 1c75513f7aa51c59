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

// A database from before the record (migration 00013 left it empty) that
// holds facts of a movie the stand-in does not have was fed by TMDB: the
// stand-in is refused there too. Facts of the stand-in's movies alone
// say nothing.
func TestTheStandInIsRefusedWhereTMDBFedTheDatabaseBeforeTheRecord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		id      int64
		refused bool
	}{{"a movie the stand-in does not have", 2_000_000, true}, {"one it has (Fight Club)", 550, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pool := testenv.Pool(t)
			ctx := t.Context()
			if _, err := pool.Exec(ctx, `INSERT INTO movies (tmdb_id, status, registered_at, updated_at) VALUES ($1, 'active', now(), now())`, c.id); err != nil {
				t.Fatal(err)
			}
			err := recordTMDBSource(ctx, pool, true)
			if got := errors.Is(err, errStandInAfterTMDB); got != c.refused || (err != nil && !got) {
				t.Errorf("got %v, want refused %v", err, c.refused)
			}
		})
	}
}
