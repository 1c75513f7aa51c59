package messaging_test

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// SendCommandIf writes the row SendCommand writes in a transaction (the
// same envelope and metadata), and writes nothing when its guard fails.
func TestSendCommandIfWritesWhatSendCommandWritesOnlyIfTheGuardHolds(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	type cmd struct{ N int }
	for _, c := range []struct {
		guard string
		want  bool
	}{{"$4::int > 1", true}, {"$4::int > 5", false}} {
		ok, err := messaging.SendCommandIf(ctx, pool, "guarded", "corr", &cmd{N: 7}, c.guard, 2)
		if err != nil || ok != c.want {
			t.Fatalf("guard %s: got %v, %v; want %v", c.guard, ok, err, c.want)
		}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		out, err := messaging.NewOutbox(tx, nil)
		if err != nil {
			return err
		}
		return out.SendCommand(ctx, "plain", "corr", &cmd{N: 7})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Both rows, the same but for the outer message's uuid.
	rows, err := pool.Query(ctx, `SELECT payload::jsonb - 'uuid', metadata::jsonb, payload->>'uuid' FROM watermill_outbox ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Envelope, Metadata map[string]any
		UUID               string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UUID != "guarded" || got[1].UUID != "plain" {
		t.Fatalf("outbox rows %+v, want the guarded command, then the plain one", got)
	}
	for _, key := range []string{"destination_topic", "payload", "metadata"} {
		if a, b := got[0].Envelope[key], got[1].Envelope[key]; !reflect.DeepEqual(a, b) {
			t.Errorf("envelope %s: guarded %v, plain %v", key, a, b)
		}
	}
	if !reflect.DeepEqual(got[0].Metadata, got[1].Metadata) {
		t.Errorf("row metadata: guarded %v, plain %v", got[0].Metadata, got[1].Metadata)
	}
}
