package messaging_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// The relay sends the rows of a bundled topic that it reads together as
// one bundle, in their order, and the others as they are.
func TestRelayBundlesTheRowsOfBundledTopics(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	url := testenv.BrokerURL(t)
	ctx := t.Context()
	topo := messaging.Topology{Commands: []string{"RecordViews", "RegisterMovie"}}
	if err := topo.Declare(ctx, url); err != nil {
		t.Fatal(err)
	}
	var viewCmds []uuid.UUID
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		out, err := messaging.NewOutbox(tx, nil)
		if err != nil {
			return err
		}
		for i := range 4 {
			if i == 2 {
				if err := out.SendCommand(ctx, uuid.NewString(), "corr", &commands.RegisterMovie{TMDBID: 550}); err != nil {
					return err
				}
			}
			cmd := &commands.RecordViews{CommandID: uuid.New(), Views: []commands.View{{ViewID: uuid.New(), TMDBID: 550}}}
			viewCmds = append(viewCmds, cmd.CommandID)
			if err := out.SendCommand(ctx, cmd.CommandID.String(), "corr", cmd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	relay.BundleTopics = []string{messaging.CommandTopic("RecordViews")}
	firstBatch := runRelay(t, relay)
	if n := firstBatch(); n != 5 {
		t.Errorf("forwarded %d rows in the first batch, want all 5", n)
	}

	get := func(queue string) []*message.Message {
		t.Helper()
		var got []*message.Message
		for _, d := range testenv.Drain(t, url, queue) {
			m, err := wamqp.DefaultMarshaler{}.Unmarshal(d)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		return got
	}
	register := get(messaging.CommandTopic("RegisterMovie"))
	if len(register) != 1 || register[0].Metadata.Get(messaging.BundleKey) != "" {
		t.Fatalf("RegisterMovie queue: %d messages, want 1 not bundled", len(register))
	}
	views := get(messaging.CommandTopic("RecordViews"))
	if len(views) != 1 {
		t.Fatalf("RecordViews queue: %d messages, want 1 bundle", len(views))
	}
	inner, err := messaging.Unbundle(views[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, m := range inner {
		cmd := new(commands.RecordViews)
		payload, err := messaging.DecodePayload(m.Metadata.Get(messaging.EncodingKey), m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(payload, cmd); err != nil {
			t.Fatal(err)
		}
		if m.UUID != cmd.CommandID.String() {
			t.Errorf("message %s carries command %s: want its own id kept", m.UUID, cmd.CommandID)
		}
		got = append(got, cmd.CommandID)
	}
	if !slices.Equal(got, viewCmds) {
		t.Errorf("bundle holds commands %v, want %v in outbox order", got, viewCmds)
	}
}

// A relay that could not make its offset row when it started (the
// database was not there) makes it once it can, and forwards.
func TestRelayMakesItsOffsetRowOnceItCan(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	// The table out of the relay's reach, as if the database were down.
	if _, err := pool.Exec(ctx, `ALTER TABLE watermill_offsets_outbox RENAME TO offsets_away`); err != nil {
		t.Fatal(err)
	}
	failed := &retryWatcher{want: "prepare the offset row", seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, url, slog.New(failed))
	firstBatch := runRelay(t, relay)
	// The relay's first session fails for want of the offset table, and it
	// says it will retry.
	failed.await(t, "the relay did not report a failed session (no offset table) in 30 s")
	if _, err := pool.Exec(ctx, `ALTER TABLE offsets_away RENAME TO watermill_offsets_outbox`); err != nil {
		t.Fatal(err)
	}
	sendRegisterMovie(t, pool)
	wantOneRegisterMovie(t, url, firstBatch)
}

// TestRelayStartsOverFromAnOffsetAheadOfTheDatabase: after a database is
// restored from a dump into another cluster, the offset and the rows
// restored with it hold transaction ids the new cluster has not given out
// yet; those rows, and the ones written after the restore, must still be
// forwarded, not skipped and pruned.
func TestRelayStartsOverFromAnOffsetAheadOfTheDatabase(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 7, (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8)
		ON CONFLICT (consumer_group) DO UPDATE SET offset_acked = excluded.offset_acked,
			last_processed_transaction_id = excluded.last_processed_transaction_id`, messaging.RelayConsumerGroup); err != nil {
		t.Fatal(err)
	}
	sendRegisterMovie(t, pool)
	// Restored with the offset: its transaction id is the other cluster's.
	if _, err := pool.Exec(ctx, `UPDATE watermill_outbox
		SET transaction_id = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 2000000)::text::xid8`); err != nil {
		t.Fatal(err)
	}
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	wantOneRegisterMovie(t, url, runRelay(t, relay))
}

// TestRelayOrdersRowsByTransactionIDNotItsText: rows whose transaction
// ids change length (99, then 100) are forwarded in the ids' order, every
// one of them. Sorted by the ids' text, a batch took "100" to "104"
// before "98" and "99", moved the offset to 104, and never sent those
// two.
func TestRelayOrdersRowsByTransactionIDNotItsText(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	for id := range int64(12) {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			out, err := messaging.NewOutbox(tx, nil)
			if err != nil {
				return err
			}
			return out.SendCommand(ctx, uuid.NewString(), "corr", &commands.RegisterMovie{TMDBID: 1 + id})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Ids far below any this cluster still runs (initdb alone uses more),
	// so every row is visible to the relay: movies 1 and 2 get 98 and 99,
	// movies 3 to 12 get 100 to 109.
	if _, err := pool.Exec(ctx, `UPDATE watermill_outbox o SET transaction_id = (97 + n.i)::text::xid8
		FROM (SELECT "offset", row_number() OVER (ORDER BY "offset") AS i FROM watermill_outbox) AS n
		WHERE o."offset" = n."offset"`); err != nil {
		t.Fatal(err)
	}
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	relay.Batch = 5
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- relay.Run(rctx) }()
	testenv.WaitFor(t, 30*time.Second, "the relay's offset at transaction 109", func() bool {
		var last string
		err := pool.QueryRow(ctx, `SELECT last_processed_transaction_id::text FROM watermill_offsets_outbox WHERE consumer_group = $1`,
			messaging.RelayConsumerGroup).Scan(&last)
		return err == nil && last == "109"
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, d := range testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")) {
		var cmd commands.RegisterMovie
		if err := json.Unmarshal(d.Body, &cmd); err != nil {
			t.Fatalf("%q: %v", d.Body, err)
		}
		got = append(got, cmd.TMDBID)
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(got, want) {
		t.Errorf("forwarded the movies %v, want %v", got, want)
	}
}

// TestRelayKeepsAMessageNoQueueTook: a message RabbitMQ routes to no
// queue (one deleted by hand, a broker that lost its definitions) comes
// back to the relay instead of being confirmed and dropped: the offset
// stays before it, and once a session declares the queues again, it
// arrives.
func TestRelayKeepsAMessageNoQueueTook(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	queue := messaging.CommandTopic("RegisterMovie")
	if _, err := testenv.Channel(t, url).QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	sendRegisterMovie(t, pool)
	returned := &retryWatcher{want: "RabbitMQ returned a message to " + queue, seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, url, slog.New(returned))
	var mayDeclare atomic.Bool
	relay.Declare = func(ctx context.Context, ch *amqp.Channel) error {
		if !mayDeclare.Load() {
			return nil
		}
		return messaging.Topology{Commands: []string{"RegisterMovie"}}.DeclareOn(ctx, ch)
	}
	firstBatch := runRelay(t, relay)
	returned.await(t, "the relay did not report the message RabbitMQ returned in 30 s")
	mayDeclare.Store(true)
	wantOneRegisterMovie(t, url, firstBatch)
}

// A round that cannot finish (here its offset row stays locked by another
// transaction; in the field, a confirm RabbitMQ never sends) ends after
// RoundTimeout, and the relay starts over and forwards once it can,
// instead of holding the outbox back for good.
func TestRelayRoundsAreBounded(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	sendRegisterMovie(t, pool)
	holder, _ := holdOffsetRow(t, pool)

	timedOut := &retryWatcher{want: "(RoundTimeout)", seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, url, slog.New(timedOut))
	relay.RoundTimeout = 300 * time.Millisecond
	firstBatch := runRelay(t, relay)
	timedOut.await(t, "the relay's round waited on the locked offset row for 30 s: want it ended after RoundTimeout and retried")
	// A round that ended leaves no backend behind, queued on the lock
	// until it comes free: pgx asks the server to cancel the statement of
	// a connection it gives up. At most the round in progress waits,
	// however many rounds timed out before it.
	for timedOut.count.Load() < 3 {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	var waiting int
	for range 40 {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting <= 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if waiting > 1 {
		t.Errorf("%d backends wait for the offset row's lock after %d rounds timed out: want at most the current round's", waiting, timedOut.count.Load())
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wantOneRegisterMovie(t, url, firstBatch)
}

// Rows that a transaction still open holds back (the relay reads only
// rows older than every running one) make the relay say so, naming that
// transaction, and are forwarded once it ends.
func TestRelaySaysWhatHoldsTheOutboxBack(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	// A transaction with an id, left open, older than the row below.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	var holderPID int32
	var xid string
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid(), pg_current_xact_id()::text`).Scan(&holderPID, &xid); err != nil {
		t.Fatal(err)
	}
	sendRegisterMovie(t, pool)

	heldBack := &retryWatcher{message: "relay: outbox rows wait behind a transaction still open",
		key: "oldest_transaction_pid", want: strconv.Itoa(int(holderPID)), seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, url, slog.New(heldBack))
	relay.HeldBackWarn = 200 * time.Millisecond
	firstBatch := runRelay(t, relay)
	heldBack.await(t, fmt.Sprintf("the relay forwarded nothing for 30 s while an open transaction (pid %d) held its row back, and did not name it", holderPID))
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wantOneRegisterMovie(t, url, firstBatch)
}

// registerMovieRelayEnv is a database and a virtual host with the
// RegisterMovie command's exchange and queue.
func registerMovieRelayEnv(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool := testenv.Pool(t)
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RegisterMovie"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	return pool, url
}

// holdOffsetRow makes the relay's offset row (as after its first session)
// and locks it in a transaction, rolled back at the end of the test; it
// returns the transaction and its backend's pid.
func holdOffsetRow(t *testing.T, pool *pgxpool.Pool) (pgx.Tx, int32) {
	t.Helper()
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, messaging.RelayConsumerGroup); err != nil {
		t.Fatal(err)
	}
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Rollback(context.Background()) })
	var pid int32
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid() FROM watermill_offsets_outbox FOR UPDATE`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return holder, pid
}

// sendRegisterMovie writes one RegisterMovie to the outbox.
func sendRegisterMovie(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	sendRegisterMovieAfter(t, pool, "")
}

// wantOneRegisterMovie fails t unless the relay's first batch forwarded
// one row and the RegisterMovie queue holds one message.
func wantOneRegisterMovie(t *testing.T, url string, firstBatch func() int) {
	t.Helper()
	if n := firstBatch(); n != 1 {
		t.Errorf("forwarded %d rows, want 1", n)
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) != 1 {
		t.Errorf("RegisterMovie queue: %d messages, want 1", len(got))
	}
}

// runRelay runs relay until the batch it forwards first, and returns a
// function that waits for that batch, stops the relay and returns the
// batch's rows (failing the test if none came within 30 s).
func runRelay(t *testing.T, relay *messaging.BatchRelay) (firstBatch func() int) {
	t.Helper()
	forwarded := make(chan int, 10)
	relay.OnForwarded = func(n int) { forwarded <- n }
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	return func() int {
		t.Helper()
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		select {
		case n := <-forwarded:
			return n
		case <-time.After(30 * time.Second):
			t.Fatal("the relay forwarded nothing in 30 s")
			return 0
		}
	}
}

// retryWatcher is a slog handler that closes seen at the first warning of the relay whose message
// begins with message (default "relay: will retry") and, if want is set,
// whose attribute key (default "error") says want.
type retryWatcher struct {
	message, key, want string
	seen               chan struct{}
	once               sync.Once
	count              atomic.Int64 // warnings that matched
}

// matches tells whether an attribute's value says what w wants: the
// whole value for an id, a part of it for an error.
func (w *retryWatcher) matches(v string) bool {
	if w.key != "" {
		return v == w.want
	}
	return strings.Contains(v, w.want)
}

// await fails t with failure unless the warning comes within 30 s.
func (w *retryWatcher) await(t *testing.T, failure string) {
	t.Helper()
	select {
	case <-w.seen:
	case <-time.After(30 * time.Second):
		t.Fatal(failure)
	}
}

func (*retryWatcher) Enabled(context.Context, slog.Level) bool { return true }
func (w *retryWatcher) WithAttrs([]slog.Attr) slog.Handler     { return w }
func (w *retryWatcher) WithGroup(string) slog.Handler          { return w }

func (w *retryWatcher) Handle(_ context.Context, r slog.Record) error {
	message := cmp.Or(w.message, "relay: will retry")
	if r.Level != slog.LevelWarn || !strings.HasPrefix(r.Message, message) {
		return nil
	}
	if w.want == "" {
		w.count.Add(1)
		w.once.Do(func() { close(w.seen) })
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == cmp.Or(w.key, "error") && w.matches(a.Value.String()) {
			w.count.Add(1)
			w.once.Do(func() { close(w.seen) })
			return false
		}
		return true
	})
	return nil
}

// A standby whose offset row stays held (another relay's long round, or a
// session whose machine died) keeps its RabbitMQ session: each round waits
// StandbyWait and asks again, with no "will retry"; after StandbyWarn it
// says who holds the row; and it forwards once the row is free.
func TestAStandbyRelayWaitsForAHeldOffsetRowAndSaysWhoHoldsIt(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	sendRegisterMovie(t, pool)
	holder, holderPID := holdOffsetRow(t, pool)
	var logs testenv.Buffer
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.NewTextHandler(&logs, nil)))
	relay.StandbyWait = 100 * time.Millisecond
	relay.StandbyWarn = 500 * time.Millisecond
	firstBatch := runRelay(t, relay)
	testenv.WaitFor(t, 30*time.Second, "a standby warning", func() bool { return strings.Contains(logs.String(), "relay: standing by") })
	if want := fmt.Sprintf("holder_pid=%d", holderPID); !strings.Contains(logs.String(), want) {
		t.Errorf("the warning does not name the holder (%s):\n%s", want, logs.String())
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := firstBatch(); n != 1 {
		t.Errorf("forwarded %d rows once the row was free, want 1", n)
	}
	if strings.Contains(logs.String(), "relay: will retry") {
		t.Errorf("the standby ended its session while the row was held:\n%s", logs.String())
	}
}

// The standby's bound applies to the offset row's lock alone: a round
// that has the row and then waits on another lock (here the outbox's, as
// under a VACUUM FULL or a migration) is no lost turn. It waits as the
// session would and ends at RoundTimeout, said as such, instead of being
// taken for a standby and warning about the offset row.
func TestTheStandbyBoundIsTheOffsetRowsAlone(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx := t.Context()
	sendRegisterMovie(t, pool)
	locker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(context.Background())
	if _, err := locker.Exec(ctx, `LOCK TABLE watermill_outbox IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.NewTextHandler(&logs, nil)))
	relay.StandbyWait = 100 * time.Millisecond
	relay.StandbyWarn = 300 * time.Millisecond
	relay.RoundTimeout = time.Second
	firstBatch := runRelay(t, relay)
	testenv.WaitFor(t, 30*time.Second, "a round ended at RoundTimeout", func() bool { return strings.Contains(logs.String(), "(RoundTimeout)") })
	if strings.Contains(logs.String(), "standing by") || strings.Contains(logs.String(), "lock timeout") {
		t.Errorf("a wait on the outbox's lock was taken for the offset row's, or cut at StandbyWait:\n%s", logs.String())
	}
	if err := locker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := firstBatch(); n != 1 {
		t.Errorf("forwarded %d rows once the outbox was free, want 1", n)
	}
}

// TestAStandbyRelayWaitsItsTurn: two relays on one outbox (two `trend
// relay` processes, for availability) forward every row once between
// them, and neither takes the other's turn for a failure: one that waited
// for the offset row's lock while the other moved the offset asks again,
// instead of ending its session and reconnecting with a warning.
func TestAStandbyRelayWaitsItsTurn(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	retried := &retryWatcher{seen: make(chan struct{})}
	var forwarded atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		relay := messaging.NewBatchRelay(pool, url, slog.New(retried))
		relay.Poll = 5 * time.Millisecond
		relay.OnForwarded = func(n int) { forwarded.Add(int64(n)) }
		wg.Go(func() {
			if err := relay.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	const rows = 300
	for range rows {
		sendRegisterMovie(t, pool)
	}
	deadline := time.Now().Add(30 * time.Second)
	for forwarded.Load() < rows && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if n := forwarded.Load(); n != rows {
		t.Errorf("the two relays forwarded %d rows, want %d", n, rows)
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) != rows {
		t.Errorf("RegisterMovie queue: %d messages, want %d", len(got), rows)
	}
	if n := retried.count.Load(); n != 0 {
		t.Errorf("the relays ended %d sessions with a warning while taking turns, want 0", n)
	}
}

// TestRelayFinishesTheRoundInHandWhenStopped: a stop that comes after a
// batch was published and before RabbitMQ confirmed it lets the round
// finish: the offset moves past the batch, so a restarted relay does not
// send it again.
func TestRelayFinishesTheRoundInHandWhenStopped(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	sendRegisterMovie(t, pool)
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	relay.BeforeConfirms(stop)
	var forwarded atomic.Int64
	relay.OnForwarded = func(n int) { forwarded.Add(int64(n)) }
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the relay did not stop within 30 s of the stop")
	}
	if n := forwarded.Load(); n != 1 {
		t.Errorf("forwarded %d rows before it stopped, want the 1 in hand", n)
	}
	// What a restarted relay would send again: the rows past the offset.
	var behind int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM watermill_outbox o, watermill_offsets_outbox f
		WHERE f.consumer_group = $1 AND (o.transaction_id, o."offset") > (f.last_processed_transaction_id, f.offset_acked)`,
		messaging.RelayConsumerGroup).Scan(&behind); err != nil {
		t.Fatal(err)
	}
	if behind != 0 {
		t.Errorf("%d outbox rows still past the relay's offset after the stop, want 0 (they would be sent again)", behind)
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) != 1 {
		t.Errorf("RegisterMovie queue: %d messages, want 1", len(got))
	}
}

// TestRelayDeadLettersARowThatIsNotAnEnvelope: an outbox row the relay
// cannot read goes to the dead letters as it is, saying why, and the row
// behind it is forwarded. It had been skipped, then pruned with the rest.
func TestRelayDeadLettersARowThatIsNotAnEnvelope(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	// In one transaction: the relay's first batch has both rows.
	sendRegisterMovieAfter(t, pool, `INSERT INTO watermill_outbox (uuid, payload, transaction_id)
		VALUES ('not-an-envelope', '{"views": 3}', pg_current_xact_id())`)
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	relay.Declare = messaging.Topology{Commands: []string{"RegisterMovie"}}.DeclareOn
	firstBatch := runRelay(t, relay)
	if n := firstBatch(); n != 2 {
		t.Errorf("forwarded %d rows, want 2 (the dead letter and the command)", n)
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) != 1 {
		t.Errorf("RegisterMovie queue: %d messages, want 1", len(got))
	}
	letters := testenv.Drain(t, url, messaging.DeadLetterTopic)
	if len(letters) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(letters))
	}
	if id, _ := letters[0].Headers["_watermill_message_uuid"].(string); !strings.HasPrefix(id, "outbox-") {
		t.Errorf("dead letter id %q, want one named after the row (outbox-<transaction>-<offset>), the same if sent again", id)
	}
	if string(letters[0].Body) != `{"views": 3}` {
		t.Errorf("dead letter body %q, want the row as it was", letters[0].Body)
	}
	if reason, _ := letters[0].Headers["reason_poisoned"].(string); !strings.Contains(reason, "not a message envelope") {
		t.Errorf("dead letter reason %q, want it to say the row is not a message envelope", reason)
	}
}

// TestRelayDeadLettersAMessageForAnUnknownExchange: a message for an
// exchange RabbitMQ does not have (a newer version's command) goes to the
// dead letters, named with its exchange so that it can be requeued, and
// the rows behind it are forwarded. Published, it had closed the channel
// at every try, and the outbox stopped at it. One for an exchange the
// relay does not declare but RabbitMQ has (a newer version declared it)
// is forwarded.
func TestRelayDeadLettersAMessageForAnUnknownExchange(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	if err := (messaging.Topology{Commands: []string{"Declared"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	sendRegisterMovieAfter(t, pool, `INSERT INTO watermill_outbox (uuid, payload, transaction_id) VALUES
		('later-1', '{"destination_topic":"commands.Later","uuid":"later-1","payload":"eyJ4IjoxfQ==","metadata":{"name":"Later"}}', pg_current_xact_id()),
		('declared-1', '{"destination_topic":"commands.Declared","uuid":"declared-1","payload":"eyJ4IjoxfQ==","metadata":{"name":"Declared"}}', pg_current_xact_id())`)
	relay := messaging.NewBatchRelay(pool, url, slog.New(slog.DiscardHandler))
	relay.Declare = messaging.Topology{Commands: []string{"RegisterMovie"}}.DeclareOn
	if n := runRelay(t, relay)(); n != 3 {
		t.Errorf("forwarded %d rows, want 3 (the dead letter and two commands)", n)
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) != 1 {
		t.Errorf("RegisterMovie queue: %d messages, want 1", len(got))
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("Declared")); len(got) != 1 {
		t.Errorf("the queue of an exchange RabbitMQ has, not in the relay's topology: %d messages, want 1", len(got))
	}
	letters := testenv.Drain(t, url, messaging.DeadLetterTopic)
	if len(letters) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(letters))
	}
	l := letters[0]
	if string(l.Body) != `{"x":1}` || l.Headers["name"] != "Later" || l.Headers["_watermill_message_uuid"] != "later-1" {
		t.Errorf("dead letter: body %q, headers %v; want the message as written", l.Body, l.Headers)
	}
	if topic := l.Headers["topic_poisoned"]; topic != "commands.Later" {
		t.Errorf("dead letter topic_poisoned %v, want commands.Later (so that it can be requeued)", topic)
	}
	if l.Timestamp.IsZero() {
		t.Error("dead letter without the time it was dead-lettered")
	}
}

// sendRegisterMovieAfter runs sql (if any), then writes one RegisterMovie
// to the outbox, in one transaction: the relay reads only rows older than
// every running transaction, so rows of two transactions may come in two
// batches when other tests hold one open between them.
func sendRegisterMovieAfter(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	ctx := t.Context()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if sql != "" {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		out, err := messaging.NewOutbox(tx, nil)
		if err != nil {
			return err
		}
		return out.SendCommand(ctx, uuid.NewString(), "corr", &commands.RegisterMovie{TMDBID: 550})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRelayStopsWithinItsGraceWhenRabbitMQStopsAnswering: a round whose
// confirms never come (RabbitMQ stopped sending, as under a resource
// alarm) is cut StopGrace after the stop, and the connection's close does
// not wait for an answer either: the relay returns, and says its batch
// will be sent again.
func TestRelayStopsWithinItsGraceWhenRabbitMQStopsAnswering(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	var stalled atomic.Bool
	u.Host = testenv.Proxy(t, u.Host, func(c, up net.Conn) {
		go func() { _, _ = io.Copy(up, c) }()
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			if stalled.Load() {
				continue // read, never passed on
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	warned := &retryWatcher{message: "relay: stopped before the batch in hand was confirmed", seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, u.String(), slog.New(warned))
	relay.StopGrace = 300 * time.Millisecond
	published := make(chan struct{}, 10)
	relay.BeforeConfirms(func() {
		if stalled.Load() {
			published <- struct{}{}
		}
	})
	forwarded := make(chan int, 10)
	relay.OnForwarded = func(n int) { forwarded <- n }
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	// A first batch through the proxy, answered.
	sendRegisterMovie(t, pool)
	select {
	case <-forwarded:
	case <-time.After(30 * time.Second):
		t.Fatal("the relay forwarded nothing in 30 s")
	}
	stalled.Store(true)
	sendRegisterMovie(t, pool)
	select {
	case <-published:
	case <-time.After(30 * time.Second):
		t.Fatal("the relay published nothing more in 30 s")
	}
	stop()
	if err := testenv.EndsWithin(t, 5*time.Second, "the relay, stopped with its confirms held back,", func() error { return <-done }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-warned.seen:
	default:
		t.Error("the relay did not say that its batch will be sent again")
	}
}

// A PostgreSQL that accepts connections and never answers does not hold a
// session's start (the offset row) for good: it ends at RoundTimeout,
// the relay tries again, and each try is a round (its heartbeat).
func TestRelaySessionsEndWhenPostgreSQLStopsAnswering(t *testing.T) {
	t.Parallel()
	relay := messaging.NewBatchRelay(testenv.SilentPool(t), "amqp://guest:guest@127.0.0.1:1/", slog.New(slog.DiscardHandler))
	relay.RoundTimeout = 100 * time.Millisecond
	rounds := testenv.NewRounds()
	relay.OnRound = rounds.Beat
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = relay.Run(ctx) }()
	rounds.Wait(t, 3, "the session waits on the silent server")
}

// A connection that drops while a batch waits for its confirms is
// reported as a lost connection, not as RabbitMQ's refusal (amqp091-go
// resolves the confirms still pending as not acknowledged), and the
// batch is sent again over a new one.
func TestRelaySaysALostConnectionIsNoRefusal(t *testing.T) {
	t.Parallel()
	pool, url := registerMovieRelayEnv(t)
	broker := testenv.NewStallingBroker(t, url)
	broker.StallAt(1, "") // the first publish's confirm is held back
	lost := &retryWatcher{want: "the connection to RabbitMQ closed before it confirmed the batch", seen: make(chan struct{})}
	refused := &retryWatcher{want: "nack", seen: make(chan struct{})}
	relay := messaging.NewBatchRelay(pool, broker.URL, slog.New(slog.NewMultiHandler(lost, refused)))
	var cut atomic.Bool
	relay.BeforeConfirms(func() {
		if cut.CompareAndSwap(false, true) {
			<-broker.Stalled()
			broker.Cut()
		}
	})
	sendRegisterMovie(t, pool)
	firstBatch := runRelay(t, relay)
	lost.await(t, "the relay did not say in 30 s that the connection closed before the confirms came")
	if n := firstBatch(); n != 1 {
		t.Errorf("forwarded %d rows, want 1", n)
	}
	if refused.count.Load() > 0 {
		t.Error("the relay reported the lost connection as RabbitMQ's refusal (nack)")
	}
	// At least once: the copy published before the cut is queued too.
	if got := testenv.Drain(t, url, messaging.CommandTopic("RegisterMovie")); len(got) < 1 {
		t.Errorf("RegisterMovie queue: %d messages, want the batch sent again", len(got))
	}
}
