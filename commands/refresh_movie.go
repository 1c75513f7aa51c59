package commands

import (
	"time"

	"github.com/google/uuid"
)

// RefreshMovie asks to fetch a movie's TMDB facts again.
type RefreshMovie struct {
	CommandID     uuid.UUID `json:"command_id"`
	TMDBID        int64     `json:"tmdb_id"`
	RequestedAt   time.Time `json:"requested_at"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}
