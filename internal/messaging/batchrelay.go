package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	// Every row is decoded: segmentio's decoder reads the envelope's
	// base64 payload in a fraction of encoding/json's time (it was about
	// 2% of trend all's CPU under the views load).
	json "github.com/segmentio/encoding/json"
)

// BatchRelay forwards the outbox to RabbitMQ a batch at a time: it reads up
// to Batch rows, publishes them all with pipelined publisher confirms, and
// moves its offset in the outbox only after RabbitMQ confirmed every one,
// in the transaction that locked the offset row. Waiting for each confirm
// in turn (what watermill's forwarder does) caps a relay at a few hundred
// messages a second here; pipelining them is what the broker can take.
// A crash before the offset moves re-sends the batch: consumers are
// idempotent. One relay forwards at a time (the offset row's lock); others
// wait and take over.
//
// It reads the rows watermill-sql's publisher wrote (its default
// PostgreSQL schema and offsets layout, consumer group "relay", the same
// as the forwarder) and publishes them as watermill-amqp would, so either
// relay can follow the other; but the rows of BundleTopics that one batch
// holds travel together as one message (see Bundle), which only our
// BatchedHandlers read.
type BatchRelay struct {
	pool    *pgxpool.Pool
	amqpURL string
	log     *slog.Logger
	// Batch bounds the rows of one transaction; Poll is the wait when the
	// outbox is empty.
	Batch int
	Poll  time.Duration
	// OnForwarded, if set, is told how many messages each batch forwarded
	// once RabbitMQ confirmed them all.
	OnForwarded func(n int)
	// Retention is how long forwarded rows stay in the outbox before the
	// relay deletes them (about every PruneEvery); 0 keeps them.
	Retention  time.Duration
	PruneEvery time.Duration
	// BundleTopics are the topics whose rows of one batch travel in
	// bundles (see BundleKey) of up to bundleMessages messages and about
	// bundleBytes of payload: their consumers must be BatchedHandlers.
	BundleTopics []string
	// RoundTimeout bounds the database's and the confirms' part of one
	// batch: reading it, waiting for RabbitMQ's confirms and moving the
	// offset. A confirm that never comes then ends the session, which
	// reconnects and sends the batch again, instead of holding up the
	// outbox for good. A publish RabbitMQ holds back (flow control, a
	// resource alarm: it stops reading the connection) is not cut short:
	// amqp091-go does not interrupt a write in progress, and the relay
	// goes on once RabbitMQ reads again.
	RoundTimeout time.Duration
	// HeldBackWarn is how long the relay may find nothing to forward while
	// rows wait behind its offset before it warns (about once per
	// HeldBackWarn) and names the oldest open transaction: it reads only
	// rows older than every running transaction, so one left open holds
	// the whole outbox back, silently otherwise. 0 never checks.
	HeldBackWarn time.Duration
	// StandbyWait bounds one round's wait for the offset row's lock (0:
	// RoundTimeout alone). A standby relay waits on that lock while
	// another forwards; past it, the round ends as a lost turn and asks
	// again at once, over the same RabbitMQ session. Without it, a round
	// the holder kept for RoundTimeout (slow confirms, or a dead machine
	// whose session the server has not ended yet) ended the standby's
	// session with a warning, and it reconnected to RabbitMQ every minute.
	StandbyWait time.Duration
	// StandbyWarn is how long a standby may find the offset row held
	// without a break before it warns (about once per StandbyWarn),
	// naming the holder's backend: one relay's round, or a session whose
	// machine died, holds the whole outbox back meanwhile. 0 never warns.
	StandbyWarn time.Duration
	// OnRound, if set, is called after every round of the forwarding loop,
	// whether it forwarded, found nothing or failed (a liveness heartbeat:
	// a relay retrying a lost broker is alive; a stuck one stops calling).
	OnRound func()
	// Declare, if set, declares the exchanges and queues on the session's
	// channel at the start of every session: a broker that lost its
	// definitions (reset, a queue deleted by hand) gets them back when the
	// relay reconnects, which it does when RabbitMQ returns a message no
	// queue took.
	Declare func(ctx context.Context, ch *amqp.Channel) error
	// StopGrace is how long a round in hand may go on after the relay is
	// told to stop.
	StopGrace time.Duration

	beforeConfirms func() // for tests: the batch is published, not yet confirmed
}

// NewBatchRelay returns a relay with a batch of 500, a poll of 50ms, a
// round timeout of a minute, a standby's wait of 10 s (a warning after a
// minute of it), a stop grace of 5 s, and forwarded rows kept for an
// hour, pruned every minute.
func NewBatchRelay(pool *pgxpool.Pool, amqpURL string, log *slog.Logger) *BatchRelay {
	return &BatchRelay{pool: pool, amqpURL: amqpURL, log: log, Batch: 500, Poll: 50 * time.Millisecond,
		RoundTimeout: time.Minute, HeldBackWarn: 30 * time.Second, Retention: time.Hour, PruneEvery: time.Minute,
		StandbyWait: 10 * time.Second, StandbyWarn: time.Minute, StopGrace: 5 * time.Second}
}

// Run forwards until ctx ends; it reconnects to RabbitMQ and retries
// PostgreSQL by itself.
func (r *BatchRelay) Run(ctx context.Context) error {
	const firstDelay = 250 * time.Millisecond
	delay := firstDelay
	for ctx.Err() == nil {
		r.round()
		began := time.Now()
		err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		// A session that ran a while was a working one: its end is a new
		// failure, retried soon, not the next step of an old one's backoff.
		if time.Since(began) > time.Minute {
			delay = firstDelay
		}
		r.log.Warn("relay: will retry", "error", err, "in", delay.String())
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
	return nil
}

// roundContext is ctx bounded by RoundTimeout, when set: the bound of
// the relay's own database work outside a round (the offset row, a
// prune) as of a round's.
func (r *BatchRelay) roundContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.RoundTimeout > 0 {
		return context.WithTimeout(ctx, r.RoundTimeout)
	}
	return context.WithCancel(ctx)
}

// session forwards over one broker connection until an error.
func (r *BatchRelay) session(ctx context.Context) error {
	// The offset row, made by the first relay ever to run on the
	// database. Made in every session, so that one that failed (the
	// database down when the relay started) is made once it is back:
	// without the row, no batch could move the offset.
	// Bounded as a round is: a PostgreSQL that stops answering without
	// closing the connection held it until TCP gave up (some 15 minutes),
	// with no heartbeat meanwhile.
	octx, cancel := r.roundContext(ctx)
	_, err := r.pool.Exec(octx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, RelayConsumerGroup)
	cancel()
	if err != nil {
		return fmt.Errorf("prepare the offset row: %w", err)
	}
	conn, err := Dial(ctx, r.amqpURL, "trend relay", DialTimeout)
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	// Bounded: a broker that stopped reading (a resource alarm) would
	// hold a plain Close's handshake.
	defer CloseWithin(conn, time.Second)
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	if r.Declare != nil {
		if err := r.Declare(ctx, ch); err != nil {
			return fmt.Errorf("declare the exchanges and queues: %w", err)
		}
	}
	// Messages are published mandatory: one that no queue takes comes back
	// here (before its confirm, which RabbitMQ sends all the same), and the
	// offset must not move past it. The buffer holds a whole round, as
	// amqp091-go blocks its reader on a full one.
	returned := ch.NotifyReturn(make(chan amqp.Return, max(r.Batch, 1)))
	r.log.Info("relay forwarding the outbox to RabbitMQ", "batch", r.Batch)
	// A message for an exchange RabbitMQ does not have (a newer version's)
	// goes to the dead letters, from which it can be requeued once the
	// exchange exists: published, it would close the channel, and the
	// relay would stop at that row for good, holding back every message
	// behind it.
	exchanges := NewExchangeChecker(conn)
	var pruned, idleSince, checked, heldSince, heldWarned time.Time
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := r.forward(ctx, conn, ch, returned, exchanges)
		r.round()
		if err != nil && ctx.Err() != nil {
			r.log.Warn("relay: stopped before the batch in hand was confirmed; it will be sent again (consumers skip what they handled)", "error", err)
		}
		// Another relay moved the offset while this one waited for the
		// row's lock: it is that relay's turn. Not a failure: this one
		// asks again at once, which waits on the lock again, so it takes
		// over as soon as the other stops.
		standby := lostTurn(err)
		// The row stayed held for all of StandbyWait: a lost turn too,
		// but one the holder has not ended yet.
		held := errors.Is(err, errOffsetRowHeld)
		switch {
		case !held:
			heldSince = time.Time{}
		case heldSince.IsZero():
			heldSince = time.Now().Add(-r.StandbyWait) // held since the wait began
		case r.StandbyWarn > 0 && time.Since(heldSince) >= r.StandbyWarn && time.Since(heldWarned) >= r.StandbyWarn:
			heldWarned = time.Now()
			r.warnHeld(ctx, time.Since(heldSince))
		}
		standby = standby || held
		if err != nil && !standby {
			return err
		}
		switch {
		case n > 0 || standby:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case r.HeldBackWarn > 0 && time.Since(idleSince) >= r.HeldBackWarn && time.Since(checked) >= r.HeldBackWarn:
			checked = time.Now()
			r.warnIfHeldBack(ctx)
		}
		if n > 0 && r.OnForwarded != nil {
			r.OnForwarded(n)
		}
		if r.Retention > 0 && time.Since(pruned) >= r.PruneEvery {
			pruned = time.Now()
			pctx, cancel := r.roundContext(ctx)
			deleted, err := r.Prune(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				r.log.Warn("relay: prune the outbox", "error", err)
			} else if deleted > 0 {
				r.log.Debug("relay: pruned the outbox", "rows", deleted)
			}
		}
		if n == 0 && !standby {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.Poll):
			}
		}
	}
}

// errOffsetRowHeld marks a round whose wait for the offset row's lock
// outlasted StandbyWait: another session held it all along.
var errOffsetRowHeld = errors.New("the offset row stayed locked by another session")

// lostTurn tells whether err is the serialization failure of a round
// that waited for the offset row's lock while another relay held it and
// moved the offset: in repeatable read, PostgreSQL ends such a
// transaction instead of letting it read the row it no longer sees.
func lostTurn(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}

func (r *BatchRelay) round() {
	if r.OnRound != nil {
		r.OnRound()
	}
}

// envelope is the forwarder's wrapping of a message in the outbox.
type envelope struct {
	DestinationTopic string            `json:"destination_topic"`
	UUID             string            `json:"uuid"`
	Payload          []byte            `json:"payload"`
	Metadata         map[string]string `json:"metadata"`
}

var publishMarshaler = wamqp.DefaultMarshaler{}

// notAnEnvelope is the dead letter of an outbox row the relay cannot
// read: the row as it is, with why in the poison headers the worker's
// letters carry. It names no topic, so it cannot be requeued, only seen
// and purged.
func notAnEnvelope(row []byte, txid string, offset int64, err error) *message.Message {
	// Named after the row, so that a batch sent again gives the same id.
	msg := message.NewMessage(fmt.Sprintf("outbox-%s-%d", txid, offset), row)
	poison(msg, fmt.Sprintf("outbox row (transaction %s, offset %d) is not a message envelope: %v", txid, offset, err))
	return msg
}

// poison marks msg as a dead letter of the relay's, for reason.
func poison(msg *message.Message, reason string) {
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, reason)
	msg.Metadata.Set(middleware.PoisonedHandlerKey, "relay")
}

// forward sends one batch and returns how many messages it forwarded.
// A stop (ctx) lets a round in hand finish, for up to StopGrace: its
// messages may be published already, and a round cut short before it
// moved the offset would have them sent again after a restart. Past the
// grace, the connection is cut too: a publish RabbitMQ holds back (a
// resource alarm) does not end with its context.
func (r *BatchRelay) forward(stop context.Context, conn *amqp.Connection, ch *amqp.Channel, returned <-chan amqp.Return, exchanges *ExchangeChecker) (n int, err error) {
	round, cancel := context.WithCancel(context.WithoutCancel(stop))
	defer cancel()
	defer context.AfterFunc(stop, func() {
		cut := time.AfterFunc(r.StopGrace, func() {
			cancel()
			Drop(conn)
		})
		context.AfterFunc(round, func() { cut.Stop() }) // the round ended first
	})()
	ctx := round
	if r.RoundTimeout > 0 {
		parent := ctx
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.RoundTimeout)
		defer cancel()
		defer func() {
			// Say why the round ended: pgx reports only a timeout.
			if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("the round took over %s (RoundTimeout): %w", r.RoundTimeout, err)
			}
		}()
	}
	// Repeatable read, as watermill-sql's subscriber: one snapshot for the
	// offset and the rows.
	err = pgx.BeginTxFunc(ctx, r.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var offset int64
		var txid string
		var ahead bool
		// One round trip: the bound on the lock's wait (StandbyWait; 0 is
		// none), the lock, and the session's own lock_timeout back for the
		// rest of the round (the outbox's read waits on a table lock as
		// long as it did).
		b := &pgx.Batch{}
		b.Queue(`SELECT set_config('trend.lock_timeout', current_setting('lock_timeout'), true),
			set_config('lock_timeout', $1, true)`, strconv.FormatInt(r.StandbyWait.Milliseconds(), 10))
		b.Queue(`SELECT offset_acked, last_processed_transaction_id::text,
				last_processed_transaction_id >= pg_snapshot_xmax(pg_current_snapshot())
			FROM watermill_offsets_outbox WHERE consumer_group = $1 FOR UPDATE`, RelayConsumerGroup)
		b.Queue(`SELECT set_config('lock_timeout', current_setting('trend.lock_timeout'), true)`)
		br := tx.SendBatch(ctx, b)
		_, err := br.Exec()
		if err == nil {
			if err = br.QueryRow().Scan(&offset, &txid, &ahead); LockTimeout(err) {
				err = fmt.Errorf("%w: %w", errOffsetRowHeld, err)
			}
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("lock the relay offset: %w", err)
		}
		if ahead {
			// A transaction id this cluster has not given out yet: the
			// offset came from another cluster (a dump restored, a logical
			// replica promoted), whose ids ran higher. Every new row would
			// sort behind it, never be forwarded, and be pruned. Forwarding
			// starts over instead; consumers skip what they handled.
			if _, err := tx.Exec(ctx, `UPDATE watermill_offsets_outbox SET offset_acked = 0, last_processed_transaction_id = '0'
				WHERE consumer_group = $1`, RelayConsumerGroup); err != nil {
				return fmt.Errorf("reset the relay offset: %w", err)
			}
			// The rows restored with it carry the other cluster's ids too:
			// never older than a running transaction, they would never be
			// forwarded (nor pruned). They take this transaction's id.
			tag, err := tx.Exec(ctx, `UPDATE watermill_outbox SET transaction_id = pg_current_xact_id()
				WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())`)
			if err != nil {
				return fmt.Errorf("renumber the restored outbox rows: %w", err)
			}
			r.log.Error("relay: the outbox offset is ahead of this database's transaction ids (restored from another cluster?): forwarding from the start of the outbox",
				"offset_transaction_id", txid, "restored_rows_renumbered", tag.RowsAffected())
			offset, txid = 0, "0"
		}
		// Only transactions older than every running one: a row that
		// commits late can never appear behind the offset.
		// The sort names the table's columns: a bare transaction_id meant
		// the text output column, whose order differs from xid8's where
		// ids change length ("1000" < "999"), and a batch read across such
		// a change moved the offset past rows it never sent, lost for
		// good. The row comparison reads the primary key from the offset
		// on, where an OR read the whole backlog every round.
		rows, err := tx.Query(ctx, `SELECT o."offset", o.transaction_id::text AS txid, o.payload FROM watermill_outbox o
			WHERE (o.transaction_id, o."offset") > ($1::text::xid8, $2)
			  AND o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
			ORDER BY o.transaction_id, o."offset" LIMIT $3`, txid, offset, r.Batch)
		if err != nil {
			return fmt.Errorf("read the outbox: %w", err)
		}
		var msgs []outgoing
		lastOffset, lastTx := offset, txid
		for rows.Next() {
			var payload []byte
			if err := rows.Scan(&lastOffset, &lastTx, &payload); err != nil {
				rows.Close()
				return err
			}
			var env envelope
			if err := json.Unmarshal(payload, &env); err != nil || env.DestinationTopic == "" {
				// Nothing can fix a row that is not an envelope, and it must
				// not hold up the rows behind it: it goes to the dead letters
				// as it is, where an operator sees it (pruning would lose it).
				if err == nil {
					err = errors.New("no destination_topic")
				}
				r.log.Error("relay: outbox row is not a message envelope; sent to the dead letters", "transaction_id", lastTx, "offset", lastOffset, "error", err)
				msgs = append(msgs, outgoing{DeadLetterTopic, notAnEnvelope(payload, lastTx, lastOffset, err)})
				continue
			}
			msg := message.NewMessage(env.UUID, env.Payload)
			for k, v := range env.Metadata {
				msg.Metadata.Set(k, v)
			}
			topic := env.DestinationTopic
			ok, err := exchanges.Exists(topic)
			if err != nil {
				rows.Close()
				return err
			}
			if !ok {
				r.log.Error("relay: outbox message for an exchange RabbitMQ does not have; sent to the dead letters",
					"exchange", topic, "message_uuid", env.UUID)
				poison(msg, fmt.Sprintf("no exchange %s on RabbitMQ (a newer version's message?): requeue it once the exchange exists", topic))
				msg.Metadata.Set(middleware.PoisonedTopicKey, topic)
				topic = DeadLetterTopic
			}
			msgs = append(msgs, outgoing{topic, msg})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		out, err := r.bundle(msgs)
		if err != nil {
			return err
		}
		confirms := make([]*amqp.DeferredConfirmation, 0, len(out))
		for _, o := range out {
			marshaler := publishMarshaler
			if o.topic == DeadLetterTopic {
				marshaler = deadLetterMarshaler // stamped with the time, as the worker's
			}
			pub, err := marshaler.Marshal(o.msg)
			if err != nil {
				return err
			}
			c, err := ch.PublishWithDeferredConfirmWithContext(ctx, o.topic, "", true, false, pub)
			if err != nil {
				return fmt.Errorf("publish to %s: %w", o.topic, err)
			}
			confirms = append(confirms, c)
		}
		if r.beforeConfirms != nil && len(confirms) > 0 {
			r.beforeConfirms()
		}
		if lastOffset == offset && lastTx == txid {
			return nil
		}
		for _, c := range confirms {
			ok, err := c.WaitContext(ctx)
			if err != nil {
				return fmt.Errorf("wait for RabbitMQ's confirm: %w", err)
			}
			if !ok {
				// amqp091-go resolves the confirms still pending as not
				// acknowledged when the channel closes: a restart of
				// RabbitMQ is no refusal, and should not read as one.
				if ch.IsClosed() {
					return errors.New("the connection to RabbitMQ closed before it confirmed the batch: the batch will be sent again")
				}
				return errors.New("RabbitMQ refused a message (nack): the batch will be sent again")
			}
		}
		// Every return came before its message's confirm, so all are here.
		select {
		case ret := <-returned:
			return fmt.Errorf("RabbitMQ returned a message to %s: %s (no queue is bound to it); the batch will be sent again once the queues are declared", ret.Exchange, ret.ReplyText)
		default:
		}
		if _, err := tx.Exec(ctx, `UPDATE watermill_offsets_outbox SET offset_acked = $2, last_processed_transaction_id = $3::text::xid8
			WHERE consumer_group = $1`, RelayConsumerGroup, lastOffset, lastTx); err != nil {
			return fmt.Errorf("move the relay offset: %w", err)
		}
		n = len(msgs)
		return nil
	})
	return n, err
}

// A bundle ends at this many messages or once its payloads reach this
// many bytes, so that one delivery stays a modest share of a worker's
// transaction and of RabbitMQ's memory: a RecordViews of 1,000 views (the
// most a request may send) is about 30 KB compressed.
const (
	bundleMessages = 100
	bundleBytes    = 256 << 10
)

// outgoing is a message and the exchange it goes to.
type outgoing struct {
	topic string
	msg   *message.Message
}

// bundle returns what to publish for msgs, in their order but with the
// messages of each of BundleTopics gathered into bundles where the first
// of them stood. Order across topics does not matter: each topic is
// consumed on its own.
func (r *BatchRelay) bundle(msgs []outgoing) ([]outgoing, error) {
	type group struct {
		topic string
		msgs  []*message.Message
		bytes int
	}
	var groups []*group
	open := map[string]*group{} // a bundled topic's group still taking messages
	for _, m := range msgs {
		g := open[m.topic]
		if g == nil || len(g.msgs) >= bundleMessages || g.bytes >= bundleBytes {
			g = &group{topic: m.topic}
			groups = append(groups, g)
			if slices.Contains(r.BundleTopics, m.topic) {
				open[m.topic] = g
			}
		}
		g.msgs = append(g.msgs, m.msg)
		g.bytes += len(m.msg.Payload)
	}
	out := make([]outgoing, len(groups))
	for i, g := range groups {
		out[i] = outgoing{g.topic, g.msgs[0]} // alone, it travels as it is
		if len(g.msgs) > 1 {
			b, err := Bundle(g.msgs)
			if err != nil {
				return nil, fmt.Errorf("bundle %d messages to %s: %w", len(g.msgs), g.topic, err)
			}
			out[i].msg = b
		}
	}
	return out, nil
}

// pruneChunk bounds the rows one DELETE removes, so that no statement holds
// its locks and its WAL for long; pruneChunks bounds one Prune, which runs
// between batches, so that a first prune of a large outbox does not hold
// up forwarding (100,000 rows a minute is about twice what the relay
// forwarded at its busiest in docs/benchmarks.md, some 850 a second).
const (
	pruneChunk  = 10000
	pruneChunks = 10
)

// Backlog is a query of the outbox rows the relay has not forwarded (all
// of them before its first session made its offset row), with their
// created_at; its parameter $1 is RelayConsumerGroup. The offset is read
// first, as constants, so that the outbox's primary key finds the rows
// past it: a join with an OR (no offset row yet) read the whole outbox,
// forwarded rows kept for OUTBOX_RETENTION included (78 ms for 300,000
// rows here, at every dashboard poll and /metrics scrape; 0.2 ms now).
const Backlog = `SELECT m.created_at FROM watermill_outbox m
	WHERE (m.transaction_id, m."offset") > (
		coalesce((SELECT o.last_processed_transaction_id FROM watermill_offsets_outbox o WHERE o.consumer_group = $1), '0'::xid8),
		coalesce((SELECT o.offset_acked FROM watermill_offsets_outbox o WHERE o.consumer_group = $1), -1))`

// warnHeld warns that the offset row has stayed locked for d, and names
// the backend that holds it where PostgreSQL tells (pg_stat_activity hides
// another role's details from a role without pg_read_all_stats).
func (r *BatchRelay) warnHeld(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := []any{"for", d.Round(time.Second).String()}
	var pid *int32
	var addr, state string
	var xactAge *float64
	err := r.pool.QueryRow(ctx, `SELECT a.pid, coalesce(host(a.client_addr), ''), coalesce(a.state, ''),
			extract(epoch FROM now() - a.xact_start)::float8
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
		  AND l.transactionid = (SELECT xmax FROM watermill_offsets_outbox WHERE consumer_group = $1)
		LIMIT 1`, RelayConsumerGroup).Scan(&pid, &addr, &state, &xactAge)
	if err == nil && pid != nil {
		args = append(args, "holder_pid", *pid, "holder_address", addr, "holder_state", state)
		if xactAge != nil {
			args = append(args, "holder_transaction_seconds", *xactAge)
		}
	}
	r.log.Warn("relay: standing by: another session has held the outbox's offset row without a break (another relay's long round, or one whose machine died: PostgreSQL ends such a session about a minute after it last spoke)", args...)
}

// warnIfHeldBack warns when rows wait behind the relay's offset that it
// does not see, and names the transaction that holds them back: of those
// still running with an id, anywhere in the cluster, the one whose id is
// oldest. Its columns may be NULL (pg_stat_activity hides another role's
// details from a role without pg_read_all_stats), and it logs them as they
// come.
func (r *BatchRelay) warnIfHeldBack(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var waiting int64
	var pid *int32
	var age *float64
	var db, state, query string
	err := r.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM (`+Backlog+` LIMIT 1000) AS w),
		       a.pid, coalesce(a.datname::text, ''), extract(epoch FROM now() - a.xact_start)::float8,
		       coalesce(a.state, ''), coalesce(left(a.query, 200), '')
		FROM (SELECT 1) AS one
		LEFT JOIN LATERAL (SELECT pid, datname, xact_start, state, query FROM pg_stat_activity
		                   WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
		                   ORDER BY age(backend_xid) DESC LIMIT 1) AS a ON true`, RelayConsumerGroup).
		Scan(&waiting, &pid, &db, &age, &state, &query)
	if err != nil || waiting == 0 {
		return
	}
	args := []any{"rows", waiting, "idle_for", r.HeldBackWarn.String()}
	if pid != nil {
		args = append(args, "oldest_transaction_pid", *pid, "database", db, "state", state, "query", query)
		if age != nil {
			args = append(args, "open_for_seconds", *age)
		}
	}
	r.log.Warn("relay: outbox rows wait behind a transaction still open (the relay forwards only rows older than every running transaction)", args...)
}

// Prune deletes the outbox rows the relay has forwarded (at or before its
// offset) that are older than Retention, up to 100,000, and returns how
// many. The relay never reads them again: it reads after its offset.
func (r *BatchRelay) Prune(ctx context.Context) (int64, error) {
	var total int64
	for range pruneChunks {
		// created_at is a timestamp without time zone, written as
		// CURRENT_TIMESTAMP in the session's zone: LOCALTIMESTAMP matches it.
		tag, err := r.pool.Exec(ctx, `DELETE FROM watermill_outbox WHERE (transaction_id, "offset") IN (
			SELECT o.transaction_id, o."offset" FROM watermill_outbox o, watermill_offsets_outbox f
			WHERE f.consumer_group = $1
			  AND (o.transaction_id, o."offset") <= (f.last_processed_transaction_id, f.offset_acked)
			  AND o.created_at < LOCALTIMESTAMP - $2::interval
			ORDER BY o.transaction_id, o."offset" LIMIT $3)`, RelayConsumerGroup, r.Retention, pruneChunk)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk {
			break
		}
	}
	return total, nil
}
