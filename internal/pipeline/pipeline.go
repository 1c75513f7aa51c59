// Package pipeline reports the state of the message pipeline for people
// who run it: event rate, outbox backlog, queue depths and consumers, dead
// letters, projection lag.
package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
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
	// ProjectionPosition is the newest log position the trend projection
	// reflects; ProjectionLagEvents is how far behind the log it is.
	ProjectionPosition  int64 `json:"projection_position"`
	ProjectionLagEvents int64 `json:"projection_lag_events"`
	// ProjectionLagSeconds is now minus the time of the newest event the
	// projection applied (0 when it is caught up).
	ProjectionLagSeconds float64 `json:"projection_lag_seconds"`
	Queues               []Queue `json:"queues"`
	// DeadLetters is the depth of the dead-letter queue (-1 if unknown).
	DeadLetters int `json:"dead_letters"`
	// BrokerError says why queues are missing, if RabbitMQ did not answer.
	BrokerError string `json:"broker_error,omitempty"`
}

// Collector takes snapshots.
type Collector struct {
	pool     *pgxpool.Pool
	amqpURL  string
	topology messaging.Topology

	mu   sync.Mutex
	last Stats
}

// NewCollector returns a Collector for the given database and broker.
func NewCollector(pool *pgxpool.Pool, amqpURL string, topology messaging.Topology) *Collector {
	return &Collector{pool: pool, amqpURL: amqpURL, topology: topology}
}

// Stats takes a snapshot.
func (c *Collector) Stats(ctx context.Context) (Stats, error) {
	s := Stats{At: time.Now().UTC(), DeadLetters: -1, Queues: []Queue{}}
	var newestApplied *time.Time
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
	s.ProjectionLagEvents = max(0, s.LogHead-s.ProjectionPosition)
	if s.ProjectionLagEvents > 0 {
		// The oldest event the projection has not applied yet tells how
		// long it has waited.
		err := c.pool.QueryRow(ctx, `SELECT min(recorded_at) FROM events WHERE position > $1`, s.ProjectionPosition).Scan(&newestApplied)
		if err == nil && newestApplied != nil {
			s.ProjectionLagSeconds = max(0, s.At.Sub(*newestApplied).Seconds())
		}
	}
	c.queues(&s)

	c.mu.Lock()
	if prev := c.last; !prev.At.IsZero() && s.At.After(prev.At) {
		s.EventsPerSecond = float64(s.LogHead-prev.LogHead) / s.At.Sub(prev.At).Seconds()
	}
	c.last = s
	c.mu.Unlock()
	return s, nil
}

func (c *Collector) queues(s *Stats) {
	conn, err := amqp.DialConfig(c.amqpURL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		s.BrokerError = "RabbitMQ is unreachable"
		return
	}
	defer conn.Close()
	for _, name := range c.topology.Queues() {
		// A passive declare fails and closes the channel if the queue does
		// not exist yet, so each queue gets its own channel.
		ch, err := conn.Channel()
		if err != nil {
			s.BrokerError = err.Error()
			return
		}
		q, err := messaging.InspectQueue(ch, name)
		if err != nil {
			continue
		}
		_ = ch.Close()
		if name == messaging.DeadLetterTopic {
			s.DeadLetters = q.Messages
		}
		s.Queues = append(s.Queues, Queue{Name: q.Name, Messages: q.Messages, Consumers: q.Consumers})
	}
}
