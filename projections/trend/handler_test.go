package trend_test

import (
	"testing"

	"github.com/movietrend/trend/events"
)

// TestHandlerCountsTheViewsItApplied: the count behind the worker's
// "views applied" log line counts each view once, not a redelivered
// batch's views again, nor other events.
func TestHandlerCountsTheViewsItApplied(t *testing.T) {
	t.Parallel()
	_, store, h, _ := setup(t)
	ctx := t.Context()
	reg := appendBatch(t, store, events.MovieRegistered{TMDBID: 1, RegisteredAt: t0})
	first := appendBatch(t, store, views(1, 3, t0)...)
	second := appendBatch(t, store, append(views(1, 2, t0), details(1, 7, t0))...)
	must(t, h.HandleBatch(ctx, reg))
	must(t, h.HandleBatches(ctx, []*events.Batch{first, second}))
	must(t, h.HandleBatch(ctx, first)) // delivered again: already handled
	if n := h.TakeApplied(); n != 5 {
		t.Errorf("applied: got %d, want 5", n)
	}
	if n := h.TakeApplied(); n != 0 {
		t.Errorf("applied after taking: got %d, want 0", n)
	}
}
