package commands

import (
	"time"

	"github.com/google/uuid"
)

// RegisterMovie asks to track a movie by its TMDB id.
type RegisterMovie struct {
	CommandID     uuid.UUID `json:"command_id"`
	TMDBID        int64     `json:"tmdb_id"`
	RequestedAt   time.Time `json:"requested_at"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}
