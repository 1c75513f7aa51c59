package messaging_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// A batch of views alone goes to the views exchange; a batch with any
// other event, or none, to the events exchange.
func TestEventBatchesOfViewsAloneGoToTheViewsExchange(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	view := events.Envelope{Type: events.TypeViewRecorded, Version: 1, Data: []byte(`{}`)}
	other := events.Envelope{Type: events.TypeMovieRegistered, Version: 1, Data: []byte(`{}`)}
	batches := []struct {
		batch *events.Batch
		want  string
	}{
		{&events.Batch{Events: []events.Envelope{view, view}}, messaging.ViewsTopic},
		{&events.Batch{Events: []events.Envelope{view, other, view}}, messaging.EventsTopic},
		{&events.Batch{Events: []events.Envelope{other}}, messaging.EventsTopic},
		{&events.Batch{}, messaging.EventsTopic},
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		out, err := messaging.NewOutbox(tx, nil)
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := out.PublishEvent(ctx, "corr", b.batch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT payload->>'destination_topic' FROM watermill_outbox ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batches) {
		t.Fatalf("%d outbox rows, want %d", len(got), len(batches))
	}
	for i, b := range batches {
		if got[i] != b.want {
			t.Errorf("batch %d (types %v) went to %q, want %q", i, b.batch.Types(), got[i], b.want)
		}
	}
}

// The queues of groups that act on views get both exchanges' messages;
// the others only those of the events exchange.
func TestOnlyViewGroupsQueuesAreBoundToTheViewsExchange(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	topo := messaging.Topology{EventGroups: []string{"counts", "facts"}, ViewGroups: []string{"counts"}}
	want := []string{messaging.EventQueue("counts"), messaging.EventQueue("facts"), messaging.DeadLetterTopic}
	if got := topo.Queues(); !slices.Equal(got, want) {
		t.Errorf("queues %v, want each once: %v", got, want)
	}
	if err := topo.Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, exchange := range []string{messaging.ViewsTopic, messaging.EventsTopic, messaging.ViewsTopic} {
		c, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), exchange, "", false, false, amqp.Publishing{Body: []byte(exchange)})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.WaitContext(t.Context()); err != nil || !ok {
			t.Fatalf("publish to %s: confirmed %v, %v", exchange, ok, err)
		}
	}
	for queue, want := range map[string]int{messaging.EventQueue("counts"): 3, messaging.EventQueue("facts"): 1} {
		var got int
		// Confirmed messages are routed, but count them until they settle.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if got, err = testenv.QueueDepth(url, queue); err != nil {
				t.Fatal(err)
			}
			if got == want || time.Now().After(deadline) {
				break
			}
		}
		if got != want {
			t.Errorf("queue %s holds %d messages, want %d", queue, got, want)
		}
	}
}
