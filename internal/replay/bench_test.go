package replay_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/movietrend/trend/internal/replay"
	"github.com/movietrend/trend/internal/testenv"
)

// BenchmarkReplay rebuilds the trend projection from a log of
// REPLAY_BENCH_EVENTS ViewRecorded events (default 1,000,000) over 1,000
// movies, spread over 6 days, and reports events per second. `make
// bench-replay` runs it.
func BenchmarkReplay(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("REPLAY_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	pool := testenv.Pool(b)
	ctx := b.Context()
	_, err := pool.Exec(ctx, `
		INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, data)
		SELECT gen_random_uuid(), 'MovieRegistered', 1, m, '2026-11-20T00:00:00Z', jsonb_build_object('tmdb_id', m, 'registered_at', '2026-11-20T00:00:00Z')
		FROM generate_series(1, 1000) m`)
	if err != nil {
		b.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO events (event_id, type, version, tmdb_id, dedup_key, occurred_at, data)
		SELECT gen_random_uuid(), 'ViewRecorded', 1, m, v, t,
		       jsonb_build_object('view_id', v, 'tmdb_id', m, 'viewed_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
		FROM (SELECT 1 + (i % 1000) AS m, gen_random_uuid() AS v,
		             timestamptz '2026-11-20T00:00:00Z' + (i * interval '6 days') / $1 AS t
		      FROM generate_series(1, $1::int) i) g`, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	// The first replay builds the live copy; the measured ones rebuild it,
	// as an operator's replay does.
	if _, err := replay.New(pool, quiet).Run(ctx, proj, replay.Options{}); err != nil {
		b.Fatal(err)
	}
	var total int64
	b.ResetTimer()
	for b.Loop() {
		p, err := proj.ForReplay(ctx, pool)
		if err != nil {
			b.Fatal(err)
		}
		res, err := replay.New(pool, quiet).Run(ctx, p, replay.Options{})
		if err != nil {
			b.Fatal(err)
		}
		total += res.Events
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
