package commands

import (
	"time"

	"github.com/google/uuid"
)

// View is one "someone viewed movie X".
type View struct {
	ViewID   uuid.UUID `json:"view_id"`
	TMDBID   int64     `json:"tmdb_id"`
	ViewedAt time.Time `json:"viewed_at"`
}

// RecordViews carries every view accepted in one API transaction (group
// commit): one message for many views keeps the broker and the handlers
// far below their per-message limits. Each view keeps its own id, so
// counting stays exact.
type RecordViews struct {
	CommandID     uuid.UUID `json:"command_id"`
	Views         []View    `json:"views"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}
