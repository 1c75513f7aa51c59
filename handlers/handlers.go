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
