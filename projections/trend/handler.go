package trend

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
)

// UnitOfWork runs fn once per message, for many messages in one
// transaction.
type UnitOfWork interface {
	OnceAll(ctx context.Context, handler string, msgs []eventlog.Message, fn func(ctx context.Context, tx *eventlog.Tx, fresh []int) error, opts ...eventlog.Option) error
}

// Handler keeps the live projection up to date from the event batches on
// the bus.
type Handler struct {
	uow  UnitOfWork
	proj Projection
	// views counts the views applied since the last TakeApplied.
	views atomic.Int64
}

// NewHandler returns the live projection's handler.
func NewHandler(uow UnitOfWork, params Params) (*Handler, error) {
	if uow == nil {
		return nil, errors.New("trend: nil unit of work")
	}
	return &Handler{uow: uow, proj: New(LiveTable, params)}, nil
}

// writerLock is the advisory lock key the live projection's writers take.
const writerLock int64 = 0x7472656e64 // "trend"

// HandleBatch applies one batch exactly once (by its BatchID).
func (h *Handler) HandleBatch(ctx context.Context, b *events.Batch) error {
	return h.HandleBatches(ctx, []*events.Batch{b})
}

// HandleBatches applies many batches in one transaction, each exactly once
// (by its BatchID): their events are folded together, so a movie's views
// from every batch become one pre-aggregated upsert. The projection does
// not depend on the order of batches, only on the order of events of one
// movie for removal and registration (see Apply).
func (h *Handler) HandleBatches(ctx context.Context, bs []*events.Batch) error {
	msgs := make([]eventlog.Message, len(bs))
	for i, b := range bs {
		msgs[i] = eventlog.Message{ID: b.BatchID}
	}
	// One writer at a time, across worker processes: rows then change in
	// the order their transactions commit, so a reader that saw change n
	// has seen every change before it (the live stream's cursor and the
	// list cache rely on it). One group commit per process keeps a single
	// writer fast; README, "Scaling out".
	var views int64 // of this transaction's last attempt
	err := h.uow.OnceAll(ctx, HandlerName, msgs, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		var evs []events.Envelope
		views = 0
		for _, i := range fresh {
			evs = append(evs, bs[i].Events...)
			for _, e := range bs[i].Events {
				if e.Type == events.TypeViewRecorded {
					views++
				}
			}
		}
		// In log order, as one batch would hold them: the batches arrive
		// in the order the subscriptions took them.
		slices.SortStableFunc(evs, func(a, b events.Envelope) int { return cmp.Compare(a.Position, b.Position) })
		return h.proj.Apply(ctx, tx, evs)
	}, eventlog.Exclusive(writerLock))
	if err == nil {
		h.views.Add(views)
	}
	return err
}

// TakeApplied returns how many views the handler applied since it was
// last asked (for the worker's periodic log line), counting each once.
func (h *Handler) TakeApplied() int64 { return h.views.Swap(0) }
