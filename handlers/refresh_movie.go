package handlers

import (
	"context"
	"errors"
	"log/slog"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/registry"
)

// RefreshMovieHandler records that fresh TMDB facts were asked for; the
// enrichment handler reacts to the event.
type RefreshMovieHandler struct {
	uow UnitOfWork
	log *slog.Logger
}

// NewRefreshMovieHandler refuses nil dependencies.
func NewRefreshMovieHandler(uow UnitOfWork, log *slog.Logger) (*RefreshMovieHandler, error) {
	if uow == nil || log == nil {
		return nil, errors.New("handlers: nil dependency")
	}
	return &RefreshMovieHandler{uow: uow, log: log}, nil
}

// Handle appends MovieRefreshRequested for a tracked movie.
func (h *RefreshMovieHandler) Handle(ctx context.Context, cmd *commands.RefreshMovie) error {
	return h.uow.Once(ctx, "RefreshMovie", cmd.CommandID, cmd.CorrelationID, func(ctx context.Context, tx *eventlog.Tx) error {
		tracked, err := registry.Tracked(ctx, tx, []int64{cmd.TMDBID})
		if err != nil {
			return err
		}
		if !tracked[cmd.TMDBID] {
			h.log.WarnContext(ctx, "refresh of an untracked movie dropped", "tmdb_id", cmd.TMDBID)
			return nil
		}
		_, err = tx.Append(ctx, events.MovieRefreshRequested{TMDBID: cmd.TMDBID, RequestedAt: cmd.RequestedAt.UTC()})
		return err
	})
}
