package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
)

// RegisterMovieHandler records a registration the API accepted.
type RegisterMovieHandler struct{ uow UnitOfWork }

// NewRegisterMovieHandler refuses a nil dependency.
func NewRegisterMovieHandler(uow UnitOfWork) (*RegisterMovieHandler, error) {
	if uow == nil {
		return nil, errors.New("handlers: nil unit of work")
	}
	return &RegisterMovieHandler{uow: uow}, nil
}

// Handle appends MovieRegistered.
func (h *RegisterMovieHandler) Handle(ctx context.Context, cmd *commands.RegisterMovie) error {
	if cmd.TMDBID <= 0 {
		return messaging.PermanentError(fmt.Errorf("RegisterMovie %s: invalid tmdb_id %d", cmd.CommandID, cmd.TMDBID))
	}
	return h.uow.Once(ctx, "RegisterMovie", cmd.CommandID, cmd.CorrelationID, func(ctx context.Context, tx *eventlog.Tx) error {
		_, err := tx.Append(ctx, events.MovieRegistered{TMDBID: cmd.TMDBID, RegisteredAt: cmd.RequestedAt.UTC()})
		return err
	})
}
