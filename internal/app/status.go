package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/replay"
)

// StatusOptions are the flags of `trend status`.
type StatusOptions struct {
	// JSON prints the report as JSON instead of a table.
	JSON bool
	// Out is where the report goes (default: standard output).
	Out io.Writer
}

// statusReport is what `trend status` prints: the pipeline's state as
// GET /api/pipeline answers it, and the newest replay of each projection.
type statusReport struct {
	pipeline.Stats
	// EventsPerSecond needs two snapshots: one command has one. This field
	// hides the embedded one, which would always read 0.
	EventsPerSecond *float64        `json:"events_per_second,omitempty"`
	Replays         []replay.Status `json:"replays"`
}

// RunStatus is the status role: one snapshot of queue depths and
// consumers, outbox backlog, dead letters, projection lag and the last
// replays, as a table or as JSON.
func RunStatus(ctx context.Context, cfg config.Config, so StatusOptions, log *slog.Logger) error {
	if so.Out == nil {
		so.Out = os.Stdout
	}
	// Looking must change nothing (no migrations) and must not wait a
	// minute for a database that is down.
	b, err := newBase(ctx, cfg, Options{NoMigrate: true, StartupTimeout: 10 * time.Second}, log)
	if stoppedBy(ctx, err) {
		return errors.New("status: stopped while waiting for PostgreSQL")
	}
	if err != nil {
		return err
	}
	defer b.close()
	rep, err := b.status(ctx)
	if postgres.Unmigrated(err) {
		// Checked on the failure, not before: goose's own check creates
		// its table, and looking must change nothing.
		return fmt.Errorf("%s (%w)", lacksMigrations, err)
	}
	if err != nil {
		return err
	}
	if so.JSON {
		err = writeJSONTo(so.Out, rep)
	} else {
		err = writeStatus(so.Out, rep)
	}
	if err == nil && rep.BrokerError != "" {
		// Printed in full, and still a failure: a script checking the
		// pipeline (`trend status || alert`) must not read half a report
		// as a healthy one.
		err = errors.New("status: RabbitMQ could not be asked: queues and dead letters unknown")
	}
	if err == nil && len(rep.MissingQueues) > 0 {
		// Nothing reaches a missing queue's handlers: a failure too.
		err = fmt.Errorf("status: RabbitMQ lacks %d of the pipeline's queues (%s): start a worker, which declares them", len(rep.MissingQueues), strings.Join(rep.MissingQueues, ", "))
	}
	return err
}

func (b *base) status(ctx context.Context) (statusReport, error) {
	st, err := pipeline.NewCollector(b.pool, b.cfg.AMQPURL, Topology).Stats(ctx)
	if err != nil {
		return statusReport{}, err
	}
	rep := statusReport{Stats: st, Replays: []replay.Status{}}
	r := replay.New(b.pool, b.log)
	for _, name := range (replays{b: b}).Projections() {
		s, err := r.Latest(ctx, name)
		if err != nil {
			return statusReport{}, fmt.Errorf("read the last replay of %s: %w", name, err)
		}
		rep.Replays = append(rep.Replays, s)
	}
	return rep, nil
}

// writeStatus prints the report as two aligned tables: the queues, then
// one line per figure.
func writeStatus(out io.Writer, rep statusReport) error {
	if err := writeQueues(out, rep.Stats); err != nil {
		return err
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "outbox backlog\t%s\n", backlogLine(rep.Stats))
	fmt.Fprintf(tw, "dead letters\t%s\n", deadLetterLine(rep.DeadLetters))
	fmt.Fprintf(tw, "event log\tnewest event at position %d\n", rep.LogHead)
	fmt.Fprintf(tw, "projection lag\t%s\n", lagLine(rep.Stats))
	for _, r := range rep.Replays {
		fmt.Fprintf(tw, "last replay (%s)\t%s\n", r.Projection, replayLine(r))
	}
	fmt.Fprintf(tw, "at\t%s\n", rep.At.Format(time.RFC3339))
	return tw.Flush()
}

func writeQueues(out io.Writer, st pipeline.Stats) error {
	if len(st.Queues) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "QUEUE\tMESSAGES\tCONSUMERS\n")
		for _, q := range st.Queues {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", q.Name, q.Messages, q.Consumers)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, q := range st.MissingQueues {
		if _, err := fmt.Fprintf(out, "queue %s: missing (a worker declares the queues when it starts)\n", q); err != nil {
			return err
		}
	}
	if st.BrokerError != "" {
		_, err := fmt.Fprintf(out, "queues unknown: %s\n", st.BrokerError)
		return err
	}
	return nil
}

// backlogLine says how many outbox messages wait for the relay, and how
// long the oldest has: the figure to watch the relay's progress by.
func backlogLine(s pipeline.Stats) string {
	if s.OutboxBacklog == 0 {
		return "0 messages not yet forwarded to RabbitMQ"
	}
	return fmt.Sprintf("%d messages not yet forwarded to RabbitMQ, the oldest waiting %s", s.OutboxBacklog,
		seconds(s.RelayLagSeconds, 100*time.Millisecond))
}

// seconds is s seconds as a duration, rounded to a multiple of unit: the
// report's figures come in float seconds (JSON's).
func seconds(s float64, unit time.Duration) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(unit)
}

func deadLetterLine(n int) string {
	switch {
	case n < 0:
		return "unknown (RabbitMQ did not answer)"
	case n == 0:
		return "0"
	}
	return fmt.Sprintf("%d (see `trend dlq list`)", n)
}

func lagLine(s pipeline.Stats) string {
	if s.ProjectionLagEvents == 0 {
		return fmt.Sprintf("none (trend projection at event %d)", s.ProjectionPosition)
	}
	age := "of unknown age" // the oldest unapplied event could not be read
	if s.ProjectionLagSeconds >= 0 {
		age = seconds(s.ProjectionLagSeconds, 100*time.Millisecond).String()
	}
	// "Up to": log positions have gaps (a rolled-back append, a repeated
	// view id), so the positions behind are a bound on the events.
	return fmt.Sprintf("up to %d events, %s (trend projection at event %d)", s.ProjectionLagEvents, age, s.ProjectionPosition)
}

func replayLine(r replay.Status) string {
	if r.State == "idle" {
		return "never"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s, %d of %d events", r.ID, r.Mode, r.State, r.Done, r.Total)
	if r.State == "running" && r.LeftSeconds > 0 {
		fmt.Fprintf(&b, ", about %s left", seconds(r.LeftSeconds, time.Second))
	}
	if r.Differences != nil {
		fmt.Fprintf(&b, ", %d differences", *r.Differences)
	}
	switch {
	case r.FinishedAt != nil:
		fmt.Fprintf(&b, ", finished %s", r.FinishedAt.UTC().Format(time.RFC3339))
	case r.StartedAt != nil:
		fmt.Fprintf(&b, ", started %s", r.StartedAt.UTC().Format(time.RFC3339))
	}
	if r.Error != nil {
		fmt.Fprintf(&b, ": %s", *r.Error)
	}
	return b.String()
}
