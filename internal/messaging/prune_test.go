package messaging_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// Prune deletes only rows the relay has forwarded (at or before its
// offset) and that are older than the retention.
func TestPruneDeletesOnlyForwardedOldRows(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	type row struct {
		name   string
		tx     string
		offset int64
	}
	var rows []row
	// Three transactions of two rows each; "new" rows were written now.
	for _, names := range [][2]string{{"a1", "a2"}, {"b1", "b2-new"}, {"c1", "c2"}} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, name := range names {
				age := "2 hours"
				if name == "b2-new" {
					age = "0 seconds"
				}
				r := row{name: name}
				if err := tx.QueryRow(ctx, `INSERT INTO watermill_outbox (uuid, payload, metadata, transaction_id, created_at)
					VALUES ($1, '{}', '{}', pg_current_xact_id(), LOCALTIMESTAMP - $2::interval)
					RETURNING transaction_id::text, "offset"`, name, age).Scan(&r.tx, &r.offset); err != nil {
					return err
				}
				rows = append(rows, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The relay has forwarded everything up to b2-new.
	if _, err := pool.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, $2, $3::text::xid8)`, messaging.RelayConsumerGroup, rows[3].offset, rows[3].tx); err != nil {
		t.Fatal(err)
	}
	r := messaging.NewBatchRelay(pool, "amqp://unused", nil)
	r.Retention = time.Hour
	n, err := r.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d rows, want 3 (a1, a2, b1)", n)
	}
	if got, want := left(t, ctx, pool), []string{"b2-new", "c1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v: forwarded but new, and not forwarded", got, want)
	}
	// Nothing more to prune: a second run deletes nothing.
	if n, err := r.Prune(ctx); err != nil || n != 0 {
		t.Errorf("second prune: %d rows, %v; want 0", n, err)
	}
}

func left(t *testing.T, ctx context.Context, pool *pgxpool.Pool) []string {
	t.Helper()
	rs, err := pool.Query(ctx, `SELECT uuid FROM watermill_outbox ORDER BY transaction_id, "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}
