package app

import (
	"context"

	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/replay"
)

// watchPipeline makes /metrics report the pipeline's state (outbox
// backlog, relay and projection lag, dead letters, replay progress), read
// from PostgreSQL and RabbitMQ at scrape time through collector, the one
// GET /api/pipeline reads: a scrape during dashboards' polls costs no
// snapshot of its own.
func (b *base) watchPipeline(collector *pipeline.Collector) {
	replays := replay.New(b.pool, b.log)
	b.metrics.WatchPipeline(func(ctx context.Context) (metrics.State, error) {
		st, err := collector.Stats(ctx)
		if err != nil {
			return metrics.State{}, err
		}
		s := metrics.State{
			OutboxBacklog: float64(st.OutboxBacklog), RelayLagSeconds: st.RelayLagSeconds,
			ProjectionLagSeconds: st.ProjectionLagSeconds, ProjectionLagEvents: float64(st.ProjectionLagEvents),
			LogHead: float64(st.LogHead), DeadLetters: float64(st.DeadLetters),
		}
		if r, err := replays.Latest(ctx, "trend"); err == nil {
			s.ReplayDone, s.ReplayTotal, s.ReplayRunning = float64(r.Done), float64(r.Total), r.State == "running"
		}
		return s, nil
	}, b.log)
}
