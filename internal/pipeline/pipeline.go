// Package pipeline reports the state of the message pipeline for people
// who run it: event rate, outbox backlog, queue depths and consumers, dead
// letters, projection lag.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/projections/trend"
)

// Queue is one RabbitMQ queue.
type Queue struct {
	Name      string `json:"name"`
	Messages  int    `json:"messages"`
	Consumers int    `json:"consumers"`
}

// Stats is a snapshot of the pipeline.
type Stats struct {
	At time.Time `json:"at"`
	// LogHead is the position of the newest event in the log.
	LogHead int64 `json:"log_head"`
	// EventsPerSecond is the rate events were appended since the previous
	// snapshot (0 on the first).
	EventsPerSecond float64 `json:"events_per_second"`
	// OutboxBacklog counts outbox messages the relay has not forwarded;
	// RelayLagSeconds is the age of the oldest of them.
	OutboxBacklog   int64   `json:"outbox_backlog"`
	RelayLagSeconds float64 `json:"relay_lag_seconds"`
	// ProjectionPosition is the log position the trend projection has
	// applied up to (see projectionLag); ProjectionLagEvents is how far
	// behind the log it is.
	ProjectionPosition  int64 `json:"projection_position"`
	ProjectionLagEvents int64 `json:"projection_lag_events"`
	// ProjectionLagSeconds is now minus the time the oldest event the
	// projection has not applied was logged (0 when it is caught up, -1
	// when that event could not be read).
	ProjectionLagSeconds float64 `json:"projection_lag_seconds"`
	Queues               []Queue `json:"queues"`
	// MissingQueues are the topology's queues RabbitMQ does not have (a
	// worker declares them when it starts; the dead-letter queue, made at
	// the first dead letter, is not one).
	MissingQueues []string `json:"missing_queues,omitempty"`
	// DeadLetters is the depth of the dead-letter queue (-1 if unknown).
	DeadLetters int `json:"dead_letters"`
	// BrokerError says why queues are missing from Queues: RabbitMQ did
	// not answer, or did not show one.
	BrokerError string `json:"broker_error,omitempty"`
}

// Collector takes snapshots.
type Collector struct {
	pool     *pgxpool.Pool
	amqpURL  string
	topology messaging.Topology
	// MaxAge, if set, lets Stats answer with the last snapshot while it
	// is younger: every dashboard polls GET /api/pipeline every 2 s, and
	// each snapshot dials RabbitMQ and scans the outbox's backlog.
	MaxAge time.Duration

	mu     sync.Mutex
	last   Stats
	flight singleflight.Group
}

// NewCollector returns a Collector for the given database and broker.
func NewCollector(pool *pgxpool.Pool, amqpURL string, topology messaging.Topology) *Collector {
	return &Collector{pool: pool, amqpURL: amqpURL, topology: topology}
}

// Stats takes a snapshot, or returns the last one while it is younger
// than MaxAge.
func (c *Collector) Stats(ctx context.Context) (Stats, error) {
	if c.MaxAge > 0 {
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		if !last.At.IsZero() && time.Since(last.At) < c.MaxAge {
			return last, nil
		}
	}
	// Callers at the same time share one snapshot (each dials RabbitMQ and
	// scans the outbox's backlog); it runs on its own deadline, so that the
	// first caller leaving does not fail the others.
	ch := c.flight.DoChan("snapshot", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotTimeout)
		defer cancel()
		return c.snapshot(ctx)
	})
	select {
	case r := <-ch:
		return r.Val.(Stats), r.Err
	case <-ctx.Done():
		return Stats{}, ctx.Err()
	}
}

// snapshotTimeout bounds one snapshot.
const snapshotTimeout = 10 * time.Second

func (c *Collector) snapshot(ctx context.Context) (Stats, error) {
	s := Stats{At: time.Now().UTC(), DeadLetters: -1, Queues: []Queue{}}
	err := c.pool.QueryRow(ctx, `
		WITH backlog AS (`+messaging.Backlog+`)
		SELECT
			(SELECT coalesce(max(position), 0) FROM events),
			(SELECT coalesce(max(last_position), 0) FROM trend_movies),
			(SELECT count(*) FROM backlog),
			(SELECT coalesce(extract(epoch FROM localtimestamp - min(created_at)), 0)::float8 FROM backlog)`,
		messaging.RelayConsumerGroup).Scan(&s.LogHead, &s.ProjectionPosition, &s.OutboxBacklog, &s.RelayLagSeconds)
	if err != nil {
		return s, fmt.Errorf("read pipeline state: %w", err)
	}
	s.RelayLagSeconds = max(0, s.RelayLagSeconds)
	if s.LogHead > s.ProjectionPosition {
		c.projectionLag(ctx, &s)
	}
	c.queues(ctx, &s)

	c.mu.Lock()
	defer c.mu.Unlock()
	// Every viewer's requests share the last snapshot: the rate is taken
	// over at least rateWindow (two dashboards polling 20 ms apart gave
	// the events of 20 ms over 0.02 s, 0 or a spike), and a snapshot older
	// than the last one does not replace it.
	switch prev := c.last; {
	case prev.At.IsZero():
		c.last = s
	case s.At.Sub(prev.At) >= rateWindow:
		s.EventsPerSecond = float64(s.LogHead-prev.LogHead) / s.At.Sub(prev.At).Seconds()
		c.last = s
	default:
		s.EventsPerSecond = prev.EventsPerSecond
	}
	return s, nil
}

// rateWindow is the shortest span the event rate is measured over.
const rateWindow = time.Second

// projectionLag finds the first event above the projection's highest row
// position whose batch the projection has not handled (handled_messages):
// the projection lags from it. (A batch below that position not handled
// yet, one retried while later ones were applied, is not seen.) The
// highest position alone is no measure: events that change no row (a
// refresh request, a view of a removed movie, facts older than those
// shown) never raise it, and the newest event being one of them showed a
// lag that grew for ever on a quiet system.
func (c *Collector) projectionLag(ctx context.Context, s *Stats) {
	var first int64
	var at time.Time
	err := c.pool.QueryRow(ctx, `SELECT e.position, e.recorded_at FROM events e
		WHERE e.position > $1 AND NOT EXISTS (
			SELECT 1 FROM handled_messages h WHERE h.handler = $2 AND h.message_id = e.batch_id)
		ORDER BY e.position LIMIT 1`, s.ProjectionPosition, trend.HandlerName).Scan(&first, &at)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		s.ProjectionPosition = s.LogHead
	case err == nil:
		// The head was read in another snapshot, and positions have gaps
		// (a rollback, a repeated view): the head may be behind first.
		s.ProjectionPosition = min(first-1, s.LogHead)
		s.ProjectionLagEvents = max(1, s.LogHead-s.ProjectionPosition)
		s.ProjectionLagSeconds = max(0, s.At.Sub(at).Seconds())
	default:
		// Unknown: reported as behind by every event above its rows, with
		// no age (0 would read as caught up beside a lag in events).
		s.ProjectionLagEvents = s.LogHead - s.ProjectionPosition
		s.ProjectionLagSeconds = -1
	}
}

// queuesTimeout bounds the queues' part of a snapshot: the dial bounded
// only the handshake, and a broker that stalled after it held the
// snapshot, and every poll and scrape behind it, until its heartbeat gave
// up.
var queuesTimeout = 3 * time.Second

func (c *Collector) queues(ctx context.Context, s *Stats) {
	ctx, cancel := context.WithTimeout(ctx, queuesTimeout)
	defer cancel()
	conn, err := messaging.Dial(ctx, c.amqpURL, "trend pipeline view", 2*time.Second)
	if err != nil {
		s.BrokerError = messaging.DialFailure(err)
		return
	}
	// Dropped, the connection ends the calls waiting on it at once.
	defer messaging.DropWhenDone(ctx, conn)()
	defer conn.Close()
	late := func() bool {
		if ctx.Err() != nil {
			s.BrokerError = "RabbitMQ did not answer in time"
			return true
		}
		return false
	}
	for _, name := range c.topology.Queues() {
		// A passive declare fails and closes the channel if the queue does
		// not exist yet, so each queue gets its own channel.
		ch, err := conn.Channel()
		if err != nil {
			if !late() {
				s.BrokerError = err.Error()
			}
			return
		}
		q, err := messaging.InspectQueue(ch, name)
		if err != nil {
			if late() {
				return
			}
			switch {
			case name == messaging.DeadLetterTopic && messaging.IsNotFound(err):
				// None yet: nothing was ever dead-lettered.
				s.DeadLetters = 0
			case messaging.IsNotFound(err):
				s.MissingQueues = append(s.MissingQueues, name)
			case s.BrokerError == "":
				// Not the broker's own text, which can name the user and
				// virtual host: this is served to anyone.
				s.BrokerError = "RabbitMQ did not show queue " + name
			}
			continue
		}
		_ = ch.Close()
		if name == messaging.DeadLetterTopic {
			s.DeadLetters = q.Messages
		}
		s.Queues = append(s.Queues, Queue{Name: q.Name, Messages: q.Messages, Consumers: q.Consumers})
	}
}
