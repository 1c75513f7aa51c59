package registry

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/testenv"
)

// register registers ids and gives the given ones the status.
func register(t *testing.T, pool *pgxpool.Pool, status string, ids ...int64) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for _, id := range ids {
		if _, err := Register(ctx, pool, id, now); err != nil {
			t.Fatal(err)
		}
		if status != StatusPending {
			if _, err := SetStatus(ctx, pool, id, status, now); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// allTracked asks AllTracked's question about ids, as the intake's guarded
// INSERT does (the ids are its fourth parameter).
func allTracked(t *testing.T, pool *pgxpool.Pool, ids []int64) bool {
	t.Helper()
	var ok bool
	err := pool.QueryRow(context.Background(),
		`SELECT $1::int IS NOT NULL AND $2::int IS NOT NULL AND $3::int IS NOT NULL AND `+AllTracked,
		1, 2, 3, ids).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestTrackedIsRegisteredAndNotRemoved(t *testing.T) {
	pool := testenv.Pool(t)
	register(t, pool, StatusPending, 1)
	register(t, pool, StatusActive, 2)
	register(t, pool, StatusRemoved, 3)

	got, err := Tracked(context.Background(), pool, []int64{1, 2, 3, 4, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[1] || !got[2] {
		t.Fatalf("Tracked = %v, want 1 (pending) and 2 (active): not 3 (removed) or 4 (unknown)", got)
	}
	for _, c := range []struct {
		ids  []int64
		want bool
	}{
		{[]int64{1, 2}, true},
		{[]int64{2}, true},
		{[]int64{1, 3}, false},
		{[]int64{2, 4}, false},
		{[]int64{4}, false},
		{[]int64{}, true},
	} {
		if got := allTracked(t, pool, c.ids); got != c.want {
			t.Errorf("AllTracked(%v) = %v, want %v", c.ids, got, c.want)
		}
	}
}

// The lookups must use the primary key whatever PostgreSQL knows of the
// table: with `tmdb_id = ANY($1)`, the generic plan it caches for a
// prepared statement before the table has statistics scanned every
// registration and compared it with every id.
func TestTrackedLooksUpThePrimaryKey(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	// A table of some size without statistics: nothing analyzed it yet.
	if _, err := pool.Exec(ctx, `INSERT INTO movies (tmdb_id, status, registered_at, updated_at)
		SELECT i, 'active', now(), now() FROM generate_series(1, 2000) AS i`); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for name, query := range map[string]string{
		"Tracked":    trackedAmong("$1"),
		"AllTracked": `SELECT ` + strings.ReplaceAll(AllTracked, "$4", "$1"),
	} {
		if _, err := conn.Exec(ctx, `PREPARE q (bigint[]) AS `+query); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []byte
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE q('{1,500,1500}')`).Scan(&plan); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.Exec(ctx, `DEALLOCATE q`); err != nil {
			t.Fatal(err)
		}
		scans := scansOf(t, plan)
		if !slices.Contains(scans, "Index Scan movies") || slices.Contains(scans, "Seq Scan movies") {
			t.Errorf("%s: the generic plan's scans are %v, want the primary key's index and no sequential scan of movies", name, scans)
		}
	}
}

// scansOf lists a JSON plan's scans as "<node type> <relation>".
func scansOf(t *testing.T, plan []byte) []string {
	t.Helper()
	var doc []struct{ Plan node }
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("plan %s: %v", plan, err)
	}
	var scans []string
	var walk func(n node)
	walk = func(n node) {
		if n.Relation != "" {
			scans = append(scans, n.Type+" "+n.Relation)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(doc[0].Plan)
	return scans
}

type node struct {
	Type     string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	Plans    []node `json:"Plans"`
}

// Two fetches of one movie may end in the other order: the one asked
// later (its time is what facts_fetched_at records) stays, and updated_at
// does not go back either.
func TestSetStatusNeverGoesBackInTime(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	if _, err := Register(ctx, pool, 27205, t0); err != nil {
		t.Fatal(err)
	}
	later, earlier := t0.Add(2*time.Second), t0.Add(time.Second)
	for _, at := range []time.Time{later, earlier} {
		if _, err := SetStatus(ctx, pool, 27205, StatusActive, at); err != nil {
			t.Fatal(err)
		}
	}
	var fetched, updated time.Time
	if err := pool.QueryRow(ctx, `SELECT facts_fetched_at, updated_at FROM movies WHERE tmdb_id = 27205`).Scan(&fetched, &updated); err != nil {
		t.Fatal(err)
	}
	if !fetched.Equal(later) || !updated.Equal(later) {
		t.Errorf("facts_fetched_at %v, updated_at %v; want both %v, the later fetch's", fetched, updated, later)
	}
}
