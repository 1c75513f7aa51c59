package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/registry"
)

// RecordViewsHandler turns accepted views into ViewRecorded events.
type RecordViewsHandler struct {
	uow UnitOfWork
	log *slog.Logger
}

// NewRecordViewsHandler refuses nil dependencies.
func NewRecordViewsHandler(uow UnitOfWork, log *slog.Logger) (*RecordViewsHandler, error) {
	if uow == nil || log == nil {
		return nil, errors.New("handlers: nil dependency")
	}
	return &RecordViewsHandler{uow: uow, log: log}, nil
}

// Handle appends one ViewRecorded per view of a tracked movie. The log
// keeps one event per view_id, so a view sent twice is counted once. A
// view of a movie TMDB removed after the API accepted the view is dropped.
func (h *RecordViewsHandler) Handle(ctx context.Context, cmd *commands.RecordViews) error {
	if len(cmd.Views) == 0 {
		return permanentError{fmt.Errorf("RecordViews %s carries no views", cmd.CommandID)}
	}
	return h.uow.Once(ctx, "RecordViews", cmd.CommandID, cmd.CorrelationID, func(ctx context.Context, tx *eventlog.Tx) error {
		ids := make([]int64, 0, len(cmd.Views))
		for _, v := range cmd.Views {
			ids = append(ids, v.TMDBID)
		}
		tracked, err := registry.Tracked(ctx, tx, ids)
		if err != nil {
			return err
		}
		evs := make([]events.Event, 0, len(cmd.Views))
		for _, v := range cmd.Views {
			if !tracked[v.TMDBID] {
				h.log.WarnContext(ctx, "view of an untracked movie dropped", "tmdb_id", v.TMDBID, "view_id", v.ViewID)
				continue
			}
			evs = append(evs, events.ViewRecorded{ViewID: v.ViewID, TMDBID: v.TMDBID, ViewedAt: v.ViewedAt.UTC()})
		}
		stored, err := tx.Append(ctx, evs...)
		if err != nil {
			return err
		}
		if dup := len(evs) - stored; dup > 0 {
			h.log.InfoContext(ctx, "repeated view ids ignored", "count", dup, "command_id", cmd.CommandID)
		}
		return nil
	})
}
