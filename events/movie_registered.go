package events

import "time"

// TypeMovieRegistered names MovieRegistered in the log.
const TypeMovieRegistered = "MovieRegistered"

// MovieRegistered: a movie was registered for tracking.
type MovieRegistered struct {
	TMDBID       int64     `json:"tmdb_id"`
	RegisteredAt time.Time `json:"registered_at"`
}

func (MovieRegistered) EventType() string       { return TypeMovieRegistered }
func (MovieRegistered) SchemaVersion() int      { return 1 }
func (e MovieRegistered) MovieID() int64        { return e.TMDBID }
func (e MovieRegistered) OccurredAt() time.Time { return e.RegisteredAt }
