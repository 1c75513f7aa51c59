package postgres_test

import (
	"io/fs"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/testenv"
)

// Migration 00007 gives every movie ever removed the log position of its
// latest removal, whether it is still removed or was registered again.
func TestMigration7FillsRemovalPositionsFromTheLog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := testenv.Pool(t)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	fsys, err := fs.Sub(postgres.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.DownTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// Movie 1 removed; movie 2 removed twice, then registered again;
	// movie 3 never removed.
	var removed1, removed2 int64
	for _, e := range []struct {
		typ  string
		id   int64
		into *int64
	}{{"MovieRegistered", 1, nil}, {"MovieRemoved", 1, &removed1}, {"MovieRemoved", 2, nil}, {"MovieRegistered", 3, nil},
		{"MovieRemoved", 2, &removed2}, {"MovieRegistered", 2, nil}} {
		var pos int64
		if err := pool.QueryRow(ctx, `INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, data)
			VALUES (gen_random_uuid(), $1, 1, $2, now(), '{}') RETURNING position`, e.typ, e.id).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		if e.into != nil {
			*e.into = pos
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO trend_movies (tmdb_id, status, last_updated_at)
		VALUES (1, 'removed', now()), (2, 'pending', now()), (3, 'active', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]int64{1: removed1, 2: removed2, 3: 0} {
		var got int64
		if err := pool.QueryRow(ctx, `SELECT removed_position FROM trend_movies WHERE tmdb_id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("movie %d: removed_position %d, want %d", id, got, want)
		}
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatal(err)
	}
}

// trend_logaddexp(a, b) is ln(exp(a) + exp(b)). A gap over about 745
// made exp underflow, which PostgreSQL raises as an error (a movie's
// first view after about three years failed its batch, and replays).
func TestLogAddExp(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"0", "-800", 0},
		{"-800", "0", 0},
		{"1000", "0", 1000},
		{"0", "0", math.Ln2},
		{"'-Infinity'", "5", 5},
		{"5", "'-Infinity'", 5},
		{"2", "1", 2 + math.Log1p(math.Exp(-1))},
	} {
		got, err := callSQL[float64](t, pool, "trend_logaddexp", c.a, c.b)
		if err != nil {
			t.Errorf("trend_logaddexp(%s, %s): %v", c.a, c.b, err)
			continue
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("trend_logaddexp(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// trend_close is how a replay's check compares two attentions: equal to
// 1e-9 relative, both "no views" (ln 0) equal, and "no views" never close
// to some.
func TestClose(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"5", "5", true},
		{"5", "5.000000001", true},
		{"5", "5.1", false},
		{"'-Infinity'", "'-Infinity'", true},
		{"'-Infinity'", "5", false},
		{"5", "'-Infinity'", false},
		{"'-Infinity'", "-1e300", false},
	} {
		if got, err := callSQL[bool](t, pool, "trend_close", c.a, c.b); err != nil {
			t.Errorf("trend_close(%s, %s): %v", c.a, c.b, err)
		} else if got != c.want {
			t.Errorf("trend_close(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// callSQL returns fn(a, b) as PostgreSQL computes it (a and b are SQL).
func callSQL[T any](t *testing.T, pool *pgxpool.Pool, fn, a, b string) (T, error) {
	var got T
	err := pool.QueryRow(t.Context(), `SELECT `+fn+`(`+a+`, `+b+`)`).Scan(&got)
	return got, err
}

// MigrationsPending reads, and applies nothing: a database without this
// build's last migration says so, and still lacks it afterwards.
func TestMigrationsPending(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	if pending, err := postgres.MigrationsPending(ctx, pool); err != nil || pending {
		t.Fatalf("a migrated database: pending %t, %v; want none", pending, err)
	}
	var last int64
	if err := pool.QueryRow(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version) RETURNING version_id`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if pending, err := postgres.MigrationsPending(ctx, pool); err != nil || !pending {
		t.Fatalf("without migration %d: pending %t, %v; want it pending", last, pending, err)
	}
	var applied bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM goose_db_version WHERE version_id = $1)`, last).Scan(&applied); err != nil || applied {
		t.Errorf("migration %d applied by the look (%t, %v)", last, applied, err)
	}
}
