package events

import (
	"time"

	"github.com/google/uuid"
)

// TypeViewRecorded names ViewRecorded in the log.
const TypeViewRecorded = "ViewRecorded"

// ViewRecorded: someone viewed a movie. ViewID is unique in the log.
type ViewRecorded struct {
	ViewID   uuid.UUID `json:"view_id"`
	TMDBID   int64     `json:"tmdb_id"`
	ViewedAt time.Time `json:"viewed_at"`
}

func (ViewRecorded) EventType() string       { return TypeViewRecorded }
func (ViewRecorded) SchemaVersion() int      { return 1 }
func (e ViewRecorded) MovieID() int64        { return e.TMDBID }
func (e ViewRecorded) OccurredAt() time.Time { return e.ViewedAt }
func (e ViewRecorded) DedupKey() uuid.UUID   { return e.ViewID }
