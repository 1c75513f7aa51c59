package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/testenv"
)

// The text report says how long the oldest outbox message has waited for
// the relay, the figure to watch its progress by (the README points
// operators at trend status for it).
func TestStatusSaysHowLongTheRelayIsBehind(t *testing.T) {
	for _, c := range []struct {
		stats pipeline.Stats
		want  string
	}{
		{pipeline.Stats{OutboxBacklog: 0}, "outbox backlog  0 messages not yet forwarded to RabbitMQ\n"},
		{pipeline.Stats{OutboxBacklog: 12, RelayLagSeconds: 3.44}, "outbox backlog  12 messages not yet forwarded to RabbitMQ, the oldest waiting 3.4s\n"},
	} {
		var out bytes.Buffer
		c.stats.At = time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
		if err := writeStatus(&out, statusReport{Stats: c.stats}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("got:\n%s\nwant a line %q", out.String(), c.want)
		}
	}
}

// A projection lag of unknown age says so, instead of 0s beside a lag in
// events.
func TestStatusSaysWhenTheLagsAgeIsUnknown(t *testing.T) {
	for _, c := range []struct {
		stats pipeline.Stats
		want  string
	}{
		{pipeline.Stats{LogHead: 9, ProjectionPosition: 7, ProjectionLagEvents: 2, ProjectionLagSeconds: 1.26}, "up to 2 events, 1.3s (trend projection at event 7)"},
		{pipeline.Stats{LogHead: 9, ProjectionPosition: 7, ProjectionLagEvents: 2, ProjectionLagSeconds: -1}, "up to 2 events, of unknown age (trend projection at event 7)"},
	} {
		if got := lagLine(c.stats); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// With RabbitMQ unreachable the report is still printed, as far as it
// goes, and the command fails: `trend status || alert` must not take half
// a report for a healthy pipeline.
// On a database without this build's tables, status says to migrate,
// rather than quote PostgreSQL's "relation does not exist".
func TestStatusSaysWhenTheDatabaseIsNotMigrated(t *testing.T) {
	url := testenv.DatabaseURL(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`)
	conn.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{DatabaseURL: url, AMQPURL: testenv.AMQPBaseURL()}
	err = RunStatus(t.Context(), cfg, StatusOptions{Out: io.Discard}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "trend migrate") {
		t.Errorf("got %v, want it to say to run trend migrate", err)
	}
}

// A queue RabbitMQ lacks (none declared yet, or one deleted by hand) is
// named, and fails the status: nothing reaches its handlers.
func TestStatusNamesMissingQueues(t *testing.T) {
	cfg := config.Config{DatabaseURL: testenv.DatabaseURL(t), AMQPURL: testenv.BrokerURL(t)}
	var out bytes.Buffer
	err := RunStatus(t.Context(), cfg, StatusOptions{Out: &out}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "start a worker") {
		t.Errorf("got %v, want the missing queues to fail the status", err)
	}
	for _, q := range Topology.Queues() {
		if q != messaging.DeadLetterTopic && !strings.Contains(out.String(), "queue "+q+": missing") {
			t.Errorf("the report does not say %s is missing:\n%s", q, out.String())
		}
	}
}

func TestStatusFailsWhenRabbitMQCannotBeAsked(t *testing.T) {
	addr := testenv.UnusedAddr(t) // nothing listens there
	cfg := config.Config{DatabaseURL: testenv.DatabaseURL(t), AMQPURL: "amqp://guest:guest@" + addr + "/"}
	if err := postgres.Migrate(t.Context(), testenv.Pool(t), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	for _, json := range []bool{false, true} {
		var out bytes.Buffer
		err := RunStatus(t.Context(), cfg, StatusOptions{JSON: json, Out: &out}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), "RabbitMQ") {
			t.Errorf("json %v: got %v, want an error naming RabbitMQ", json, err)
		}
		if !strings.Contains(out.String(), "outbox") {
			t.Errorf("json %v: the report was not printed:\n%s", json, out.String())
		}
	}
}

// Stopped (Ctrl-C) while waiting for a PostgreSQL that is down, status and
// replay say so, not "context canceled".
func TestAStopWhileWaitingForPostgreSQLIsSaidSo(t *testing.T) {
	cfg := config.Config{DatabaseURL: "postgres://trend:trend@" + testenv.UnusedAddr(t) + "/trend?sslmode=disable", AMQPURL: testenv.AMQPBaseURL()}
	// Cancelled, as Ctrl-C does, while the wait is on.
	stopSoon := func() context.Context {
		ctx, cancel := context.WithCancel(t.Context())
		t.Cleanup(cancel)
		time.AfterFunc(300*time.Millisecond, cancel)
		return ctx
	}
	err := RunStatus(stopSoon(), cfg, StatusOptions{Out: io.Discard}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "stopped while waiting for PostgreSQL") {
		t.Errorf("status: got %v", err)
	}
	err = RunReplay(stopSoon(), cfg, Options{}, ReplayOptions{Projection: "trend"}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "stopped before its rebuild began") {
		t.Errorf("replay: got %v", err)
	}
}
