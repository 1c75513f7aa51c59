package messaging_test

import (
	"testing"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// Backlog counts the outbox rows past the relay's offset, and every row
// before the relay's first session made its offset row.
func TestBacklogCountsTheRowsPastTheRelaysOffset(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	backlog := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM (`+messaging.Backlog+`) AS b`, messaging.RelayConsumerGroup).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Rows of three transactions, three in each (the primary key is the
	// transaction, then the offset).
	for tx := range 3 {
		if _, err := pool.Exec(ctx, `INSERT INTO watermill_outbox ("offset", uuid, payload, metadata, transaction_id)
			SELECT g, 'u' || g, '{}', '{}', $1::bigint::text::xid8 FROM generate_series($2::bigint, $2::bigint + 2) AS g`, 1000+tx, 3*tx+1); err != nil {
			t.Fatal(err)
		}
	}
	if n := backlog(); n != 9 {
		t.Errorf("no offset row yet: backlog %d, want every row, 9", n)
	}
	// Acknowledged up to the second row of the middle transaction.
	if _, err := pool.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id) VALUES ($1, 5, '1001')`, messaging.RelayConsumerGroup); err != nil {
		t.Fatal(err)
	}
	if n := backlog(); n != 4 {
		t.Errorf("offset (1001, 5): backlog %d, want 4 (offset 6, and the last transaction's 3)", n)
	}
	// Another consumer group's offset is not the relay's.
	if _, err := pool.Exec(ctx, `UPDATE watermill_offsets_outbox SET consumer_group = 'other'`); err != nil {
		t.Fatal(err)
	}
	if n := backlog(); n != 9 {
		t.Errorf("only another group's offset: backlog %d, want 9", n)
	}
}
