// Package handlers holds the command handlers (decide, then append events)
// and the event handlers other than projections (TMDB enrichment). They
// are plain functions of their message: the Watermill wiring is in
// internal/app.
package handlers

import (
	"context"

	"github.com/google/uuid"

	"github.com/movietrend/trend/internal/eventlog"
)

// UnitOfWork runs fn once per message in one transaction, and publishes
// the events fn appended through the outbox in that same transaction.
type UnitOfWork interface {
	Once(ctx context.Context, handler string, messageID uuid.UUID, correlationID string, fn func(ctx context.Context, tx *eventlog.Tx) error) error
	// OnceAll is Once for many messages in one transaction.
	OnceAll(ctx context.Context, handler string, msgs []eventlog.Message, fn func(ctx context.Context, tx *eventlog.Tx, fresh []int) error, opts ...eventlog.Option) error
	Handled(ctx context.Context, handler string, messageID uuid.UUID) (bool, error)
}

// RemovalLock is the advisory lock (transaction-scoped) that orders views
// and removals: RecordViews holds it shared from before it reads which
// movies are tracked until it commits its views, and a removal takes it
// exclusively after marking its movie removed. An advisory lock, not a
// lock on the events table: a table lock strong enough to wait for the
// appends would also wait for every VACUUM and ANALYZE of the log, and
// hold every append behind them.
const RemovalLock int64 = 0x7472656e642d726d // "trend-rm"
