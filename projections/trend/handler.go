package trend

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
)

// UnitOfWork runs fn once per message, in one transaction.
type UnitOfWork interface {
	Once(ctx context.Context, handler string, messageID uuid.UUID, correlationID string, fn func(ctx context.Context, tx *eventlog.Tx) error) error
}

// Handler keeps the live projection up to date from the event batches on
// the bus.
type Handler struct {
	uow  UnitOfWork
	proj Projection
}

// NewHandler returns the live projection's handler.
func NewHandler(uow UnitOfWork, params Params) (*Handler, error) {
	if uow == nil {
		return nil, errors.New("trend: nil unit of work")
	}
	return &Handler{uow: uow, proj: New(LiveTable, params)}, nil
}

// HandleBatch applies one batch exactly once (by its BatchID).
func (h *Handler) HandleBatch(ctx context.Context, b *events.Batch) error {
	return h.uow.Once(ctx, HandlerName, b.BatchID, "", func(ctx context.Context, tx *eventlog.Tx) error {
		return h.proj.Apply(ctx, tx, b.Events)
	})
}
