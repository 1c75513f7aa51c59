package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
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
	return h.HandleAll(ctx, []*commands.RecordViews{cmd})
}

// validate refuses a command no retry can fix. In a shared transaction it
// fails the whole group, and the group commit's fallback then fails it
// alone.
func (h *RecordViewsHandler) validate(cmd *commands.RecordViews) error {
	if len(cmd.Views) == 0 {
		return messaging.PermanentError(fmt.Errorf("RecordViews %s carries no views", cmd.CommandID))
	}
	for _, v := range cmd.Views {
		if v.ViewID == uuid.Nil {
			// Logged once, it would make every later view without an id
			// (a malformed producer's) a repeat of it, and dropped.
			return messaging.PermanentError(fmt.Errorf("RecordViews %s carries a view without an id (the nil UUID)", cmd.CommandID))
		}
	}
	return nil
}

// HandleAll is Handle for many commands in one transaction, each command
// handled once by its id; the worker's group commit calls it.
func (h *RecordViewsHandler) HandleAll(ctx context.Context, cmds []*commands.RecordViews) error {
	msgs := make([]eventlog.Message, len(cmds))
	for i, cmd := range cmds {
		if err := h.validate(cmd); err != nil {
			return err
		}
		msgs[i] = eventlog.Message{ID: cmd.CommandID, CorrelationID: cmd.CorrelationID}
	}
	return h.uow.OnceAll(ctx, "RecordViews", msgs, func(ctx context.Context, tx *eventlog.Tx, fresh []int) error {
		var ids []int64
		for _, i := range fresh {
			for _, v := range cmds[i].Views {
				ids = append(ids, v.TMDBID)
			}
		}
		// RemovalLock, shared, taken before the movies are read and held
		// to the end: a removal takes it exclusively after marking its
		// movie removed (see Enrichment), so it waits for this
		// transaction, or this one waits for it and then reads the movie
		// as removed. No view read its movie as tracked and is logged
		// after the movie's removal.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, RemovalLock); err != nil {
			return err
		}
		tracked, err := registry.Tracked(ctx, tx, ids)
		if err != nil {
			return err
		}
		// One statement for every message's views.
		evs := make([][]events.Event, len(cmds))
		for _, i := range fresh {
			evs[i] = h.recorded(ctx, cmds[i], tracked)
		}
		stored, err := tx.AppendEach(ctx, evs)
		if err != nil {
			return err
		}
		for _, i := range fresh {
			if dup := len(evs[i]) - stored[i]; dup > 0 {
				h.log.InfoContext(ctx, "repeated view ids ignored", "count", dup, "command_id", cmds[i].CommandID)
			}
		}
		return nil
	})
}

// recorded returns the ViewRecorded events of cmd's views of tracked
// movies.
func (h *RecordViewsHandler) recorded(ctx context.Context, cmd *commands.RecordViews, tracked map[int64]bool) []events.Event {
	evs := make([]events.Event, 0, len(cmd.Views))
	var untracked []int64
	for _, v := range cmd.Views {
		if !tracked[v.TMDBID] {
			untracked = append(untracked, v.TMDBID)
			continue
		}
		evs = append(evs, events.ViewRecorded{ViewID: v.ViewID, TMDBID: v.TMDBID, ViewedAt: v.ViewedAt.UTC()})
	}
	if len(untracked) > 0 {
		// One line a command, not a view: an ingest batch of 1,000 views of
		// a movie removed meanwhile wrote 1,000.
		slices.Sort(untracked)
		h.log.WarnContext(ctx, "views of untracked movies dropped", "count", len(untracked),
			"tmdb_ids", slices.Compact(untracked), "command_id", cmd.CommandID)
	}
	return evs
}
