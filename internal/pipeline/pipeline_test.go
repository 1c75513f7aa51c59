package pipeline_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/projections/trend"
)

// The projection's lag counts the events whose batches it has not
// handled, from the first of them: an event that changes no row (here a
// refresh request) is not a lag once its batch is handled, however long
// the system stays quiet after it.
func TestProjectionLagCountsUnhandledBatches(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	registered, refresh := uuid.New(), uuid.New()
	var regPos, refreshPos int64
	for _, e := range []struct {
		typ   string
		batch uuid.UUID
		pos   *int64
	}{{"MovieRegistered", registered, &regPos}, {"MovieRefreshRequested", refresh, &refreshPos}} {
		if err := pool.QueryRow(ctx, `INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, recorded_at, data, batch_id)
			VALUES ($1, $2, 1, 550, now(), now() - interval '1 minute', '{}', $3) RETURNING position`,
			uuid.New(), e.typ, e.batch).Scan(e.pos); err != nil {
			t.Fatal(err)
		}
	}
	// The registration is applied (its row and its batch); the refresh
	// request changes no row.
	if _, err := pool.Exec(ctx, `INSERT INTO trend_movies (tmdb_id, status, last_updated_at, last_position) VALUES (550, 'pending', now(), $1)`, regPos); err != nil {
		t.Fatal(err)
	}
	handled := func(batch uuid.UUID) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO handled_messages (handler, message_id) VALUES ($1, $2)`, trend.HandlerName, batch); err != nil {
			t.Fatal(err)
		}
	}
	handled(registered)
	c := collector(pool)
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.ProjectionPosition != regPos || s.ProjectionLagEvents != 1 || s.ProjectionLagSeconds < 50 {
		t.Errorf("refresh request not handled yet: position %d, lag %d events, %.0f s; want %d, 1, about 60 s",
			s.ProjectionPosition, s.ProjectionLagEvents, s.ProjectionLagSeconds, regPos)
	}
	handled(refresh)
	if s, err = c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ProjectionPosition != refreshPos || s.ProjectionLagEvents != 0 || s.ProjectionLagSeconds != 0 {
		t.Errorf("every batch handled: position %d, lag %d events, %.0f s; want %d, 0, 0",
			s.ProjectionPosition, s.ProjectionLagEvents, s.ProjectionLagSeconds, refreshPos)
	}
}

// A lag whose first unapplied event cannot be read is reported as every
// event above the projection's rows, of unknown age (-1), not as 0 s
// beside a lag in events.
func TestAnUnreadableLagHasNoAge(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, recorded_at, data, batch_id)
		VALUES ($1, 'MovieRegistered', 1, 550, now(), now() - interval '1 minute', '{}', $2)`, uuid.New(), uuid.New()); err != nil {
		t.Fatal(err)
	}
	// The lag's query reads handled_messages; the snapshot's first one
	// does not.
	if _, err := pool.Exec(ctx, `ALTER TABLE handled_messages RENAME TO handled_messages_gone`); err != nil {
		t.Fatal(err)
	}
	s, err := collector(pool).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.ProjectionLagEvents != 1 || s.ProjectionLagSeconds != -1 {
		t.Errorf("lag %d events, %v s; want 1, -1 (unknown)", s.ProjectionLagEvents, s.ProjectionLagSeconds)
	}
}

// The event rate is measured over at least a second: snapshots taken in
// quick succession (two dashboards polling) give the last rate, not the
// events of a few milliseconds divided by them.
func TestTheEventRateSpansASecond(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	c := collector(pool)
	if _, err := c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	appendEvent(t, pool)
	s, err := c.Stats(ctx) // milliseconds later
	if err != nil {
		t.Fatal(err)
	}
	if s.EventsPerSecond != 0 {
		t.Errorf("a snapshot right after another: %.0f events a second, want the last rate (0)", s.EventsPerSecond)
	}
	time.Sleep(time.Second)
	if s, err = c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if s.EventsPerSecond <= 0 || s.EventsPerSecond > 1.01 {
		t.Errorf("a second later, one event: %.2f events a second, want about 1", s.EventsPerSecond)
	}
}

// With MaxAge, polls in quick succession (several dashboards) share one
// snapshot, and the next comes once it is that old.
func TestSnapshotsAreSharedForMaxAge(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	ctx := t.Context()
	c := collector(pool)
	c.MaxAge = 2 * time.Second // wide: the event and the second poll must fit in it on a busy machine
	first, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendEvent(t, pool)
	if s, err := c.Stats(ctx); err != nil || !s.At.Equal(first.At) || s.LogHead != first.LogHead {
		t.Errorf("a poll right after: got the snapshot of %v (head %d), %v; want the first one's (%v, head %d)", s.At, s.LogHead, err, first.At, first.LogHead)
	}
	time.Sleep(c.MaxAge)
	if s, err := c.Stats(ctx); err != nil || s.LogHead != first.LogHead+1 {
		t.Errorf("after MaxAge: head %d, %v; want %d", s.LogHead, err, first.LogHead+1)
	}
}

// collector reads pool, and a broker that is not there (the queues are
// not what these tests look at).
func collector(pool *pgxpool.Pool) *pipeline.Collector {
	return pipeline.NewCollector(pool, "amqp://guest:guest@127.0.0.1:1/", messaging.Topology{})
}

// appendEvent logs one registration of movie 550.
func appendEvent(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `INSERT INTO events (event_id, type, version, tmdb_id, occurred_at, data) VALUES ($1, 'MovieRegistered', 1, 550, now(), '{}')`, uuid.New()); err != nil {
		t.Fatal(err)
	}
}

// RabbitMQ's refusal of AMQP_URL's login is told from a broker that is
// down, in the pipeline view (the dashboard, `trend status`) too.
func TestThePipelineViewSaysWhenRabbitMQRefusedTheLogin(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	wrongPassword, _ := testenv.Refused(t, testenv.AMQPBaseURL(), "/")
	for url, want := range map[string]string{
		wrongPassword:                     "RabbitMQ refused the login: check AMQP_URL's user, password and virtual host",
		"amqp://guest:guest@127.0.0.1:1/": "RabbitMQ is unreachable",
	} {
		s, err := pipeline.NewCollector(pool, url, messaging.Topology{}).Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if s.BrokerError != want {
			t.Errorf("broker error: got %q, want %q", s.BrokerError, want)
		}
	}
}
