package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/eventlog"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/registry"
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

// Handle appends MovieRegistered, unless the movie was removed since the
// API accepted the registration: a refresh asked for while it was still
// pending can be handled first, and TMDB's 404 then removes it (in the
// write model and the log). Logged after that removal, the registration
// would bring the movie back in the projection alone. Nor is it logged
// once the movie has been registered again since (the removal, then a
// newer registration, both handled while this command waited: a dead
// letter requeued late, say): logged after them, it would give the
// projection its older registered_at, or not, by delivery order.
func (h *RegisterMovieHandler) Handle(ctx context.Context, cmd *commands.RegisterMovie) error {
	if cmd.TMDBID <= 0 {
		return messaging.PermanentError(fmt.Errorf("RegisterMovie %s: invalid tmdb_id %d", cmd.CommandID, cmd.TMDBID))
	}
	return h.uow.Once(ctx, "RegisterMovie", cmd.CommandID, cmd.CorrelationID, func(ctx context.Context, tx *eventlog.Tx) error {
		reg, err := registry.Lock(ctx, tx, cmd.TMDBID)
		switch {
		// The row's registered_at changes only when a removed movie is
		// registered again, to that registration's time (the command's,
		// stored to the microsecond, never above it): a later one means
		// this command's registration was superseded.
		case err == nil && (reg.Status == registry.StatusRemoved || reg.RegisteredAt.After(cmd.RequestedAt)):
			return nil // recorded as handled, nothing logged
		case err != nil && !errors.Is(err, registry.ErrNotFound):
			return err
		}
		_, err = tx.Append(ctx, events.MovieRegistered{TMDBID: cmd.TMDBID, RegisteredAt: cmd.RequestedAt.UTC()})
		return err
	})
}
